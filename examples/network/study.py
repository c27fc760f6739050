"""What both network studies share: the command line, the trained network (cached), the runs
(one per circuit, mapping, R_hat_p or error, and programming draw), and the result files.

A run converts the trained model with one config per programming draw, calibrates it on 64
training images (ideal mode: x_max and the ADC range), and classifies the run's test images. Each
finished run is written at once to OUT/results.json (and its logits to OUT/logits.npz), and a
run already there is not repeated: an interrupted study continues where it stopped, and the
quick variant reuses what an earlier run in the same folder computed.

Besides the accuracy, every run is compared with a reference run on the same images and draws
(ideal hardware for a circuit, the float network for ideal hardware): the number of decisions
that differ, and the RMS deviation of the logits relative to the reference's RMS logit. These
are paired measures: they show what the circuit changes even where a few images cannot resolve
an accuracy difference.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import digits

DEFAULT_MODEL = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "xbar",
                             "digits_cnn.pt")


def arguments(description, default_out, points, points_help):
    """The command line; points: the name of the study's swept quantity (an option that
    replaces the variant's list)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{points.replace('_', '-')}", dest=points, type=float, nargs="+",
                        help=f"{points_help} (default: by variant)")
    parser.add_argument("--quick", action="store_true", help="the quick variant (a few minutes on 2 cores)")
    parser.add_argument("-o", "--out", default=default_out, help=f"output folder (default {default_out})")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"trained network: loaded if it exists, else trained and saved (default {DEFAULT_MODEL})")
    parser.add_argument("--images", type=int, help="test images for the exact circuits (default: by variant)")
    parser.add_argument("--draws", type=int, help="programming draws in ideal mode (default: by variant)")
    parser.add_argument("--exact-draws", type=int, help="programming draws of the exact circuits (default: by variant)")
    return parser.parse_args()


def trained_model(path):
    """The digits CNN, trained once and cached at path; its float test accuracy and logits."""
    torch.set_num_threads(2)
    train_set, test_set = digits.load_data()
    model = digits.DigitsCNN()
    if os.path.exists(path):
        model.load_state_dict(torch.load(path))
        model.eval()
        train_time = None
    else:
        model, train_time = digits.train(train_set)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(model.state_dict(), path)
    logits = digits.logits(model, test_set[0])
    accuracy = float((logits.argmax(1) == test_set[1].numpy()).mean())
    return model, train_set, test_set, accuracy, train_time, logits


def key_of(labels):
    return json.dumps(labels, sort_keys=True)


