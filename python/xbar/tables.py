"""Effective-weight tables of xbar (`xbar table CONFIG -o TABLE.h5`): reader and predictors.

numpy and h5py only (no xbar engine). The table layout is described in docs/tables.md.

    from xbar import tables as xt          # PYTHONPATH=build/python
    table = xt.load("TABLE.h5")
    i_pred = xt.predict(table, levels, inputs)   # [count, cols] column currents (A)
    i_nom = xt.ideal(table, levels, inputs)      # the same without parasitics

levels: [rows, cols] integer levels 0..L-1 of the physical array; inputs: [count, rows], bits
for select cells (1t1r, 2t-sonos), reals for 1r cells (row voltage = input * v_read).

Two prediction methods:

- "response" (default, ArrayModel): the table method. The row lines solved once per array with
  the tabulated cell law, then the linear response of the ideal column currents to the bit
  lines' resistance, in a few smooth modes of the bit line: a few matrix products per batch of
  vectors. Warns (DomainWarning) outside the table's domain.
- "correction": each active cell's nominal current times the mean I_actual/I_ideal of its
  (row, column, level, column load) bin of /correction/mean, interpolated linearly between bin
  centres in row, column and load; O(cells), valid only for the statistics the table sampled.

neurosim_csv writes NeuroSim V1.5's output-error file (--output_noise_file) from a table.
"""

from dataclasses import dataclass, field

import os
import tempfile

import h5py
import numpy as np

# the table method lives in array_model; its public names are this module's too
from .array_model import (DEVIATION_LIMIT, ArrayModel, DomainWarning, _CellLaw, _ln_conductance, check_domain,
                          column_modes, row_kernel)

__all__ = ["Table", "load", "ideal", "predict", "predict_correction", "column_errors", "ArrayModel",
           "DomainWarning", "DEVIATION_LIMIT", "check_domain", "row_kernel", "column_modes",
           "neurosim_csv"]


@dataclass
class Table:
    """Contents of a table file: datasets as arrays, root attributes in attrs."""

    attrs: dict
    device_current: np.ndarray   # [L] I_k (A)
    device_weight: np.ndarray    # [L] V_T (V) or G (S)
    dlnI_dVs: np.ndarray         # [L] 1/V
    dlnI_dVd: np.ndarray         # [L] 1/V
    v_bl: np.ndarray             # [n_vbl] V
    v_sup: np.ndarray            # [n_vsup] V
    cell_current: np.ndarray     # [L, n_vbl, n_vsup] A
    row_edges: np.ndarray
    col_edges: np.ndarray
    load_edges: np.ndarray
    mean: np.ndarray             # [n_rowbin, n_colbin, L, n_loadbin]
    std: np.ndarray
    count: np.ndarray
    domain: dict = None          # /domain/*: what the samples covered (None in older files)
    device_current_off: np.ndarray = None    # [L] leakage of an inactive cell (A); zeros in older files
    sample_current: np.ndarray = None        # /samples/column_current [samples * vectors, cols]
    sample_current_ideal: np.ndarray = None  # /samples/column_current_ideal
    sample_level_sum: np.ndarray = None      # /samples/column_level_sum: the columns' ideal MACs
    sample_active_rows: np.ndarray = None    # /samples/active_rows [samples * vectors]
    _ln_g: np.ndarray = field(default=None, repr=False)      # cell law, see _CellLaw
    _factor: np.ndarray = field(default=None, repr=False)    # mean with empty bins filled

    @property
    def rows(self):
        return int(self.attrs["rows"])

    @property
    def cols(self):
        return int(self.attrs["cols"])

    @property
    def has_select(self):
        return self.attrs["cell"] != "1r"

    def attr(self, name):
        return float(self.attrs[name])


