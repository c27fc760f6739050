#!/usr/bin/python3
"""Make every plot of xbar result files as PNGs.

    PYTHONPATH=build/python /usr/bin/python3 -m xbar.plots FILE.h5 [FILE.h5 ...] -o DIR

A sweep file (`xbar sweep`) gives, for every numeric axis X with two or more values (R_hat_p,
rows, input activity, ...), `<stem>_errors_vs_<X>.png`: the error metrics against X, one line
per combination of the other axes (colour, marker, line style: the other axes in file order),
log scales where the data span a decade or more; and `<stem>_row_error.png`: the mean relative
cell-current error by row position. A solve file (`xbar solve`) gives `<stem>_cell_error.png`,
the map of I_cell / I_isolated - 1 over the array for input vector 0, and
`<stem>_column_error.png`, the relative column-current error of every vector and column; a check
file (`xbar check`) also `<stem>_check.png`, xbar against ngspice by column. A table file
(`xbar table`) gives `<stem>_table.png`: the correction by row bin and by column load, and the
nominal current of every level.

A log axis whose data hold a 0 is symmetric-log instead (linear near 0), and the 0 points are
drawn hollow, as the legend says; a figure that shows some of an axis's values says which.
"""
import argparse
import itertools
import os
import signal

import matplotlib

matplotlib.use("Agg")
import tomllib  # noqa: E402

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from xbar import sweepfile  # noqa: E402

# Relative errors against the ideal reference count where its current is above this fraction of
# the largest (netlists/ideal_reference.hpp: the study metrics, the solve summary, xbar check).
COUNTED_FRACTION = 1e-3

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
# By value index: the first is a wide translucent band, so that curves drawn over it stay
# visible where two circuits give the same result.
LINE_STYLES = [dict(linestyle="-", linewidth=4, alpha=0.35), dict(linestyle="--", linewidth=1.5),
               dict(linestyle=":", linewidth=2), dict(linestyle="-.", linewidth=1.5)]


def spans_decades(values):
    """True for positive data whose max/min is 10 or more: plot it on a log scale."""
    v = np.abs(np.asarray(values, float))
    v = v[np.isfinite(v) & (v > 0)]
    return v.size > 1 and v.max() / v.min() >= 10


def set_scale(ax, axis, values):
    """Linear, or log when the data span a decade or more. When they also hold a 0, which a log
    axis cannot show (the point vanished and the curve seemed to end in an error floor), the
    axis is symmetric-log: linear below the smallest non-zero |value|, logarithmic above.
    Returns that threshold in the symlog case, else None."""
    if not spans_decades(values):
        return None
    v = np.abs(np.asarray(values, float))
    v = v[np.isfinite(v)]
    if not (v == 0).any():
        getattr(ax, f"set_{axis}scale")("log")
        return None
    threshold = v[v > 0].min()
    getattr(ax, f"set_{axis}scale")("symlog", linthresh=threshold, linscale=0.5)
    return threshold


def zero_handles(names):
    """The legend entry of the hollow markers that draw_zeros() puts on the 0 points (none
    without any)."""
    if not names:
        return []
    return [Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor="white", color="k",
                   label=f"hollow: {' or '.join(names)} = 0\n(symmetric-log axis: linear near 0)")]


def draw_zeros(ax, x, y, zero, style):
    """Hollow markers at the points where `zero` holds (a 0 on a symmetric-log axis)."""
    if zero.any():
        ax.plot(x[zero], y[zero], linestyle="none", marker=style.get("marker", "o"), markersize=9,
                markerfacecolor="white", markeredgecolor=style.get("color", "k"), markeredgewidth=1.5, zorder=3)


def axis_label(name):
    return AXIS_LABELS.get(name, name)


