#!/usr/bin/python3
"""Make every plot of xbar result files as PNGs.

    /usr/bin/python3 python/xbar_plots.py FILE.h5 [FILE.h5 ...] -o DIR

A sweep file (`xbar sweep`) gives, for every numeric axis X with two or more values (R_hat_p,
rows, input activity, ...), `<stem>_errors_vs_<X>.png`: the error metrics against X, one line
per combination of the other axes (colour, marker, line style: the other axes in file order),
log scales where the data span a decade or more; and `<stem>_row_error.png`: the mean relative
cell-current error by row position. A solve file (`xbar solve`) gives `<stem>_cell_error.png`,
the map of I_cell / I_isolated - 1 over the array for input vector 0, and
`<stem>_column_error.png`, the relative column-current error of every vector and column.
"""
import argparse
import itertools
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xbar_sweep  # noqa: E402

AXIS_LABELS = {
    "array.r_hat_p": r"normalised bit-line resistance $\hat{R}_p = R_p\,G_{max}$",
    "array.r_col": r"bit-line resistance per cell $r_{col}$ ($\Omega$)",
    "array.r_row": r"row-line resistance per cell $r_{row}$ ($\Omega$)",
    "array.rows": "rows (cells per bit line)",
    "array.cols": "columns",
    "inputs.activity": "input activity (fraction of 1 bits)",
    "bias.v_read": r"read voltage $v_{read}$ (V)",
}
METRIC_LABELS = {
    "col_err_rms": "column current: RMS relative error",
    "col_err_max": "column current: max |relative error|",
    "out_err_nrms": "signed output: NRMS error",
    "out_err_gain_nrms": "signed output: NRMS error after gain calibration",
    "out_err_fullscale": "signed output: max error / full scale",
}
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", ":", "-."]


def spans_decades(values):
    """True for positive data whose max/min is 10 or more: plot it on a log scale."""
    v = np.abs(np.asarray(values, float))
    v = v[np.isfinite(v) & (v > 0)]
    return v.size > 1 and v.max() / v.min() >= 10


def axis_label(name):
    return AXIS_LABELS.get(name, name)


def save(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


class Styles:
    """Colour, marker and line style for up to three axes; a legend entry per axis value.
    Lines with many points (rows) put the line style before the marker."""

    def __init__(self, sweep, names, markers_first=True):
        order = ["color", "marker", "linestyle"] if markers_first else ["color", "linestyle", "marker"]
        options = {"color": COLORS, "marker": MARKERS, "linestyle": LINESTYLES}
        self.channels = [(c, options[c]) for c in order]
        self.base = {"color": "k", "marker": "o" if markers_first else None, "linestyle": "-"}
        self.sweep, self.names = sweep, names[: len(self.channels)]

    def of(self, index_by_name):
        style = dict(self.base)
        for (channel, options), name in zip(self.channels, self.names):
            style[channel] = options[index_by_name[name] % len(options)]
        return style

    def legend_handles(self):
        handles = []
        for (channel, options), name in zip(self.channels, self.names):
            for k in range(len(self.sweep.values[name])):
                style = {"color": "k", "marker": None, "linestyle": "-", channel: options[k % len(options)]}
                handles.append(Line2D([], [], label=f"{name} = {self.sweep.label(name, k)}", **style))
        return handles


def combinations(sweep, names):
    """Every combination of the values of the named axes, as {name: index}."""
    for combo in itertools.product(*(range(len(sweep.values[n])) for n in names)):
        yield dict(zip(names, combo))


def select(sweep, metric, fixed):
    """The metric with the axes in `fixed` held at their index; the others remain, in order."""
    return sweep.points[metric][tuple(fixed.get(n, slice(None)) for n in sweep.names)]


def error_metrics(sweep):
    return [m for m in xbar_sweep.ERROR_METRICS if sweep.has(m)]


def plot_errors_vs(sweep, x_name, stem, out_dir):
    """The error metrics against one numeric axis, a line per combination of the others."""
    others = [n for n in sweep.names if n != x_name]
    styles = Styles(sweep, others)
    metrics = error_metrics(sweep)
    x = sweep.values[x_name]
    # Axes past the three visual channels get a figure per value combination.
    for extra in combinations(sweep, others[len(styles.names):]):
        ncols = 2 if len(metrics) > 1 else 1
        nrows = (len(metrics) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 4.2 * nrows), squeeze=False)
        for ax, metric in zip(axes.flat, metrics):
            for combo in combinations(sweep, styles.names):
                y = select(sweep, metric, {**combo, **extra})
                ax.plot(x, np.abs(y), markersize=5, **styles.of(combo))
            ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=10)
            ax.set_xlabel(axis_label(x_name))
            ax.set_ylabel(f"{metric} (relative)")
            if spans_decades(x):
                ax.set_xscale("log")
            if spans_decades(select(sweep, metric, extra)):
                ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
        for ax in axes.flat[len(metrics):]:
            ax.axis("off")
        suffix = "".join(f"_{n}={sweep.label(n, k)}" for n, k in extra.items())
        title = ", ".join(f"{n} = {sweep.label(n, k)}" for n, k in extra.items())
        if styles.names:
            fig.legend(handles=styles.legend_handles(), loc="lower center", ncol=min(4, len(styles.legend_handles())),
                       fontsize=9, frameon=False)
        fig.suptitle(f"{stem}: errors vs {x_name}" + (f" ({title})" if title else ""), fontsize=11)
        fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(styles.legend_handles()) + 3) // 4), 1, 0.97))
        save(fig, os.path.join(out_dir, f"{stem}_errors_vs_{x_name}{suffix}.png"))