def load(path):
    """Reads a table written by `xbar table`."""
    with h5py.File(path, "r") as f:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        weight = f["/device/vt"] if "/device/vt" in f else f["/device/conductance"]
        read = lambda name: np.asarray(f[name][()], dtype=float)  # noqa: E731
        table = Table(attrs, read("/device/current"), np.asarray(weight[()], dtype=float),
                      read("/device/dlnI_dVs"), read("/device/dlnI_dVd"),
                      read("/cell/v_bl"), read("/cell/v_sup"), read("/cell/current"),
                      read("/correction/row_edges"), read("/correction/col_edges"),
                      read("/correction/load_edges"), read("/correction/mean"),
                      read("/correction/std"), read("/correction/count"))
        table.device_current_off = (read("/device/current_off") if "/device/current_off" in f
                                    else np.zeros(len(table.device_current)))
        if "/domain" in f:
            table.domain = {name: read(f"/domain/{name}") for name in f["/domain"]}
        if "/samples" in f:
            table.sample_current = read("/samples/column_current")
            table.sample_current_ideal = read("/samples/column_current_ideal")
            if "/samples/active_rows" in f:
                table.sample_level_sum = read("/samples/column_level_sum")
                table.sample_active_rows = read("/samples/active_rows")
    table._ln_g = _ln_conductance(table)
    table._factor = _filled_factor(table)
    return table


# ---------------------------------------------------------------------------------------------
# Shapes and the ideal reference


def _check(table, levels, inputs):
    levels = np.asarray(levels)
    inputs = np.atleast_2d(np.asarray(inputs, dtype=float))
    if levels.shape != (table.rows, table.cols):
        raise ValueError(f"levels are {levels.shape}, the table is for {table.rows} x {table.cols}")
    if inputs.shape[1] != table.rows:
        raise ValueError(f"inputs are {inputs.shape}, expected [count, {table.rows}]")
    n_levels = len(table.device_current)
    if levels.min() < 0 or levels.max() > n_levels - 1 or np.any(levels != np.round(levels)):
        raise ValueError(f"levels must be integers in [0, {n_levels - 1}]")
    return levels.astype(np.intp), inputs


def _row_voltage(table, inputs):
    """V_row(i) [count, rows]: v_read for select cells, input * v_read for 1r cells."""
    v_read = table.attr("v_read")
    return np.full(inputs.shape, v_read) if table.has_select else inputs * v_read


def _active(table, inputs):
    """[count, rows] 1.0 where the row's cells conduct (select bit 1; every 1r row)."""
    return (inputs != 0).astype(float) if table.has_select else np.ones(inputs.shape)


def _nominal_cells(table, levels, inputs):
    """Each active cell's isolated current at nominal bias [count, rows, cols] (the ideal
    reference of docs/conventions.md): I_k for select cells, the tabulated law at (v_sense, input * v_read) for 1r."""
    active = _active(table, inputs)[:, :, None]
    if table.has_select:
        return active * table.device_current[levels][None, :, :]
    v_row = np.broadcast_to(_row_voltage(table, inputs)[:, :, None], (len(inputs),) + levels.shape)
    v_bl = np.full(v_row.shape, table.attr("v_sense"))
    return active * _CellLaw(table).current(np.broadcast_to(levels, v_row.shape), v_bl, v_row)[0]


def ideal(table, levels, inputs):
    """No-parasitics column currents [count, cols] (A): the sum of the active cells' nominal
    currents, as `xbar solve` writes /columns/current_ideal."""
    levels, inputs = _check(table, levels, inputs)
    return _nominal_cells(table, levels, inputs).sum(axis=1)


def predict(table, levels, inputs, method="response", **options):
    """Predicted column currents [count, cols] (A) with line resistance and the real cell law.
    method: "response" (the table method, ArrayModel: the linear response of the ideal currents
    to the lines; options: modes, cell_scale) or "correction" (binned statistics). levels may
    have any shape [rows, cols] for "response" (the table gives the law and the resistance per
    segment); "correction" needs the table's own."""
    if method == "response":
        levels = np.asarray(levels)
        inputs = np.atleast_2d(np.asarray(inputs, dtype=float))
        return ArrayModel(table, levels, **options).column_currents(inputs)
    if method == "correction":
        return predict_correction(table, levels, inputs)
    raise ValueError(f"method must be 'response' or 'correction', not {method!r}")