class Runs:
    """Runs keyed by their labels; each one's per-image correctness and logits [draws, images, ...]."""

    def __init__(self, out, meta):
        self.out, self.meta, self.rows, self.logits = out, meta, [], {}
        self.start = time.time()
        path = os.path.join(out, "results.json")
        if os.path.exists(path) and os.path.exists(os.path.join(out, "logits.npz")):
            with open(path) as f:
                self.rows = json.load(f)["runs"]
            with np.load(os.path.join(out, "logits.npz")) as saved:
                self.logits = {k: saved[k] for k in saved.files}
            self.rows = [r for r in self.rows if key_of(r["labels"]) in self.logits]

    def find(self, labels):
        return next((r for r in self.rows if r["labels"] == labels), None)

    def run(self, labels, model, configs, mode, calibration, images, labels_true):
        """configs: one config per programming draw (one for a run without error). A run with
        these labels, images and draws already in OUT is returned as it is."""
        labels = dict(labels, mode=mode, images=len(labels_true), draws=len(configs))
        done = self.find(labels)
        if done is not None:
            return done
        logits, seconds = [], 0.0
        for config in configs:
            out, t = digits.analog_logits(model, config, mode, calibration, images)
            logits.append(out)
            seconds += t
        return self.record(labels, np.array(logits), labels_true, seconds)

    def subset(self, labels, source, count, labels_true):
        """The run of source on its first count images (ideal mode: each image's logits do not
        depend on the others'), taken from its logits without solving anything again."""
        labels = dict(labels, mode=source["labels"]["mode"], images=count, draws=source["labels"]["draws"])
        done = self.find(labels)
        if done is not None:
            return done
        return self.record(labels, self.logits[key_of(source["labels"])][:, :count], labels_true[:count], 0.0)

    def record(self, labels, logits, labels_true, seconds):
        right = logits.argmax(2) == labels_true.numpy()[None]
        stats = digits.interval(right)
        row = dict(labels=labels, accuracy=stats[0], low=stats[1], high=stats[2], seconds=seconds,
                   load=os.getloadavg()[0])
        self.rows.append(row)
        self.logits[key_of(labels)] = logits.astype(np.float32)
        print(f"{json.dumps(labels)}: {digits.percent(stats)} % ({right.shape[0]} draw(s) x {right.shape[1]} "
              f"images, {seconds:.0f} s, load {row['load']:.1f}; {time.time() - self.start:.0f} s so far)", flush=True)
        self.save()
        return row

    def compare(self, row, reference):
        """Decisions that differ from the reference (a run's row, or logits [images, classes]
        of the float network) on the same images and draws, and the RMS logit deviation relative
        to the reference's RMS logit: (changed, decisions, deviation), or None without the
        reference."""
        mine = self.logits[key_of(row["labels"])]
        if reference is None:
            return None
        if isinstance(reference, dict):
            ref = self.logits[key_of(reference["labels"])]
            if ref.shape[0] < mine.shape[0] or ref.shape[1] != mine.shape[1]:
                return None
            ref = ref[:mine.shape[0]]  # the same seeds 1..draws
        else:
            ref = np.broadcast_to(reference[:mine.shape[1]], mine.shape)
        changed = int((mine.argmax(2) != ref.argmax(2)).sum())
        deviation = float(np.sqrt(np.mean((mine - ref) ** 2)) / np.sqrt(np.mean(ref ** 2)))
        return changed, mine.shape[0] * mine.shape[1], deviation

    def save(self):
        # written to temporary files first: an interrupted save leaves the previous results whole
        path = os.path.join(self.out, "results.json")
        with open(path + ".tmp", "w") as f:
            json.dump(dict(self.meta, runs=self.rows, total_seconds=sum(r["seconds"] for r in self.rows)), f, indent=1)
        np.savez(os.path.join(self.out, "logits.tmp.npz"), **self.logits)
        os.replace(os.path.join(self.out, "logits.tmp.npz"), os.path.join(self.out, "logits.npz"))
        os.replace(path + ".tmp", path)


def markdown_table(rows, columns, header):
    """A markdown table of rows (dicts) with the given columns; accuracy as 'mean [low, high]',
    the comparison with the reference as 'changed/decisions, deviation %'."""
    def cell(row, c):
        if c == "accuracy":
            return digits.percent((row["accuracy"], row["low"], row["high"]))
        if c == "seconds":
            return f"{row[c]:.0f}"
        if c == "load":
            return f"{row[c]:.1f}"
        if c == "versus":
            if row.get("versus") is None:
                return "-"
            changed, total, deviation = row["versus"]
            return f"{changed}/{total}, {100 * deviation:.2g} %"
        return str(row[c])

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row, c) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def errorbar(ax, x, rows, **style):
    """Accuracy (%) of rows against x with the 95 % interval as error bars."""
    acc = np.array([[r["accuracy"], r["low"], r["high"]] for r in rows]).reshape(-1, 3) * 100
    ax.errorbar(x, acc[:, 0], yerr=[acc[:, 0] - acc[:, 1], acc[:, 2] - acc[:, 0]], capsize=3, **style)


def deviation(ax, x, rows, runs, reference_of, style, colour, label):
    """The RMS logit deviation (%) of rows from their references against x, where known."""
    points = [(xi, runs.compare(r, reference_of(r))) for xi, r in zip(x, rows)]
    points = [(xi, 100 * c[2]) for xi, c in points if c is not None]
    if points:
        ax.plot(*zip(*points), style, color=colour, label=label)