def panel_indices(n, most=8):
    return sorted(set(np.linspace(0, n - 1, min(n, most)).round().astype(int)))


def plot_row_errors(sweep, stem, out_dir):
    """Mean relative cell-current error by row, a panel per value of the first axis."""
    first, others = sweep.names[0], sweep.names[1:]
    styles = Styles(sweep, others, markers_first=False)
    panels = panel_indices(len(sweep.values[first]))
    ncols = min(4, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax, k in zip(axes.flat, panels):
        for combo in combinations(sweep, styles.names):
            fixed = {first: k, **combo, **{n: 0 for n in others[len(styles.names):]}}
            err = select(sweep, "row_err_mean", fixed)
            rows = np.flatnonzero(np.isfinite(err))  # NaN: never active, or past this point's rows
            ax.plot(rows, 100 * err[rows], markevery=max(1, rows.size // 8), markersize=4, **styles.of(combo))
        ax.set_title(f"{first} = {sweep.label(first, k)}", fontsize=10)
        ax.set_xlabel("row i (0 = farthest from the sense amplifier)")
        ax.set_ylabel("mean cell-current error (%)")
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    handles = styles.legend_handles()
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=9, frameon=False)
    fig.suptitle(f"{stem}: I_cell / I_isolated - 1 by row, mean over vectors and columns", fontsize=11)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * ((len(handles) + 3) // 4), 1, 0.96))
    save(fig, os.path.join(out_dir, f"{stem}_row_error.png"))


def plot_sweep(path, out_dir):
    sweep = xbar_sweep.load(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    for name in sweep.names:
        if sweep.numeric(name) and len(sweep.values[name]) > 1:
            plot_errors_vs(sweep, name, stem, out_dir)
    if "row_err_mean" in sweep.points:
        plot_row_errors(sweep, stem, out_dir)


def row_bins(err, most=256):
    """Mean over bins of consecutive rows (NaN-aware) when there are more rows than `most`, so
    that thin rows stay visible; returns the map and the bin height in rows."""
    rows = err.shape[0]
    size = -(-rows // most)
    if size == 1:
        return err, 1
    padded = np.full((-(-rows // size) * size, err.shape[1]), np.nan)
    padded[:rows] = err
    blocks = padded.reshape(-1, size, err.shape[1])
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        return np.nanmean(blocks, axis=1), size


def plot_cell_error(f, stem, out_dir):
    """Heatmap of I_cell / I_isolated - 1 over the array (input vector 0); inactive cells grey.
    The largest error is the darkest colour; errors of both signs get a diverging map."""
    cell, ideal = f["cells/current"][()], f["cells/current_ideal"][()]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(ideal != 0, cell / ideal - 1, np.nan) * 100
    rows, cols = err.shape
    shown, bin_rows = row_bins(err)
    lo, hi = np.nanmin(shown), np.nanmax(shown)
    norm = TwoSlopeNorm(0, lo, hi) if lo < 0 < hi else None
    cmap = plt.get_cmap("RdBu_r" if norm else ("magma" if hi <= 0 else "magma_r")).copy()
    cmap.set_bad("0.85")
    fig, ax = plt.subplots(figsize=(min(12, max(6.5, 3 + 0.09 * cols)), 6))
    im = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap, norm=norm,
                   extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    fig.colorbar(im, ax=ax, label=r"$I_{cell} / I_{isolated} - 1$ (%)")
    ax.set_xlabel("column j (physical)")
    ax.set_ylabel("row i (sense amplifiers below the last row)")
    binned = f"; mean over bins of {bin_rows} rows" if bin_rows > 1 else ""
    ax.set_title(f"{stem}: cell-current error, input vector 0\n{rows} x {cols} cells; grey: inactive{binned}",
                 fontsize=10)
    fig.tight_layout()
    save(fig, os.path.join(out_dir, f"{stem}_cell_error.png"))


def plot_column_error(f, stem, out_dir):
    """Relative column-current error of every vector, by physical column."""
    current, ideal = f["columns/current"][()], f["columns/current_ideal"][()]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(np.abs(ideal) > 1e-3 * np.abs(ideal).max(), current / ideal - 1, np.nan) * 100
    count, cols = err.shape
    fig, ax = plt.subplots(figsize=(7, 4.2))
    j = np.arange(cols)
    for v in range(count):
        ax.plot(j, err[v], ".", color="0.6", markersize=4, label="one input vector" if v == 0 else None)
    ax.plot(j, np.nanmean(err, axis=0), "-", color="C0", label=f"mean over {count} vectors")
    ax.set_xlabel("column j (physical)")
    ax.set_ylabel(r"$I_j / I_{j,ideal} - 1$ (%)")
    ax.set_title(f"{stem}: column-current error", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    save(fig, os.path.join(out_dir, f"{stem}_column_error.png"))


def plot_solve(path, out_dir):
    stem = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(path, "r") as f:
        if "cells/current_ideal" in f:
            plot_cell_error(f, stem, out_dir)
        else:
            print(f"{path}: no /cells/current_ideal (written by an older xbar): no cell-error map")
        plot_column_error(f, stem, out_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="SWEEP.h5 (xbar sweep) or OUT.h5 (xbar solve / check)")
    parser.add_argument("-o", "--output", required=True, help="folder for the PNGs (created if missing)")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    for path in args.files:
        with h5py.File(path, "r") as f:
            kind = "sweep" if "axes" in f else "solve" if "columns" in f else None
        if kind is None:
            sys.exit(f"xbar_plots: {path}: neither a sweep nor a solve file")
        (plot_sweep if kind == "sweep" else plot_solve)(path, args.output)


if __name__ == "__main__":
    main()
