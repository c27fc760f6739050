"""SONOS network study: digit-classification accuracy of a small CNN on SONOS crossbars against
R_hat_p, for ideal hardware (8-bit inputs and 128 weight levels only), the seed paper's
approximate circuit (1t1r, ideal select switch, linear resistor G_k = I_k / v_read), the real
2T SONOS circuit, and the real circuit through an effective-weight table (table mode), with and without SONOS programming error (the measured fit), with differential
and offset mapping. Arrays of 1152 x 256: the 3x3x128 -> 128 convolution is one array per tile.

    PYTHONPATH=build/python /usr/bin/python3 examples/network/sonos_study.py [--quick] [-o OUT]

Writes OUT/results.json, OUT/logits.npz, OUT/table.md and OUT/accuracy_vs_r_hat_p.png after
every run (write-up: examples/network/sonos_study.md). Runs already in OUT are not repeated.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import study  # noqa: E402

CIRCUITS = {
    # name: (cell and select, programming-error key, mode); R_hat_p enters every mode but "ideal"
    "ideal": ({"array.cell": "2t-sonos"}, "vt_sigma", "ideal"),
    "approx": ({"array.cell": "1t1r", "select.model": "ideal"}, "g_sigma", "exact"),
    "real": ({"array.cell": "2t-sonos", "select.model": "ekv"}, "vt_sigma", "exact"),
    # the real circuit through an effective-weight table (docs/tables.md), built once per config
    "table": ({"array.cell": "2t-sonos", "select.model": "ekv", "table.samples": 2, "table.vectors": 4},
              "vt_sigma", "table"),
}

VARIANTS = {
    # R_hat_p in the order run (the paper's 1e-5 first), mappings, exact-mode test images,
    # programming draws in ideal mode and in the circuits, ideal mode on all test images too
    "quick": dict(r_hat_ps=[1e-5], schemes=["differential"], images=2, draws=1, exact_draws=1, ideal_all=False),
    "full": dict(r_hat_ps=[1e-5, 1e-3, 1e-4, 1e-6, 1e-7], schemes=["differential", "offset"], images=50,
                 draws=10, exact_draws=10, ideal_all=True),
}


def base_config(scheme, r_hat_p):
    return {"array": {"rows": 1152, "cols": 256, "r_hat_p": r_hat_p},
            "bias": {"v_read": 0.1},
            "sonos": {"i_max": 1.6e-6, "on_off": 1e7, "levels": 128},
            "resistor": {"g_max": 1.6e-5, "on_off": 1e7, "levels": 128},  # I_k / v_read
            "mapping": {"scheme": scheme},
            "network": {"input_bits": 8, "adc_bits": 0}}


def configs(circuit, scheme, r_hat_p, error, draws):
    """One config per programming draw (seeds 1..draws), or one without error."""
    settings, error_key, _ = CIRCUITS[circuit]
    one = base_config(scheme, r_hat_p)
    for key, value in settings.items():
        section, name = key.split(".")
        one.setdefault(section, {})[name] = value
    if not error:
        return [one]
    return [dict(one, variation={error_key: "sonos-fit", "seed": seed}) for seed in range(1, draws + 1)]


def main():
    args = study.arguments(__doc__.split("\n\n")[0], "sonos_study_out", "r_hat_ps", "R_hat_p values, in the order run")
    os.makedirs(args.out, exist_ok=True)
    v = dict(VARIANTS["quick" if args.quick else "full"])
    v.update({k: getattr(args, k) for k in ("images", "draws", "exact_draws", "r_hat_ps") if getattr(args, k)})
    model, train_set, test_set, float_accuracy, train_time, float_logits = study.trained_model(args.model)
    calibration = train_set[0][:64]
    all_images, all_labels = test_set
    subset = all_images[:v["images"]], all_labels[:v["images"]]
    meta = dict(study="sonos", variant=v, float_accuracy=float_accuracy, train_seconds=train_time,
                test_images=len(all_labels))
    print(f"float accuracy {100 * float_accuracy:.1f} % on {len(all_labels)} test images"
          + (f" (trained in {train_time:.0f} s)" if train_time else f" (model {args.model})"), flush=True)
    runs = study.Runs(args.out, meta)

    def run(circuit, scheme, error, r_hat_p, images_used, data, mode=None):
        mode = mode or CIRCUITS[circuit][2]
        draws = v["draws"] if mode == "ideal" else v["exact_draws"]
        labels = dict(circuit=circuit, scheme=scheme, error=error, r_hat_p=r_hat_p, images_used=images_used)
        row = runs.run(labels, model, configs(circuit, scheme, r_hat_p or 1e-7, error, draws), mode, calibration,
                       *data)
        write_outputs(args.out, runs, meta, float_logits)
        return row

    for scheme in v["schemes"]:
        for error in (False, True):
            for circuit, (_, _, mode) in CIRCUITS.items():
                if mode == "ideal" and v["ideal_all"]:  # one run on all test images; the circuits' are the first
                    whole = run(circuit, scheme, error, None, "all", test_set)
                    runs.subset(dict(whole["labels"], images_used="exact subset"), whole, v["images"], all_labels)
                elif mode == "ideal":
                    run(circuit, scheme, error, None, "exact subset", subset)
            for circuit, (settings, _, mode) in CIRCUITS.items():
                if error and mode != "ideal" and settings["array.cell"] != CIRCUITS["ideal"][0]["array.cell"]:
                    # another cell kind draws its own error: its reference is its own ideal mode
                    run(circuit, scheme, error, None, "exact subset", subset, mode="ideal")
            for r_hat_p in v["r_hat_ps"]:
                for circuit, (_, _, mode) in CIRCUITS.items():
                    if mode != "ideal":
                        run(circuit, scheme, error, r_hat_p, "exact subset", subset)


def reference(runs, row, float_logits):
    """What a run is compared with on the same images, mapping, error and draws: for a circuit,
    its own cells in ideal mode where those were run (a resistor's error draw is not a SONOS
    cell's), else ideal hardware; for ideal hardware the float network."""
    labels = row["labels"]
    if labels["mode"] == "ideal":
        return float_logits

    def find(circuit):
        return next((r for r in runs.rows if r["labels"]["circuit"] == circuit and r["labels"]["mode"] == "ideal"
                     and all(r["labels"][k] == labels[k] for k in ("scheme", "error", "images", "images_used"))), None)

    return find(labels["circuit"]) or find("ideal")


def write_outputs(out, runs, meta, float_logits):
    order = list(CIRCUITS)
    rows = sorted(runs.rows, key=lambda r: (r["labels"]["scheme"], r["labels"]["error"], r["labels"]["images_used"],
                                            r["labels"]["r_hat_p"] or 0, r["labels"]["mode"] != "ideal",
                                            order.index(r["labels"]["circuit"])))
    table_rows = [dict(r["labels"], accuracy=r["accuracy"], low=r["low"], high=r["high"], seconds=r["seconds"],
                       load=r["load"], versus=runs.compare(r, reference(runs, r, float_logits)),
                       error="sonos-fit" if r["labels"]["error"] else "none",
                       r_hat_p="-" if r["labels"]["r_hat_p"] is None else f"{r['labels']['r_hat_p']:g}")
                  for r in rows]
    table = study.markdown_table(
        table_rows, ["circuit", "mode", "scheme", "error", "r_hat_p", "images", "draws", "accuracy", "versus", "seconds",
                     "load"],
        ["circuit", "mode", "mapping", "programming error", "R_hat_p", "images", "draws", "accuracy % [95 % interval]",
         "changed decisions, logit deviation (vs reference)", "time s", "load"])
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"Float accuracy {100 * meta['float_accuracy']:.1f} % on {meta['test_images']} test images; "
                f"circuits on the first {meta['variant']['images']} test images; reference: the circuit's own cells "
                f"in ideal mode where run (the approximation's error draws are its own), else ideal hardware, on the same "
                f"images, mapping, error and draws (for ideal mode: the float network); "
                f"{sum(r['seconds'] for r in rows):.0f} s of runs.\n\n{table}\n")
    schemes = [s for s in ("differential", "offset") if any(r["labels"]["scheme"] == s for r in rows)]
    fig, axes = plt.subplots(2, len(schemes), figsize=(6 * len(schemes), 7.5), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, low, scheme in zip(axes[0], axes[1], schemes):
        for colour, (circuit, (_, _, mode)) in zip(colours, CIRCUITS.items()):
            for error, style in ((False, "-o"), (True, "--s")):
                pts = [r for r in rows if r["labels"]["circuit"] == circuit and r["labels"]["scheme"] == scheme
                       and r["labels"]["error"] == error and r["labels"]["images_used"] == "exact subset"
                       and r["labels"]["mode"] == mode]
                name = f"{circuit}{', programming error' if error else ''}"
                if not pts:
                    continue
                if mode == "ideal":
                    ax.axhline(100 * pts[0]["accuracy"], color=colour, ls="--" if error else "-", lw=1, label=name)
                else:
                    study.errorbar(ax, [r["labels"]["r_hat_p"] for r in pts], pts, fmt=style, color=colour, label=name)
                    study.deviation(low, [r["labels"]["r_hat_p"] for r in pts], pts, runs,
                                    lambda r: reference(runs, r, float_logits), style, colour, name)
        ax.axhline(100 * meta["float_accuracy"], color="black", lw=0.8, ls=":", label="float (all test images)")
        ax.set_xscale("log")
        ax.set_xlabel("R_hat_p = R_p G_max")
        ax.set_ylabel(f"accuracy % (first {meta['variant']['images']} test images)")
        ax.set_title(f"digits CNN on 1152x256 SONOS arrays, {scheme}")
        ax.legend(fontsize=7)
        low.set_xscale("log")
        low.set_xlabel("R_hat_p = R_p G_max")
        low.set_ylabel("RMS logit deviation from ideal hardware, %")
        low.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_r_hat_p.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