def save(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def row_bins(values, most):
    """Mean over bins of consecutive rows (axis 0, NaN-aware) when there are more rows than
    `most`; returns the binned array and the bin height in rows."""
    rows = values.shape[0]
    size = -(-rows // most)
    if size == 1:
        return values, 1
    padded = np.full((-(-rows // size) * size,) + values.shape[1:], np.nan)
    padded[:rows] = values
    blocks = padded.reshape((-1, size) + values.shape[1:])
    with np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)  # bins without an active cell are NaN
        return np.nanmean(blocks, axis=1), size


class Styles:
    """Colour, marker and line style for up to three axes (in `channels` order), and a legend
    entry per axis value."""

    def __init__(self, sweep, names, channels=("color", "marker", "linestyle")):
        self.sweep, self.channels = sweep, channels
        self.names = names[: len(channels)]

    @staticmethod
    def channel_style(channel, k):
        if channel == "color":
            return {"color": COLORS[k % len(COLORS)]}
        if channel == "marker":
            return {"marker": MARKERS[k % len(MARKERS)]}
        return dict(LINE_STYLES[k % len(LINE_STYLES)])

    def of(self, index_by_name):
        # Every line marks its points (a sweep's values are discrete), also with fewer axes than
        # channels, when no channel is the marker.
        style = {"color": "k", "linestyle": "-", "linewidth": 1.5, "marker": "o"}
        for channel, name in zip(self.channels, self.names):
            style.update(self.channel_style(channel, index_by_name[name]))
        return style

    def markevery(self, index_by_name, points, markers=6):
        """About `markers` markers per line, staggered by marker so that coinciding lines show
        all of theirs."""
        step = max(1, points // markers)
        if "marker" not in self.channels[: len(self.names)]:
            return step
        name = self.names[self.channels.index("marker")]
        return (index_by_name[name] * step // len(self.sweep.values[name]), step)

    def legend_handles(self):
        handles = []
        for channel, name in zip(self.channels, self.names):
            for k in range(len(self.sweep.values[name])):
                style = {"color": "k", "linestyle": "-", "linewidth": 1.5, "marker": "o",
                         **self.channel_style(channel, k)}
                handles.append(Line2D([], [], label=f"{name} = {self.sweep.label(name, k)}", **style))
        return handles


def finish(fig, axes, used, handles, title):
    """Title, and the legend in the first spare panel (or right of the panels if none is spare)."""
    spare = list(axes.flat[used:])
    for ax in spare:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    right = 1
    if handles and spare:
        spare[0].legend(handles=handles, loc="center", fontsize=9, frameon=False)
    elif handles:
        width = 0.9 + 0.075 * max(len(h.get_label()) for h in handles)  # inches
        fig.set_figwidth(fig.get_figwidth() + width)
        fig.legend(handles=handles, loc="center right", fontsize=9, frameon=False)
        right = 1 - width / fig.get_figwidth()
    fig.tight_layout(rect=(0, 0, right, 1 - 0.45 / fig.get_figheight()))


def combinations(sweep, names):
    """Every combination of the values of the named axes, as {name: index}."""
    for combo in itertools.product(*(range(len(sweep.values[n])) for n in names)):
        yield dict(zip(names, combo))


def select(sweep, metric, fixed):
    """The metric with the axes in `fixed` held at their index; the others remain, in order."""
    return sweep.points[metric][tuple(fixed.get(n, slice(None)) for n in sweep.names)]


# Config keys worth naming under a sweep figure's title when they are not swept, and derived
# values (/derived) worth naming when every point has the same.
CONTEXT_KEYS = ["array.cell", "array.rows", "array.cols", "array.r_row", "select.model", "mapping.scheme",
                "weights.distribution", "inputs.activity", "inputs.count"]
CONTEXT_DERIVED = {"r_col": "array.r_col", "r_hat_p": "array.r_hat_p"}


def context(sweep):
    """'array.cell = 2t-sonos, array.cols = 64, ...': the fixed settings of the study."""
    try:
        config = tomllib.loads(sweep.config)
    except (tomllib.TOMLDecodeError, ValueError):
        return ""
    swept = set(sweep.names)
    for name in sweep.names:  # keys set by combined axes
        values = config.get("sweep", {}).get(name, [])
        swept |= {k for v in values if isinstance(v, dict) for k in v}
    parts = []
    for key in CONTEXT_KEYS:
        section, item = key.split(".")
        if key not in swept and item in config.get(section, {}):
            parts.append(f"{key} = {config[section][item]}")
    for name, shown in CONTEXT_DERIVED.items():
        values = sweep.derived.get(name)
        if values is not None and values.size and np.all(values == values.flat[0]):
            parts.append(f"{shown} = {values.flat[0]:g}")
    return ", ".join(parts)


def error_metrics(sweep):
    return [m for m in sweepfile.ERROR_METRICS if sweep.has(m)]


def grid(panels, ncols, width, height):
    nrows = -(-panels // ncols)
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def plot_errors_vs(sweep, x_name, stem, out_dir):
    """The error metrics against one numeric axis, a line per combination of the others."""
    others = [n for n in sweep.names if n != x_name]
    styles = Styles(sweep, others)
    metrics = error_metrics(sweep)
    x = sweep.values[x_name]
    # Axes past the three visual channels get a figure per value combination.
    for extra in combinations(sweep, others[len(styles.names):]):
        fig, axes = grid(len(metrics), 2, 6.2, 4.2)
        zeros = []  # what was 0 on a symmetric-log axis
        for ax, metric in zip(axes.flat, metrics):
            x_zero = set_scale(ax, "x", x)
            y_zero = set_scale(ax, "y", np.abs(select(sweep, metric, extra)))
            for combo in combinations(sweep, styles.names):
                y = np.abs(select(sweep, metric, {**combo, **extra}))
                style = styles.of(combo)
                ax.plot(x, y, markersize=5, **style)
                draw_zeros(ax, x, y, ((x == 0) & (x_zero is not None)) | ((y == 0) & (y_zero is not None)), style)
            for name, threshold in ((x_name, x_zero), ("an error", y_zero)):
                if threshold is not None and name not in zeros:
                    zeros.append(name)
            ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=10)
            ax.set_xlabel(axis_label(x_name))
            ax.set_ylabel(f"{metric} (relative)")
            ax.grid(True, which="both", alpha=0.3)
        suffix = "".join(f"_{n}={sweep.label(n, k)}" for n, k in extra.items())
        fixed = ", ".join(f"{n} = {sweep.label(n, k)}" for n, k in extra.items())
        handles = styles.legend_handles() + zero_handles(zeros)
        finish(fig, axes, len(metrics), handles,
               f"{stem}: errors vs {x_name}" + (f" ({fixed})" if fixed else "") + f"\n{context(sweep)}")
        save(fig, os.path.join(out_dir, f"{stem}_errors_vs_{x_name}{suffix}.png"))


def panel_indices(n, most):
    return sorted(set(np.linspace(0, n - 1, min(n, most)).round().astype(int)))


def subset_note(sweep, name, shown):
    """'4 of 7 values of X shown (a, b, c, d)' when `shown` (indices) is not every value, else ''."""
    count = len(sweep.values[name])
    if len(shown) == count:
        return ""
    return f"{len(shown)} of {count} values of {name} shown ({', '.join(sweep.label(name, k) for k in shown)})"


def plot_row_errors(sweep, stem, out_dir):
    """Mean relative cell-current error by row, a panel per value of the first axis (at most 4),
    rows averaged in bins when there are many."""
    first, others = sweep.names[0], sweep.names[1:]
    styles = Styles(sweep, others, channels=("color", "linestyle", "marker"))
    panels = panel_indices(len(sweep.values[first]), 4)
    held = others[len(styles.names):]  # past the three channels: at their first value
    all_rows = sweep.points["row_err_mean"].shape[-1]
    fig, axes = grid(len(panels), 2 if len(panels) > 1 else 1, 5.6, 4.0)
    bin_rows = 1
    for ax, k in zip(axes.flat, panels):
        for combo in combinations(sweep, styles.names):
            fixed = {first: k, **combo, **{n: 0 for n in held}}
            err, bin_rows = row_bins(select(sweep, "row_err_mean", fixed), most=64)
            centre = np.arange(err.size) * bin_rows + (bin_rows - 1) / 2
            keep = np.isfinite(err)  # NaN: never active, or past this point's rows
            ax.plot(centre[keep], 100 * err[keep], markevery=styles.markevery(combo, keep.sum()),
                    markersize=5, **styles.of(combo))
        ax.set_title(f"{first} = {sweep.label(first, k)}", fontsize=10)
        ax.set_xlabel("row i (0 = farthest from the sense amplifier)")
        ax.set_ylabel("mean cell-current error (%)")
        ax.set_xlim(0, all_rows)
        ax.grid(True, alpha=0.3)
    binned = f", rows in bins of {bin_rows}" if bin_rows > 1 else ""
    shown = subset_note(sweep, first, panels)
    shown += "".join(f"; {n} = {sweep.label(n, 0)} only (of {len(sweep.values[n])} values)"
                     for n in held if len(sweep.values[n]) > 1)
    finish(fig, axes, len(panels), styles.legend_handles(),
           f"{stem}: I_cell / I_isolated - 1 by row (mean over vectors and columns{binned})"
           + (f"\n{shown.lstrip('; ')}" if shown else "") + f"\n{context(sweep)}")
    save(fig, os.path.join(out_dir, f"{stem}_row_error.png"))


def plot_sweep(path, out_dir):
    sweep = sweepfile.load(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    for name in sweep.names:
        if sweep.numeric(name) and len(sweep.values[name]) > 1:
            plot_errors_vs(sweep, name, stem, out_dir)
    if "row_err_mean" in sweep.points:
        plot_row_errors(sweep, stem, out_dir)


def plot_cell_error(f, stem, out_dir):
    """Heatmap of I_cell / I_isolated - 1 over the array (input vector 0); inactive cells blue-grey.
    The largest error is the darkest colour; errors of both signs get a diverging map."""
    cell, ideal = f["cells/current"][()], f["cells/current_ideal"][()]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(ideal != 0, cell / ideal - 1, np.nan) * 100
    rows, cols = err.shape
    shown, bin_rows = row_bins(err, most=256)
    lo, hi = np.nanmin(shown), np.nanmax(shown)
    norm = TwoSlopeNorm(0, lo, hi) if lo < 0 < hi else None
    cmap = plt.get_cmap("RdBu_r" if norm else ("magma" if hi <= 0 else "magma_r")).copy()
    cmap.set_bad("#a9bcd0")  # blue-grey: apart from every colour of the maps used
    fig, ax = plt.subplots(figsize=(min(12, max(6.5, 3 + 0.09 * cols)), 6))
    im = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap, norm=norm,
                   extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
    fig.colorbar(im, ax=ax, label=r"$I_{cell} / I_{isolated} - 1$ (%)")
    ax.set_xlabel("column j (physical)")
    ax.set_ylabel("row i (sense amplifiers below the last row)")
    binned = f"; mean over bins of {bin_rows} rows" if bin_rows > 1 else ""
    ax.set_title(f"{stem}: cell-current error, input vector 0\n{rows} x {cols} cells; blue-grey: inactive{binned}",
                 fontsize=10)
    fig.tight_layout()
    save(fig, os.path.join(out_dir, f"{stem}_cell_error.png"))


def plot_column_error(f, stem, out_dir):
    """Relative column-current error of every vector, by physical column."""
    current, ideal = f["columns/current"][()], f["columns/current_ideal"][()]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(np.abs(ideal) > COUNTED_FRACTION * np.abs(ideal).max(), current / ideal - 1, np.nan) * 100
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


def plot_check(f, stem, out_dir):
    """`xbar check`: by column, xbar against ngspice for every input vector. Left the check's own
    figure, |I_xbar - I_spice| / max_j |I_spice| of the vector, with the tolerance; right the
    column's own relative difference, hollow where the ideal current is below 1e-3 of the
    largest (those columns do not count towards check_max_col_rel_diff)."""
    current, spice, ideal = f["columns/current"][()], f["columns/current_spice"][()], f["columns/current_ideal"][()]
    diff = np.abs(current - spice)
    with np.errstate(divide="ignore", invalid="ignore"):
        of_largest = diff / np.abs(spice).max(axis=1, keepdims=True)
        of_column = diff / np.abs(spice)
    counted = np.abs(ideal) > COUNTED_FRACTION * np.abs(ideal).max(axis=1, keepdims=True)
    tolerance = float(f.attrs["check_tolerance"])
    count, cols = diff.shape
    j = np.arange(cols)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), squeeze=False)
    left, right = axes.flat
    for v in range(count):
        color = COLORS[v % len(COLORS)] if count <= len(COLORS) else "0.4"
        label = f"input vector {v}" if count <= len(COLORS) else ("one input vector" if v == 0 else None)
        left.plot(j, of_largest[v], "o-", color=color, markersize=4, linewidth=0.8, label=label)
        right.plot(j[counted[v]], of_column[v][counted[v]], "o", color=color, markersize=4)
        right.plot(j[~counted[v]], of_column[v][~counted[v]], "o", color=color, markersize=5, markerfacecolor="white")
    left.axhline(tolerance, color="C3", linestyle="--", label=f"tolerance {tolerance:.3g}")
    left.set_ylabel(r"$|I_{xbar} - I_{spice}|_j \,/\, \max_j |I_{spice}|$")
    left.set_title("the check's figure (pass: every point below the tolerance)", fontsize=10)
    right.set_ylabel(r"$|I_{xbar} - I_{spice}|_j \,/\, |I_{spice,j}|$")
    right.set_title("each column's own relative difference\n(hollow: ideal current < 1e-3 of the largest, not counted)",
                    fontsize=10)
    for ax, values in ((left, np.append(of_largest.ravel(), tolerance)), (right, of_column.ravel())):
        set_scale(ax, "y", values[np.isfinite(values)])
        ax.set_xlabel("column j (physical)")
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    passed = "PASS" if f.attrs["check_passed"] else "FAIL"
    fig.suptitle(f"{stem}: xbar vs ngspice by column, {count} input vector(s): {passed}, max "
                 f"{float(f.attrs['check_max_rel_diff']):.3g} (tolerance {tolerance:.3g})", fontsize=11)
    fig.tight_layout()
    save(fig, os.path.join(out_dir, f"{stem}_check.png"))


def plot_solve(path, out_dir):
    stem = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(path, "r") as f:
        if "cells/current_ideal" in f:
            plot_cell_error(f, stem, out_dir)
        else:
            print(f"{path}: no /cells/current_ideal (written by an older xbar): no cell-error map")
        plot_column_error(f, stem, out_dir)
        if "columns/current_spice" in f:
            plot_check(f, stem, out_dir)


def weighted_mean(mean, count, keep):
    """The count-weighted mean of `mean` over every axis but those in `keep` (NaN where no sample)."""
    axes = tuple(a for a in range(mean.ndim) if a not in keep)
    weights = np.where(count > 0, count, 0)
    total = weights.sum(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.nansum(np.where(count > 0, mean, 0) * weights, axis=axes) / total, np.nan)


def plot_table(path, out_dir):
    """`xbar table`: the correction I_actual / I_ideal - 1 (count-weighted means of its bins) by
    row bin, a line per load bin; by column load, a line per level (at most 8, said when fewer
    than all); and the nominal cell current of every level."""
    stem = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(path, "r") as f:
        mean, count = f["correction/mean"][()], f["correction/count"][()]
        row_edges, load_edges = f["correction/row_edges"][()], f["correction/load_edges"][()]
        device = f["device/current"][()]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    levels = mean.shape[2]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), squeeze=False)
    by_row, by_load, nominal = axes.flat
    rows = weighted_mean(mean, count, keep=(0, 3))  # [row bin, load bin]
    row_centre = (row_edges[:-1] + row_edges[1:] - 1) / 2
    for b in range(rows.shape[1]):
        by_row.plot(row_centre, 100 * (rows[:, b] - 1), "o-", color=COLORS[b % len(COLORS)], markersize=4,
                    label=f"load [{load_edges[b]:.3g}, {load_edges[b + 1]:.3g})")
    by_row.set_xlabel("row (bin centre; 0 = farthest from the sense amplifier)")
    by_row.set_ylabel("mean I_actual / I_ideal - 1 (%)")
    by_row.set_title("by row bin, a line per column-load bin", fontsize=10)
    by_row.legend(fontsize=7)
    sampled = np.flatnonzero(count.sum(axis=(0, 1, 3)) > 0)  # levels some cell was read at
    shown = sampled[panel_indices(len(sampled), 8)] if sampled.size else []
    loads = weighted_mean(mean, count, keep=(2, 3))  # [level, load bin]
    load_centre = (load_edges[:-1] + load_edges[1:]) / 2
    for n, k in enumerate(shown):
        by_load.plot(load_centre, 100 * (loads[k] - 1), "o-", color=COLORS[n % len(COLORS)], markersize=4,
                     label=f"level {k}")
    by_load.set_xlabel("column load (sum of the active cells' ideal currents / full-scale current)")
    by_load.set_ylabel("mean I_actual / I_ideal - 1 (%)")
    note = f": {len(shown)} of {levels} levels shown ({sampled.size} sampled)" if len(shown) < levels else ""
    by_load.set_title(f"by column load, a line per level{note}", fontsize=10)
    by_load.legend(fontsize=7)
    k = np.arange(levels)
    nominal.plot(k, np.abs(device), "o-", markersize=4)
    threshold = set_scale(nominal, "y", np.abs(device))
    if threshold is not None:
        draw_zeros(nominal, k, np.abs(device), device == 0, {})
        nominal.legend(handles=zero_handles(["the current"]), fontsize=7)
    nominal.set_xlabel("level")
    nominal.set_ylabel("|I| (A)")
    nominal.set_title("isolated cell at nominal bias (/device/current)", fontsize=10)
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{stem}: {attrs.get('rows')} x {attrs.get('cols')} {attrs.get('cell')} table, "
                 f"{attrs.get('samples')} arrays x {attrs.get('vectors')} vectors, {attrs.get('cells')} cell ratios",
                 fontsize=11)
    fig.tight_layout()
    save(fig, os.path.join(out_dir, f"{stem}_table.png"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+",
                        help="SWEEP.h5 (xbar sweep), OUT.h5 (xbar solve / check) or TABLE.h5 (xbar table)")
    parser.add_argument("-o", "--output", required=True, help="folder for the PNGs (created if missing)")
    args = parser.parse_args(argv)
    plotters = {"sweep": plot_sweep, "solve": plot_solve, "table": plot_table}
    kinds = [file_kind(path) for path in args.files]  # every file checked before any figure
    os.makedirs(args.output, exist_ok=True)
    for path, kind in zip(args.files, kinds):
        plotters[kind](path, args.output)


def file_kind(path):
    """The kind of xbar file at path: sweep, solve (solve and check files) or table. Anything else
    ends the run with one line naming the file, exit status 2."""
    with sweepfile.open_file("xbar.plots", path) as f:
        kind = "sweep" if "axes" in f else "solve" if "columns" in f else "table" if "correction" in f else None
    if kind is None:
        sweepfile.bad_input("xbar.plots", path, "neither a sweep, a solve nor a table file")
    return kind


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `... | head`: end quietly, as Unix tools do
    main()