def column_errors(predicted, actual, ideal, floor=1e-3):
    """Relative errors (predicted - actual) / actual over the (vector, column) pairs whose ideal
    current |ideal| exceeds floor times the largest |ideal| (the pairs the sweep metrics count,
    /columns/current_ideal of the solve); returns (rms, max |error|)."""
    actual, ideal = np.asarray(actual, dtype=float), np.abs(np.asarray(ideal, dtype=float))
    keep = ideal > floor * ideal.max()
    rel = (np.asarray(predicted)[keep] - actual[keep]) / actual[keep]
    return float(np.sqrt(np.mean(rel ** 2))), float(np.abs(rel).max())


# ---------------------------------------------------------------------------------------------
# Correction lookup


def _filled_factor(table):
    """/correction/mean with empty bins (NaN) filled: linearly along the level axis from the
    filled levels of the same (row, col, load) bin, else the mean of the whole table, else 1."""
    mean = np.moveaxis(table.mean, 2, -1).copy()   # [row, col, load, level]
    lines = mean.reshape(-1, mean.shape[-1])
    levels = np.arange(lines.shape[1])
    fallback = np.nanmean(table.mean) if np.isfinite(table.mean).any() else 1.0
    for line in lines:
        ok = np.isfinite(line)
        if not ok.all():
            line[:] = np.interp(levels, levels[ok], line[ok]) if ok.any() else fallback
    return np.moveaxis(mean, -1, 2)


def _linear_weights(centres, x):
    """Indices (lo, hi) and weight of hi for piecewise-linear interpolation between bin centres,
    constant beyond the outer centres."""
    x = np.asarray(x, dtype=float)
    if len(centres) == 1:
        zero = np.zeros(x.shape, dtype=np.intp)
        return zero, zero, np.zeros(x.shape)
    hi = np.clip(np.searchsorted(centres, x, side="right"), 1, len(centres) - 1)
    lo = hi - 1
    w = np.clip((x - centres[lo]) / (centres[hi] - centres[lo]), 0.0, 1.0)
    return lo, hi, w


