#!/usr/bin/python3
"""The tables of examples/seed_study.md, from the sweep file of examples/seed_study.toml.

    PYTHONPATH=build/python /usr/bin/python3 examples/seed_study_tables.py seed_study.h5 > tables.md

Errors in %; ratios are of the same metric at the same point otherwise.
"""
import sys

import numpy as np

from xbar import sweepfile  # noqa: E402  (PYTHONPATH=build/python)

METRICS = ["out_err_nrms", "out_err_gain_nrms", "col_err_rms"]
TARGET = 0.01  # the output error called small here: 1 % NRMS


class Seed:
    def __init__(self, path):
        self.sweep = sweepfile.load(path)
        s = self.sweep
        assert s.names == ["array.r_hat_p", "mapping.scheme", "inputs.activity", "circuit"], s.names
        self.r_hat_p = s.values["array.r_hat_p"]
        self.schemes, self.activities = s.values["mapping.scheme"], s.values["inputs.activity"]
        self.circuits = s.values["circuit"]

    def metric(self, name, scheme, activity, circuit):
        """The metric against R_hat_p at one scheme, activity and circuit."""
        s = self.sweep
        return s.points[name][:, self.schemes.index(scheme), list(self.activities).index(activity),
                              self.circuits.index(circuit)]


def pct(x):
    return f"{100 * x:.3g}"


def main_table(seed, activity):
    head = ["R_hat_p", "scheme"] + [f"{m} {c}" for m in METRICS for c in ("real", "approx")] + ["real/approx (out_err_nrms)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(seed.r_hat_p):
        for scheme in seed.schemes:
            cells = [f"{r:g}", scheme]
            for m in METRICS:
                cells += [pct(seed.metric(m, scheme, activity, c)[i]) for c in ("real", "approx")]
            ratio = seed.metric("out_err_nrms", scheme, activity, "real")[i] / seed.metric("out_err_nrms", scheme, activity, "approx")[i]
            lines.append("| " + " | ".join(cells + [f"{ratio:.2f}"]) + " |")
    return "\n".join(lines)


def ratio_table(seed, numerator, denominator, axis, fixed_axis_values, metric):
    """metric(numerator) / metric(denominator) along `axis` (circuit or scheme), by R_hat_p."""
    columns = []
    for a, b in fixed_axis_values:
        columns.append((f"{a}, activity {b:g}", a, b))
    head = ["R_hat_p"] + [c[0] for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(seed.r_hat_p):
        cells = [f"{r:g}"]
        for _, a, b in columns:
            if axis == "circuit":
                x = seed.metric(metric, a, b, numerator)[i] / seed.metric(metric, a, b, denominator)[i]
            else:
                x = seed.metric(metric, numerator, b, a)[i] / seed.metric(metric, denominator, b, a)[i]
            cells.append(f"{x:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def r_hat_p_at(seed, error, scheme, activity, circuit, metric="out_err_nrms"):
    """The R_hat_p at which the metric reaches `error`, log-log interpolated; below the smallest
    R_hat_p, extrapolated in proportion (errors are linear in R_hat_p there), marked '~'."""
    y = seed.metric(metric, scheme, activity, circuit)
    x = seed.r_hat_p
    above = np.flatnonzero(y >= error)
    if above.size == 0:
        return np.nan, ""
    k = above[0]
    if k == 0:
        return x[0] * error / y[0], "~"
    t = (np.log(error) - np.log(y[k - 1])) / (np.log(y[k]) - np.log(y[k - 1]))
    return float(np.exp(np.log(x[k - 1]) + t * (np.log(x[k]) - np.log(x[k - 1])))), ""


def threshold_table(seed):
    head = ["circuit", "activity", "differential", "offset", "differential / offset"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in ("real", "approx"):
        for a in seed.activities:
            (d, dm), (o, om) = (r_hat_p_at(seed, TARGET, s, a, c) for s in ("differential", "offset"))
            lines.append(f"| {c} | {a:g} | {dm}{d:.2g} | {om}{o:.2g} | {d / o:.1f} |")
    return "\n".join(lines)


def equivalence_table(seed, r_ref=1e-5):
    """The R_hat_p at which the real circuit's out_err_nrms equals the approximation's at r_ref."""
    i = list(seed.r_hat_p).index(r_ref)
    head = ["scheme", "activity", f"approx out_err_nrms at {r_ref:g} (%)", "real circuit reaches it at R_hat_p"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scheme in seed.schemes:
        for a in seed.activities:
            target = seed.metric("out_err_nrms", scheme, a, "approx")[i]
            r, mark = r_hat_p_at(seed, target, scheme, a, "real")
            lines.append(f"| {scheme} | {a:g} | {pct(target)} | {mark}{r:.2g} |")
    return "\n".join(lines)


def main():
    seed = Seed(sys.argv[1])
    for a in seed.activities:
        print(f"### Activity {a:g} (errors in %)\n\n{main_table(seed, a)}\n")
    pairs = [(s, a) for s in seed.schemes for a in seed.activities]
    print("### Real / approximate, col_err_rms\n")
    print(ratio_table(seed, "real", "approx", "circuit", pairs, "col_err_rms") + "\n")
    print("### SONOS cell with an ideal select / real circuit, out_err_nrms\n")
    print(ratio_table(seed, "sonos-ideal", "real", "circuit", pairs, "out_err_nrms") + "\n")
    circuit_pairs = [(c, a) for c in ("real", "approx") for a in seed.activities]
    for m in ("out_err_nrms", "col_err_rms"):
        print(f"### Offset / differential, {m}\n")
        print(ratio_table(seed, "offset", "differential", "scheme", circuit_pairs, m) + "\n")
    print(f"### R_hat_p at which out_err_nrms reaches {100 * TARGET:g} %\n\n{threshold_table(seed)}\n")
    print(f"### The approximation's error at R_hat_p = 1e-5, on the real circuit\n\n{equivalence_table(seed)}")


if __name__ == "__main__":
    main()
