"""Tiled-RRAM network study: the digits CNN on 256 x 64 1t1r RRAM tiles (G_max = 1/33 kOhm,
on/off 10, 128 levels, EKV select FET, 8-bit inputs, 8-bit ADC per tile and bit plane,
differential mapping), programming error 0 to 8 % of G_max - G_min: accuracy with 2 ohm per cell
on both lines against the same tiles without line resistance, and the 2-ohm circuit through an
effective-weight table (table mode) against its exact run.

    PYTHONPATH=build/python /usr/bin/python3 examples/network/rram_study.py [--quick] [-o OUT]

Writes OUT/results.json, OUT/logits.npz, OUT/table.md and OUT/accuracy_vs_error.png after every
run (write-up: examples/network/rram_study.md). Runs already in OUT are not repeated.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import study  # noqa: E402

CIRCUITS = {
    # name: (line resistance per cell on rows and columns, ohm; mode; the run it is compared with)
    "ideal mode": (0.0, "ideal", None),
    "no line R": (0.0, "exact", "ideal mode"),
    "2 ohm/cell": (2.0, "exact", "no line R"),
    # the same circuit through an effective-weight table (docs/tables.md), compared with its exact run
    "table": (2.0, "table", "2 ohm/cell"),
}

#: the table of table mode, built once per config: the method needs the cell law, the samples set its domain
TABLE = {"samples": 2, "vectors": 4}

VARIANTS = {
    # programming error sigmas in the order run, exact-mode test images, programming draws in
    # ideal mode and in the circuits, ideal mode on all test images too
    "quick": dict(sigmas=[0.0, 0.08], images=1, draws=1, exact_draws=1, ideal_all=False),
    "full": dict(sigmas=[0.0, 0.08, 0.04, 0.02, 0.06], images=100, draws=10, exact_draws=5, ideal_all=True),
}


def config(r_wire, g_sigma, seed, mode="exact"):
    c = {"array": {"rows": 256, "cols": 64, "cell": "1t1r", "r_row": r_wire, "r_col": r_wire},
         "bias": {"v_read": 0.1},
         "resistor": {"g_max": 1 / 33e3, "on_off": 10, "levels": 128},
         "mapping": {"scheme": "differential"},
         "network": {"input_bits": 8, "adc_bits": 8}}
    if g_sigma > 0:
        c["variation"] = {"g_sigma": g_sigma, "seed": seed}
    if mode == "table":
        c["table"] = dict(TABLE)
    return c


def main():
    args = study.arguments(__doc__.split("\n\n")[0], "rram_study_out", "sigmas",
                           "programming error sigmas (fraction of G_max - G_min), in the order run")
    os.makedirs(args.out, exist_ok=True)
    v = dict(VARIANTS["quick" if args.quick else "full"])
    v.update({k: getattr(args, k) for k in ("images", "draws", "exact_draws", "sigmas") if getattr(args, k)})
    model, train_set, test_set, float_accuracy, train_time, float_logits = study.trained_model(args.model)
    calibration = train_set[0][:64]
    subset = test_set[0][:v["images"]], test_set[1][:v["images"]]
    meta = dict(study="rram", variant=v, float_accuracy=float_accuracy, train_seconds=train_time,
                test_images=len(test_set[1]))
    print(f"float accuracy {100 * float_accuracy:.1f} % on {len(test_set[1])} test images"
          + (f" (trained in {train_time:.0f} s)" if train_time else f" (model {args.model})"), flush=True)
    runs = study.Runs(args.out, meta)

    def run(circuit, sigma, images_used, data):
        r_wire, mode, _ = CIRCUITS[circuit]
        draws = (v["draws"] if mode == "ideal" else v["exact_draws"]) if sigma > 0 else 1
        row = runs.run(dict(circuit=circuit, g_sigma=sigma, images_used=images_used), model,
                       [config(r_wire, sigma, seed, mode) for seed in range(1, draws + 1)], mode, calibration, *data)
        write_outputs(args.out, runs, meta, float_logits)
        return row

    for sigma in v["sigmas"]:
        for circuit, (_, mode, _) in CIRCUITS.items():
            if mode == "ideal" and v["ideal_all"]:  # one run on all test images; the circuits' are the first
                whole = run(circuit, sigma, "all", test_set)
                runs.subset(dict(whole["labels"], images_used="exact subset"), whole, v["images"], test_set[1])
            elif mode == "ideal":
                run(circuit, sigma, "exact subset", subset)
            else:
                run(circuit, sigma, "exact subset", subset)


def reference(runs, row, float_logits):
    """The run a circuit is compared with (CIRCUITS) on the same images and error; the float
    network for ideal mode."""
    labels = row["labels"]
    name = CIRCUITS[labels["circuit"]][2]
    if name is None:
        return float_logits
    return next((r for r in runs.rows if r["labels"]["circuit"] == name and
                 all(r["labels"][k] == labels[k] for k in ("g_sigma", "images_used", "images"))), None)


def write_outputs(out, runs, meta, float_logits):
    order = list(CIRCUITS)
    rows = sorted(runs.rows, key=lambda r: (r["labels"]["images_used"], r["labels"]["g_sigma"],
                                            order.index(r["labels"]["circuit"])))
    table_rows = [dict(r["labels"], accuracy=r["accuracy"], low=r["low"], high=r["high"], seconds=r["seconds"],
                       load=r["load"], versus=runs.compare(r, reference(runs, r, float_logits)),
                       reference=CIRCUITS[r["labels"]["circuit"]][2] or "float") for r in rows]
    table = study.markdown_table(
        table_rows, ["circuit", "g_sigma", "images", "draws", "accuracy", "reference", "versus", "seconds", "load"],
        ["circuit", "g_sigma (of G_max - G_min)", "images", "draws", "accuracy % [95 % interval]", "reference",
         "changed decisions, logit deviation (vs reference)", "time s", "load"])
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"Float accuracy {100 * meta['float_accuracy']:.1f} % on {meta['test_images']} test images; "
                f"circuits on the first {meta['variant']['images']} test images; "
                f"{sum(r['seconds'] for r in rows):.0f} s of runs.\n\n{table}\n")
    fig, (ax, low) = plt.subplots(2, 1, figsize=(6, 7.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, circuit in zip(colours, CIRCUITS):
        pts = [r for r in rows if r["labels"]["circuit"] == circuit and r["labels"]["images_used"] == "exact subset"]
        if pts:
            x = [100 * r["labels"]["g_sigma"] for r in pts]
            study.errorbar(ax, x, pts, fmt="-o", color=colour, label=circuit)
            study.deviation(low, x, pts, runs, lambda r: reference(runs, r, float_logits), "-o", colour,
                            f"{circuit} vs {CIRCUITS[circuit][2] or 'float'}")
    low.set_xlabel("programming error sigma, % of G_max - G_min")
    low.set_ylabel("RMS logit deviation from the reference, %")
    low.legend(fontsize=8)
    ax.axhline(100 * meta["float_accuracy"], color="black", lw=0.8, ls=":", label="float (all test images)")
    ax.set_xlabel("programming error sigma, % of G_max - G_min")
    ax.set_ylabel(f"accuracy % (first {meta['variant']['images']} test images)")
    ax.set_title("digits CNN on 256x64 1t1r RRAM tiles, 8-bit ADC")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_error.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