def _index_centres(edges, n):
    """Mean position of the integer indices 0..n-1 that fall in each bin."""
    index = np.arange(n)
    bins = np.clip(np.searchsorted(edges, index, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(bins, weights=index, minlength=len(edges) - 1) / np.maximum(
        np.bincount(bins, minlength=len(edges) - 1), 1)


def predict_correction(table, levels, inputs):
    """Sum over active cells of I_nominal * mean(I_actual/I_ideal | row, col, level, load),
    load(v, j) = sum_i I_nominal(v, i, j) / I_max; [count, cols] (A)."""
    levels, inputs = _check(table, levels, inputs)
    nominal = _nominal_cells(table, levels, inputs)
    load = nominal.sum(axis=1) / table.attr("full_scale_current")           # [count, cols]
    r0, r1, wr = _linear_weights(_index_centres(table.row_edges, table.rows), np.arange(table.rows))
    c0, c1, wc = _linear_weights(_index_centres(table.col_edges, table.cols), np.arange(table.cols))
    load_centres = 0.5 * (table.load_edges[:-1] + table.load_edges[1:])
    l0, l1, wl = _linear_weights(load_centres, load)
    rows, cols = np.arange(table.rows)[None, :, None], np.arange(table.cols)[None, None, :]
    factor = np.zeros(nominal.shape)
    for r, w_r in ((r0, 1 - wr), (r1, wr)):
        for c, w_c in ((c0, 1 - wc), (c1, wc)):
            by_load = table._factor[r[:, None], c[None, :], levels]          # [rows, cols, load]
            for lb, w_l in ((l0, 1 - wl), (l1, wl)):
                picked = by_load[rows, cols, lb[:, None, :]]                  # [count, rows, cols]
                factor += (w_r[:, None] * w_c[None, :])[None] * w_l[:, None, :] * picked
    return (nominal * factor).sum(axis=1)


# ---------------------------------------------------------------------------------------------
# NeuroSim V1.5 export


def neurosim_rows(ideal_code, output, adc_bits):
    """NeuroSim's output-error rows (code, mean, std, count) for k = 0..2^adc_bits, in order, from
    columns' ideal MACs (sum over active rows of the cell levels) and solved outputs in the same
    steps of one level's current: ideal code round(MAC) clipped to [0, 2^adc_bits]; mean = k +
    mean(output - MAC), std = its population standard deviation, over the columns of code k; a
    code no column reached takes the error interpolated linearly between the nearest codes that
    were (constant beyond them), with count 0. The same as `xbar table --neurosim-csv`."""
    mac = np.asarray(ideal_code, dtype=float).ravel()
    error = np.asarray(output, dtype=float).ravel() - mac
    top = 2 ** int(adc_bits)
    code = np.clip(np.floor(mac + 0.5), 0, top).astype(np.int64)
    count = np.bincount(code, minlength=top + 1)
    seen = np.flatnonzero(count)
    mean = np.bincount(code, weights=error, minlength=top + 1)[seen] / count[seen]
    std = np.sqrt(np.bincount(code, weights=(error - mean[np.searchsorted(seen, code)]) ** 2,
                              minlength=top + 1)[seen] / count[seen])
    codes = np.arange(top + 1)
    if len(seen):
        mean, std = np.interp(codes, seen, mean), np.interp(codes, seen, std)
    else:
        mean, std = np.zeros(top + 1), np.zeros(top + 1)
    return [(int(k), float(k + mean[k]), float(std[k]), int(count[k])) for k in codes]


def _level_step(table):
    """I_0 and the current of one level step, (I_{L-1} - I_0) / (L - 1): NeuroSim's ADC step."""
    current = table.device_current
    return current[0], (current[-1] - current[0]) / (len(current) - 1)


def neurosim_csv(table, path, adc_bits, levels=None, inputs=None):
    """Writes NeuroSim V1.5's output-error CSV (read with --output_noise -1 --output_noise_file;
    columns output,mean,std, one row per ideal ADC code 0..2^adc_bits, docs/tables.md) to path,
    atomically. NeuroSim reads a column in steps of one level's current over an off-state
    reference: output = (I - n_active I_0) / (I_{L-1} - I_0) * (L - 1). Without levels and inputs,
    from the table's own sampled solves (/samples/*, as `xbar table --neurosim-csv`); with a
    layer's levels [rows, cols] and input bits [count, rows], from the table method's prediction
    of that layer. Select cells only (NeuroSim's inputs are bits). Returns the rows (code, mean,
    std, count)."""
    if not table.has_select:
        raise ValueError("neurosim_csv: NeuroSim indexes its output error by the MAC of binary inputs: "
                         "it needs select cells (1t1r, 2t-sonos), not 1r")
    i_0, step = _level_step(table)
    if levels is None and inputs is None:
        if table.sample_active_rows is None:
            raise ValueError("neurosim_csv: the table has no /samples/active_rows (written by an older xbar table): "
                             "give levels and inputs")
        mac, current, active_rows = table.sample_level_sum, table.sample_current, table.sample_active_rows
    elif levels is None or inputs is None:
        raise ValueError("neurosim_csv: give both levels and inputs, or neither")
    else:
        active = (np.atleast_2d(np.asarray(inputs, dtype=float)) != 0).astype(float)
        mac, active_rows = active @ np.asarray(levels, dtype=float), active.sum(axis=1)
        current = ArrayModel(table, levels).column_currents(inputs)
    rows = neurosim_rows(mac, (current - active_rows[:, None] * i_0) / step, adc_bits)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".neurosim-", suffix=".csv", dir=folder)
    try:
        with os.fdopen(handle, "w") as f:
            f.write("output,mean,std\n")
            for code, mean, std, _ in rows:
                f.write(f"{code},{mean:.17g},{std:.17g}\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return rows
