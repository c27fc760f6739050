"""Tiled-RRAM network study: the digits CNN on 256 x 64 1t1r RRAM tiles (G_max = 1/33 kOhm,
on/off 10, 128 levels, EKV select FET, 8-bit inputs, 8-bit ADC per tile and bit plane,
differential mapping), programming error 0 to 8 % of G_max - G_min: accuracy with 2 ohm per cell
on both lines against the same tiles without line resistance.

    PYTHONPATH=build/python /usr/bin/python3 examples/network/rram_study.py [--quick] [-o OUT]

Writes OUT/results.json, OUT/table.md and OUT/accuracy_vs_error.png (write-up:
examples/network/rram_study.md).
"""
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import study  # noqa: E402


def config(r_wire, g_sigma, seed):
    c = {"array": {"rows": 256, "cols": 64, "cell": "1t1r", "r_row": r_wire, "r_col": r_wire},
         "bias": {"v_read": 0.1},
         "resistor": {"g_max": 1 / 33e3, "on_off": 10, "levels": 128},
         "mapping": {"scheme": "differential"},
         "network": {"input_bits": 8, "adc_bits": 8}}
    if g_sigma > 0:
        c["variation"] = {"g_sigma": g_sigma, "seed": seed}
    return c


def main():
    args = study.arguments(__doc__.splitlines()[0], "rram_study_out")
    os.makedirs(args.out, exist_ok=True)
    if args.quick:
        sigmas, images, draws = [0.0, 0.04, 0.08], 10, 1
    else:
        sigmas, images, draws = [0.0, 0.02, 0.04, 0.06, 0.08], 100, 5
    images = args.images or images
    draws = args.draws or draws
    model, train_set, test_set, float_accuracy, train_time = study.trained_model(args.out)
    calibration = train_set[0][:64]
    x, y = test_set[0][:images], test_set[1][:images]
    meta = dict(study="rram", quick=args.quick, float_accuracy=float_accuracy, train_seconds=train_time,
                test_images=len(test_set[1]), exact_images=images, draws=draws)
    print(f"float accuracy {100 * float_accuracy:.1f} % on {len(test_set[1])} test images", flush=True)
    runs = study.Runs(args.out, meta)
    for sigma in sigmas:
        n = draws if sigma > 0 else 1
        runs.run(dict(lines="ideal mode", g_sigma=sigma), model,
                 [config(0.0, sigma, s) for s in range(1, n + 1)], "ideal", calibration, x, y)
        for label, r_wire in (("no line R", 0.0), ("2 ohm/cell", 2.0)):
            runs.run(dict(lines=label, g_sigma=sigma), model,
                     [config(r_wire, sigma, s) for s in range(1, n + 1)], "exact", calibration, x, y)
    table = study.markdown_table(runs.rows, ["lines", "g_sigma", "images", "draws", "accuracy", "seconds"],
                                 ["circuit", "g_sigma (of G_max - G_min)", "images", "draws",
                                  "accuracy % [95 % interval]", "time s"])
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(f"float accuracy {100 * float_accuracy:.1f} % on {len(test_set[1])} test images; analog runs on the "
                f"first {images} test images\n\n{table}\n")
    print(table)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, colour in (("ideal mode", "grey"), ("no line R", "tab:blue"), ("2 ohm/cell", "tab:red")):
        pts = [r for r in runs.rows if r["lines"] == label]
        s = np.array([100 * r["g_sigma"] for r in pts])
        acc = np.array([[r["accuracy"], r["low"], r["high"]] for r in pts]) * 100
        ax.errorbar(s, acc[:, 0], yerr=[acc[:, 0] - acc[:, 1], acc[:, 2] - acc[:, 0]], fmt="-o", color=colour,
                    capsize=3, label=label)
    ax.axhline(100 * float_accuracy, color="black", lw=0.8, ls=":", label="float (all test images)")
    ax.set_xlabel("programming error sigma, % of G_max - G_min")
    ax.set_ylabel(f"accuracy % (first {images} test images)")
    ax.set_title("digits CNN on 256x64 1t1r RRAM tiles, 8-bit ADC")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "accuracy_vs_error.png"), dpi=110)


if __name__ == "__main__":
    main()
