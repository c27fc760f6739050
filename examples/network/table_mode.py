"""Table mode against exact mode on the circuits of both network studies: the SONOS study's real
2T SONOS circuit (1152 x 256 tiles, differential, EKV select) at R_hat_p 1e-5 and 1e-4, and the
tiled-RRAM study's 256 x 64 1t1r tiles (2 ohm per cell on both lines, on/off 10, 8-bit ADC).

For each circuit: the digits CNN in exact, table and ideal mode on the first N test images;
  - layer: the 1152-row convolution (conv3) on the inputs it receives in the exact run (captured),
    in each mode: rms(table - exact) / rms(exact - ideal), the share of the circuit's deviation
    from ideal that table mode leaves;
  - network: accuracy in each mode and the images where table and exact mode disagree;
  - time: the forward pass of table mode over that of ideal mode (each run twice, interleaved,
    the faster of the two; tables built and tiles prepared before timing).

    PYTHONPATH=build/python /usr/bin/python3 examples/network/table_mode.py [--images N] [--only NAME] [--model PT]
        [--time-only [--repeats K]]

--time-only skips exact mode and the layer error: ideal and table mode only, timed K times each
(default 5), interleaved, the fastest kept.
"""
import argparse
import os
import time

import numpy as np
import torch

import rram_study
import sonos_study
import study
import xbar.nn as xnn

#: a small table per config, as the studies' table circuits: the table method needs its cell law; the samples
#: only set its domain
TABLE = rram_study.TABLE


def circuits():
    sonos = lambda r_hat_p: dict(sonos_study.configs("real", "differential", r_hat_p, False, 1)[0], table=TABLE)
    return {"sonos 1152x256, R_hat_p 1e-5": sonos(1e-5),
            "sonos 1152x256, R_hat_p 1e-4": sonos(1e-4),
            "rram 256x64, 2 ohm/cell": rram_study.config(2.0, 0.0, 1, "table")}


def converted(model, config, mode, calibration):
    analog = xnn.convert(model, config, mode=mode)
    xnn.calibrate(analog, calibration)
    return analog


def timed(analog, images):
    start = time.perf_counter()
    with torch.no_grad():
        out = analog(images)
    return out, time.perf_counter() - start


def planes_sum(layer, currents):
    """sum_b 2^b y^(b) [n, out] from a layer's physical column currents per row tile."""
    y = sum(layer.signed(c) for c in currents.values())
    return torch.from_numpy(np.tensordot(2.0 ** np.arange(y.shape[0]), y, axes=(0, 0)))


def report(what, ideal, table, exact):
    rms = lambda v: float(v.pow(2).mean().sqrt())  # noqa: E731
    scale, deviation, left = rms(ideal), rms(exact - ideal), rms(table - exact)
    print(f"conv3 (1152 rows), {what}: rms(exact - ideal) = {deviation / scale:.4g}, rms(table - exact) = "
          f"{left / scale:.4g} of rms(ideal): table mode leaves {100 * left / deviation:.1f} % of the circuit's "
          f"deviation from ideal", flush=True)


def forward_times(models, images, repeats):
    """{mode: the fastest of repeats forward passes}, the modes interleaved; and the last logits."""
    times, logits = {mode: [] for mode in models}, {}
    for _ in range(repeats):
        for mode, analog in models.items():
            logits[mode], seconds = timed(analog, images)
            times[mode].append(seconds)
    return {mode: min(t) for mode, t in times.items()}, logits


def time_only(name, config, model, calibration, images, repeats):
    print(f"== {name}", flush=True)
    models = {mode: converted(model, config, mode, calibration) for mode in ("ideal", "table")}
    times, _ = forward_times(models, images, repeats)
    print(f"forward time: ideal {times['ideal']:.4f} s, table {times['table']:.4f} s "
          f"({times['table'] / times['ideal']:.2f}x); load {os.getloadavg()[0]:.1f}", flush=True)


def compare(name, config, model, calibration, images, labels):
    print(f"== {name}", flush=True)
    models = {mode: converted(model, config, mode, calibration) for mode in ("ideal", "table", "exact")}
    captured, currents = [], []
    exact_layer = models["exact"].conv3
    hook = exact_layer.register_forward_hook(lambda m, inputs, output: captured.append((inputs[0], output)))
    solve = exact_layer.column_currents
    exact_layer.column_currents = lambda vectors, mode: currents.append((vectors, solve(vectors, mode))) or currents[-1][1]
    logits_exact, exact_time = timed(models["exact"], images)
    hook.remove()
    del exact_layer.column_currents
    conv3_in, y_exact = captured[0]
    with torch.no_grad():
        y_ideal, y_table = models["ideal"].conv3(conv3_in), models["table"].conv3(conv3_in)
    report("layer output", y_ideal.double(), y_table.double(), y_exact.double())
    # the same before the ADC: sum_b 2^b y^(b), y^(b) summed over row tiles, from each mode's currents
    vectors, exact_currents = currents[-1]
    before_adc = {"exact": planes_sum(models["exact"].conv3, exact_currents)}
    for mode in ("ideal", "table"):
        before_adc[mode] = planes_sum(models[mode].conv3, models[mode].conv3.column_currents(vectors, mode))
    report("before the ADC", before_adc["ideal"], before_adc["table"], before_adc["exact"])
    times, logits = forward_times({mode: models[mode] for mode in ("ideal", "table")}, images, 2)
    logits["exact"] = logits_exact
    predicted = {mode: v.argmax(1).numpy() for mode, v in logits.items()}
    truth = labels.numpy()
    for mode in ("ideal", "table", "exact"):
        print(f"accuracy {mode:5s}: {100 * np.mean(predicted[mode] == truth):.1f} % ({len(truth)} images)")
    disagree = np.flatnonzero(predicted["table"] != predicted["exact"])
    logit_err = float((logits["table"] - logits["exact"]).double().pow(2).mean().sqrt()
                      / (logits["exact"] - logits["ideal"]).double().pow(2).mean().sqrt())
    print(f"table vs exact: {len(disagree)} image(s) decided differently {list(disagree)}; "
          f"logits rms(table - exact) / rms(exact - ideal) = {logit_err:.3g}")
    ideal_time, table_time = times["ideal"], times["table"]
    print(f"forward time: ideal {ideal_time:.3f} s, table {table_time:.3f} s ({table_time / ideal_time:.2f}x), "
          f"exact {exact_time:.1f} s; load {os.getloadavg()[0]:.1f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4, help="test images (default 4)")
    parser.add_argument("--model", default=study.DEFAULT_MODEL,
                        help=f"trained network: loaded if it exists, else trained and saved (default {study.DEFAULT_MODEL})")
    parser.add_argument("--only", help="run only the circuits whose name contains this")
    parser.add_argument("--time-only", action="store_true", help="only time ideal and table mode (no exact mode)")
    parser.add_argument("--repeats", type=int, default=5, help="forward passes per mode with --time-only (default 5)")
    args = parser.parse_args()
    model, train_set, test_set, accuracy, _, _ = study.trained_model(args.model)
    print(f"float accuracy {100 * accuracy:.1f} %", flush=True)
    images, labels = test_set[0][:args.images], test_set[1][:args.images]
    for name, config in circuits().items():
        if args.only is not None and args.only not in name:
            continue
        if args.time_only:
            time_only(name, config, model, train_set[0][:64], images, args.repeats)
        else:
            compare(name, config, model, train_set[0][:64], images, labels)


if __name__ == "__main__":
    main()
