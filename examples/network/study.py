"""What both network studies share: the command line, the trained network (cached), the runs
(one per circuit, mapping, R_hat_p or error, and programming draw), and the result files.

A run converts the trained model with one config, calibrates it on 64 training images (ideal
mode: x_max and the ADC range), and classifies the study's test images. Results are written
after every run to OUT/results.json, so an interrupted study keeps what it finished.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import digits


def arguments(description, default_out):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the quick variant (a few minutes on 2 cores)")
    parser.add_argument("-o", "--out", default=default_out, help=f"output folder (default {default_out})")
    parser.add_argument("--images", type=int, help="test images for the exact circuits (default: by variant)")
    parser.add_argument("--draws", type=int, help="programming draws (default: by variant)")
    return parser.parse_args()


def trained_model(out):
    """The digits CNN, trained once and cached in OUT/digits_cnn.pt; its float test accuracy."""
    torch.set_num_threads(2)
    train_set, test_set = digits.load_data()
    path = os.path.join(out, "digits_cnn.pt")
    model = digits.DigitsCNN()
    if os.path.exists(path):
        model.load_state_dict(torch.load(path))
        model.eval()
        train_time = None
    else:
        model, train_time = digits.train(train_set)
        torch.save(model.state_dict(), path)
    accuracy = float((digits.predictions(model, test_set[0]) == test_set[1].numpy()).mean())
    return model, train_set, test_set, accuracy, train_time


class Runs:
    """Runs keyed by a tuple of labels; each one's per-image correctness [draws, images]."""

    def __init__(self, out, meta):
        self.out, self.meta, self.rows = out, meta, []
        self.start = time.time()

    def run(self, labels, model, configs, mode, calibration, images, labels_true):
        """configs: one config per programming draw (one for a run without error)."""
        right, seconds = [], 0.0
        for config in configs:
            r, t = digits.analog_correct(model, config, mode, calibration, images, labels_true)
            right.append(r)
            seconds += t
        right = np.array(right)
        stats = digits.interval(right)
        row = dict(labels, mode=mode, images=int(right.shape[1]), draws=int(right.shape[0]),
                   accuracy=stats[0], low=stats[1], high=stats[2], seconds=seconds)
        self.rows.append(row)
        print(f"{json.dumps(labels)}: {digits.percent(stats)} % ({right.shape[0]} draw(s) x {right.shape[1]} "
              f"images, {seconds:.0f} s; {time.time() - self.start:.0f} s so far)", flush=True)
        self.save()
        return row

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(dict(self.meta, runs=self.rows, total_seconds=time.time() - self.start), f, indent=1)


def markdown_table(rows, columns, header):
    """A markdown table of rows (dicts) with the given columns, accuracy as 'mean [low, high]'."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [digits.percent((row["accuracy"], row["low"], row["high"])) if c == "accuracy"
                 else f"{row[c]:.0f}" if c == "seconds" else str(row[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
