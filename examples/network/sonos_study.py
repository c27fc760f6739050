"""SONOS network study: digit-classification accuracy of a small CNN on SONOS crossbars against
R_hat_p, for ideal hardware (8-bit inputs and 128 weight levels only), the seed paper's
approximate circuit (1t1r, ideal select switch, linear resistor G_k = I_k / v_read), the real
2T SONOS circuit, and the real circuit through an effective-weight table (table mode), with and
without SONOS programming error (the measured fit), with differential and offset mapping. Arrays of 1152 x 256: the 3x3x128 -> 128 convolution is one array per tile.

    PYTHONPATH=build/python /usr/bin/python3 examples/network/sonos_study.py [--quick] [-o OUT]

Writes OUT/results.json, OUT/table.md and OUT/accuracy_vs_r_hat_p.png (write-up:
examples/network/sonos_study.md).
"""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import study  # noqa: E402

CIRCUITS = {
    # name: (cell and select, programming-error key, mode)
    "ideal": ({"array.cell": "2t-sonos"}, "variation.vt_sigma", "ideal"),
    "approx": ({"array.cell": "1t1r", "select.model": "ideal"}, "variation.g_sigma", "exact"),
    "real": ({"array.cell": "2t-sonos", "select.model": "ekv"}, "variation.vt_sigma", "exact"),
    # the real circuit through an effective-weight table (docs/tables.md), built once per config
    "table": ({"array.cell": "2t-sonos", "select.model": "ekv", "table.samples": 2, "table.vectors": 4},
              "variation.vt_sigma", "table"),
}


def base_config(scheme, r_hat_p):
    return {"array": {"rows": 1152, "cols": 256, "r_hat_p": r_hat_p},
            "bias": {"v_read": 0.1},
            "sonos": {"i_max": 1.6e-6, "on_off": 1e7, "levels": 128},
            "resistor": {"g_max": 1.6e-5, "on_off": 1e7, "levels": 128},  # I_k / v_read
            "mapping": {"scheme": scheme},
            "network": {"input_bits": 8, "adc_bits": 0}}


def configs(circuit, scheme, r_hat_p, error, draws):
    settings, error_key, _ = CIRCUITS[circuit]
    one = base_config(scheme, r_hat_p)
    for key, value in settings.items():
        section, name = key.split(".")
        one.setdefault(section, {})[name] = value
    if not error:
        return [one]
    out = []
    for seed in range(1, draws + 1):
        drawn = {k: dict(v) for k, v in one.items()}
        drawn["variation"] = {error_key.split(".")[1]: "sonos-fit", "seed": seed}
        out.append(drawn)
    return out


def main():
    args = study.arguments(__doc__.splitlines()[0], "sonos_study_out")
    os.makedirs(args.out, exist_ok=True)
    if args.quick:
        r_hat_ps, schemes, images, draws = [1e-5, 1e-3], ["differential"], 10, 2
    else:
        r_hat_ps, schemes, images, draws = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3], ["differential", "offset"], 50, 10
    images = args.images or images
    draws = args.draws or draws
    model, train_set, test_set, float_accuracy, train_time = study.trained_model(args.out)
    calibration = train_set[0][:64]
    all_images, all_labels = test_set
    exact_images, exact_labels = all_images[:images], all_labels[:images]
    meta = dict(study="sonos", quick=args.quick, float_accuracy=float_accuracy, train_seconds=train_time,
                test_images=len(all_labels), exact_images=images, draws=draws)
    print(f"float accuracy {100 * float_accuracy:.1f} % on {len(all_labels)} test images"
          + (f" (trained in {train_time:.0f} s)" if train_time else " (cached model)"), flush=True)
    runs = study.Runs(args.out, meta)
    for scheme in schemes:
        for error in (False, True):
            # ideal hardware: no wires, so one point per mapping and error; all test images,
            # and the exact circuits' subset for a like-for-like comparison
            for subset, (x, y) in (("all", (all_images, all_labels)), ("exact subset", (exact_images, exact_labels))):
                runs.run(dict(circuit="ideal", scheme=scheme, error=error, r_hat_p=None, images_used=subset),
                         model, configs("ideal", scheme, 1e-7, error, draws), "ideal", calibration, x, y)
            for r_hat_p in r_hat_ps:
                for circuit in ("approx", "real", "table"):
                    runs.run(dict(circuit=circuit, scheme=scheme, error=error, r_hat_p=r_hat_p,
                                  images_used="exact subset"),
                             model, configs(circuit, scheme, r_hat_p, error, draws), CIRCUITS[circuit][2],
                             calibration, exact_images, exact_labels)
    write_outputs(args.out, runs, meta)


def write_outputs(out, runs, meta):
    rows = [dict(r, error="sonos-fit" if r["error"] else "none",
                 r_hat_p="-" if r["r_hat_p"] is None else f"{r['r_hat_p']:g}") for r in runs.rows]
    table = study.markdown_table(
        rows, ["circuit", "scheme", "error", "r_hat_p", "images", "draws", "accuracy", "seconds"],
        ["circuit", "mapping", "programming error", "R_hat_p", "images", "draws", "accuracy % [95 % interval]", "time s"])
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(f"float accuracy {100 * meta['float_accuracy']:.1f} % on {meta['test_images']} test images; "
                f"exact circuits on the first {meta['exact_images']} test images; "
                f"total {runs.rows and sum(r['seconds'] for r in runs.rows):.0f} s\n\n{table}\n")
    print(table)
    schemes = sorted({r["scheme"] for r in runs.rows})
    fig, axes = plt.subplots(1, len(schemes), figsize=(6 * len(schemes), 4.2), squeeze=False)
    for ax, scheme in zip(axes[0], schemes):
        for circuit, colour in (("approx", "tab:blue"), ("real", "tab:red"), ("table", "tab:green")):
            for error, style in ((False, "-o"), (True, "--s")):
                pts = [r for r in runs.rows if r["circuit"] == circuit and r["scheme"] == scheme and r["error"] == error]
                if not pts:
                    continue
                x = np.array([r["r_hat_p"] for r in pts])
                acc = np.array([[r["accuracy"], r["low"], r["high"]] for r in pts]) * 100
                ax.errorbar(x, acc[:, 0], yerr=[acc[:, 0] - acc[:, 1], acc[:, 2] - acc[:, 0]], fmt=style,
                            color=colour, capsize=3,
                            label=f"{circuit}{', programming error' if error else ''}")
        for r in runs.rows:
            if r["circuit"] == "ideal" and r["scheme"] == scheme and r["images_used"] == "exact subset":
                ax.axhline(100 * r["accuracy"], color="grey", ls="--" if r["error"] else "-", lw=1,
                           label=f"ideal hardware{', programming error' if r['error'] else ''}")
        ax.axhline(100 * meta["float_accuracy"], color="black", lw=0.8, ls=":", label="float (all test images)")
        ax.set_xscale("log")
        ax.set_xlabel("R_hat_p = R_p G_max")
        ax.set_ylabel(f"accuracy % (first {meta['exact_images']} test images)")
        ax.set_title(f"digits CNN on 1152x256 SONOS arrays, {scheme}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_vs_r_hat_p.png"), dpi=110)


if __name__ == "__main__":
    main()
