#!/usr/bin/python3
"""Read the SWEEP.h5 files of `xbar sweep` (layout: docs/sweep.md) and print them as tables.

    PYTHONPATH=build/python /usr/bin/python3 -m xbar.sweepfile SWEEP.h5 [--markdown] [--metrics col_err_rms,out_err_nrms]

As a module: ``sweep = xbar.sweepfile.load("sweep.h5")`` (or ``xbar.sweep(config)``); ``sweep.names`` are the axes in dimension
order, ``sweep.values[name]`` their values (float array, or a list of str), ``sweep.points[metric]``
the metric arrays shaped [n_1, ..., n_k] (row_err_mean: [n_1, ..., n_k, rows], NaN-padded),
``sweep.derived[name]`` each point's derived config values (r_col, g_max, ...) shaped
[n_1, ..., n_k], and ``sweep.config`` the study's config (TOML text, defaults included).
"""
import argparse
import itertools
import os
import signal
import sys

import h5py
import numpy as np

# Relative errors (dimensionless) and the solver cost, in file order.
ERROR_METRICS = ["col_err_rms", "col_err_max", "out_err_nrms", "out_err_gain_nrms", "out_err_fullscale"]
COST_METRICS = ["solve_time", "newton_iterations"]


def _text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


class Sweep:
    def __init__(self, names, values, points, config, version, derived=None):
        self.names = names
        self.values = values
        self.points = points
        self.config = config
        self.version = version
        self.derived = derived or {}

    @property
    def shape(self):
        return tuple(len(self.values[n]) for n in self.names)

    def numeric(self, name):
        return not isinstance(self.values[name], list)

    def label(self, name, k):
        v = self.values[name][k]
        return f"{v:g}" if self.numeric(name) else v

    def indices(self):
        """Every point's index tuple, row-major (the first axis slowest)."""
        return itertools.product(*(range(n) for n in self.shape))

    def has(self, metric):
        return metric in self.points and np.isfinite(self.points[metric]).any()


def bad_input(program, path, what):
    """Ends a command-line module on bad input as the xbar command line does: one line on stderr
    naming the file, exit status 2."""
    print(f"{program}: {path}: {what}", file=sys.stderr)
    sys.exit(2)


def open_file(program, path):
    """The HDF5 file at path, open for reading; bad_input() when it is missing, a folder or not
    HDF5."""
    if os.path.isdir(path):
        bad_input(program, path, "is a folder, expected an HDF5 file written by xbar")
    if not os.path.exists(path):
        bad_input(program, path, "no such file")
    try:
        return h5py.File(path, "r")
    except OSError:
        bad_input(program, path, "cannot be opened as HDF5 (not a file xbar wrote?)")


def load(path):
    with h5py.File(path, "r") as f:
        if "axes" not in f or "points" not in f:
            raise ValueError(f"{path}: not a sweep file (no /axes or /points)")
        names = [_text(n) for n in f["axes/names"][()]]
        values = {}
        for n in names:
            data = f["axes/values"][n][()]
            values[n] = [_text(x) for x in data] if data.dtype.kind in "OSU" else np.asarray(data, float)
        points = {m: np.asarray(f["points"][m][()], float) for m in f["points"]}
        derived = {d: np.asarray(f["derived"][d][()], float) for d in f.get("derived", {})}
        config = f["config"][()] if "config" in f else f.attrs.get("config", "")  # a long config is a dataset
        return Sweep(names, values, points, _text(config), _text(f.attrs.get("xbar_version", "")), derived)


def rows(sweep, metrics):
    """Header and one row of strings per point: axis labels, then metrics (errors in %)."""
    header = list(sweep.names) + [f"{m} %" if m in ERROR_METRICS else m for m in metrics]
    body = []
    for index in sweep.indices():
        row = [sweep.label(n, k) for n, k in zip(sweep.names, index)]
        for m in metrics:
            x = sweep.points[m][index]
            row.append("-" if not np.isfinite(x) else f"{100 * x:.3g}" if m in ERROR_METRICS else f"{x:.3g}")
        body.append(row)
    return header, body


def table(sweep, metrics, markdown=False):
    header, body = rows(sweep, metrics)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(r[c]) for r in [header] + body) for c in range(len(header))]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(r, widths)) for r in [header] + body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="SWEEP.h5 written by xbar sweep")
    parser.add_argument("--markdown", action="store_true", help="a markdown table")
    parser.add_argument("--metrics", help="comma-separated metrics (default: every error metric present)")
    args = parser.parse_args(argv)
    open_file("xbar.sweepfile", args.sweep).close()
    try:
        sweep = load(args.sweep)
    except ValueError as e:  # names the file
        bad_input("xbar.sweepfile", args.sweep, str(e).removeprefix(f"{args.sweep}: "))
    metrics = args.metrics.split(",") if args.metrics else [m for m in ERROR_METRICS if sweep.has(m)]
    unknown = [m for m in metrics if m not in sweep.points]
    if unknown:
        bad_input("xbar.sweepfile", args.sweep, f"no metric {', '.join(unknown)} (have {', '.join(sweep.points)})")
    print(table(sweep, metrics, args.markdown))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `... | head`: end quietly, as Unix tools do
    main()
