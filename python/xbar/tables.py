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
import warnings

import h5py
import numpy as np

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
# Cell law from /cell/current


def _ln_conductance(table):
    """ln g on the grid, g = I / (v_sup - v_bl) > 0 (I has the sign of v_sup - v_bl). On the
    diagonal v_sup = v_bl, where I = 0, g is its limit: extrapolated linearly in v_sup from the
    two nearest grid points on the side with room."""
    dv = table.v_sup[None, :] - table.v_bl[:, None]                          # [n_vbl, n_vsup]
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_g = np.log(table.cell_current / dv[None])
    scale = max(np.ptp(table.v_sup), np.ptp(table.v_bl))
    bad_bl, bad_sup = np.nonzero(np.abs(dv) <= 1e-9 * scale)
    n_sup = len(table.v_sup)
    for b, s in zip(bad_bl, bad_sup):
        s1, s2 = (s + 1, s + 2) if s + 2 < n_sup else (s - 1, s - 2)
        t = (table.v_sup[s] - table.v_sup[s1]) / (table.v_sup[s2] - table.v_sup[s1])
        ln_g[:, b, s] = ln_g[:, b, s1] + t * (ln_g[:, b, s2] - ln_g[:, b, s1])
    if not np.isfinite(ln_g).all():
        raise ValueError("/cell/current: the cell law is not positive for v_sup > v_bl")
    return ln_g


class _Axis:
    """Locates x on a grid axis: cell k with axis[k] <= x <= axis[k+1], fraction t in [0, 1]
    (clamped beyond the ends) and d t/dx (0 where clamped). Uniform axes (as `xbar table` writes
    them) are located by arithmetic, others by bisection."""

    def __init__(self, axis):
        self.axis = axis
        step = np.diff(axis)
        self.uniform = np.allclose(step, step[0], rtol=1e-9, atol=0)
        self.x0, self.inv_h = axis[0], 1.0 / step[0]

    def locate(self, x):
        last = len(self.axis) - 2
        if self.uniform:
            f = (x - self.x0) * self.inv_h
            k = np.clip(np.floor(f), 0, last).astype(np.intp)
            t, inv_h = f - k, self.inv_h
        else:
            k = np.clip(np.searchsorted(self.axis, x, side="right") - 1, 0, last)
            h = self.axis[k + 1] - self.axis[k]
            t, inv_h = (x - self.axis[k]) / h, 1.0 / h
        inside = (t >= 0) & (t <= 1)
        return k, np.clip(t, 0.0, 1.0), np.where(inside, inv_h, 0.0)


class _CellLaw:
    """I(level, v_bl, v_sup) = g (v_sup - v_bl), ln g bilinear on the grid (held constant beyond
    it), and the partials dI/dv_bl = g (dv dln g/dv_bl - 1), dI/dv_sup = g (dv dln g/dv_sup + 1)."""

    def __init__(self, table):
        self.ln_g = table._ln_g.ravel()
        self.n_bl, self.n_sup = table._ln_g.shape[1:]
        self.bl, self.sup = _Axis(table.v_bl), _Axis(table.v_sup)

    def current(self, levels, v_bl, v_sup):
        """(I, dI/dv_bl, dI/dv_sup), arrays of the broadcast shape."""
        kb, tb, inv_hb = self.bl.locate(v_bl)
        ks, ts, inv_hs = self.sup.locate(v_sup)
        corner = (levels * self.n_bl + kb) * self.n_sup + ks
        g00 = self.ln_g.take(corner)
        g01 = self.ln_g.take(corner + 1)
        g10 = self.ln_g.take(corner + self.n_sup)
        g11 = self.ln_g.take(corner + self.n_sup + 1)
        along_sup0 = g00 + ts * (g01 - g00)
        along_sup1 = g10 + ts * (g11 - g10)
        ln_g = along_sup0 + tb * (along_sup1 - along_sup0)
        d_bl = (along_sup1 - along_sup0) * inv_hb
        d_sup = ((1 - tb) * (g01 - g00) + tb * (g11 - g10)) * inv_hs
        g = np.exp(ln_g)
        dv = v_sup - v_bl
        return g * dv, g * (dv * d_bl - 1.0), g * (dv * d_sup + 1.0)


# ---------------------------------------------------------------------------------------------
# The table method: linear response of the ideal currents to the line resistance


def row_kernel(cols, r_row, r_driver):
    """Green's function of a row line (ohm), k_row [cols, cols]: a current drawn from row node
    r(i, j') flows from the driver through r_driver and min(j, j') + 1 row segments before it
    splits, so it lowers r(i, j) by k_row[j, j'] I, k_row[j, j'] = r_driver + r_row (min(j, j') + 1).
    A resistance of 0 merges its nodes, as in the engine: the kernel loses that term."""
    j = np.arange(cols)
    return r_driver + r_row * (np.minimum.outer(j, j) + 1.0)


def column_kernel_times(v, r_col, r_sense):
    """K_col v for v [rows, ...], in O(rows): a current injected into bit-line node c(i', j)
    flows down through the segments below row max(i, i') and r_sense, raising c(i, j) by
    K_col[i, i'] I, K_col[i, i'] = r_sense + r_col (rows - max(i, i')). So K_col v is
    r_sense sum(v) + r_col D, D_i = sum_{m >= i} C_m, C_m = sum_{i' <= m} v_i'."""
    prefix = np.cumsum(v, axis=0)
    return r_sense * prefix[-1:] + r_col * np.cumsum(prefix[::-1], axis=0)[::-1]


def column_modes(rows, r_col, r_sense, modes, iterations=200):
    """The largest eigenpairs of the bit-line kernel: (lam [R], u [rows, R]), K_col ~ u lam u^T,
    by block power iteration with Rayleigh-Ritz (K_col is the inverse of a chain Laplacian: its
    eigenvalues fall as 1/(2m+1)^2, so a block of R + 3 vectors converges in a few dozen steps)."""
    if (r_col == 0 and r_sense == 0) or modes == 0:
        return np.zeros(0), np.zeros((rows, 0))
    block = min(rows, modes + 3)
    basis = np.linalg.qr(np.cos(np.pi * np.outer(np.arange(rows) + 0.5, np.arange(block) + 0.5) / rows))[0]
    for _ in range(iterations):
        basis = np.linalg.qr(column_kernel_times(basis, r_col, r_sense))[0]
    lam, vectors = np.linalg.eigh(basis.T @ column_kernel_times(basis, r_col, r_sense))
    order = np.argsort(lam)[::-1][:min(modes, rows)]
    lam, u = lam[order], basis @ vectors[:, order]
    keep = lam > 1e-12 * lam[0]
    return lam[keep], u[:, keep]


class ArrayModel:
    """The table method for one array of fixed levels, applied to batches of input vectors.

    Cell (i, j) of an active row draws I_ij = I(level, v_bl, v_row) from the tabulated law. The
    method has two parts:

    1. Row lines: a row's cells are all on or all off (the select bit is per row), so each row's
       IR drop depends on that row alone. It is solved once per array (every row on, bit lines at
       v_sense; fixed-point iteration rho = k_row I(v_read - rho)), giving each cell's row-loaded
       current w_ij and its sensitivity to its bit line g_ij = dI/dv_bl (< 0) at that bias.
    2. Bit lines: every active cell raises the bit line under the others. To first order in the
       line resistance, I_ij = a_i (w_ij + g_ij gamma_ij), gamma_ij = sum_i' k_col[i, i'] I_i'j.
       With k_col ~ sum_p lam_p u_p u_p^T (R modes) and A_pj = sum_i u_ip I_ij, self-consistency
       reads, per vector and column, (1 - M lam) A = A0 with
           A0_q = sum_i a_i u_iq w_ij,   M_qp = sum_i a_i u_iq u_ip g_ij,
       and the column current is J_j = sum_i a_i w_ij + sum_p (sum_i a_i u_ip g_ij) lam_p A_p.
       Every sum over i is a product of the input matrix [count, rows] with a fixed
       [rows, cols] matrix: 1 + 2R + R(R+1)/2 of them, stacked into one matrix product, then
       count x cols solves of R x R. The feedback (g < 0) keeps 1 - M lam well conditioned.
       modes = R, default 2 (8 products, a 2 x 2 solve): one mode follows a column's current
       about as well, but the difference of two columns (a signed output) needs the second to
       see where in the column the active cells sit (docs/tables.md measures R = 1 to 4).

    3. Inactive cells: a cell whose select bit is 0 still leaks through its off select FET
       (/device/current_off of its level, a pA for the EKV select at 0 V gate). Each adds that
       current at nominal bias: J_j += sum_i (1 - a_i) l_ij, folded into the drive product as
       sum_i l_ij - sum_i a_i l_ij. It is a tiny share of any column with an active cell, but
       it is all there is of a column with none, and its sign decides how an ADC without a
       code at 0 rounds the signed output (I+ - I-) of such a column pair.

    1r cells (row driven at x_i v_read, every cell conducting) need a linear law and v_sense = 0:
    currents then scale with x_i, and the conductances g_ij are the same for every input.
    cell_scale [rows, cols]: each cell's programmed current over its level's nominal current
    (programming error: a V_T shift scales a subthreshold cell's current and its conductances
    alike). cell_weight [rows, cols]: each cell's programmed V_T (SONOS) or conductance, for its
    leakage, interpolated between the levels' (/device/vt or /device/conductance; the nominal
    level's without it). What the method leaves out: the curvature of the law in
    the bit-line voltage (second order in the line resistance), the bit-line modes beyond R, the
    row drops' response to the bit lines, and the leakage's response to the line resistance.
    """

    def __init__(self, table, levels, modes=2, cell_scale=None, cell_weight=None):
        levels = np.asarray(levels)
        n_levels = len(table.device_current)
        if levels.ndim != 2 or levels.size == 0:
            raise ValueError(f"levels must be a 2-D array [rows, cols], got shape {levels.shape}")
        if levels.min() < 0 or levels.max() > n_levels - 1 or np.any(levels != np.round(levels)):
            raise ValueError(f"levels must be integers in [0, {n_levels - 1}]")
        self.table, self.levels = table, levels.astype(np.intp)
        self.rows, self.cols = levels.shape
        self.has_select = table.has_select
        law = _CellLaw(table)
        v_read, v_sense = table.attr("v_read"), table.attr("v_sense")
        if not self.has_select:
            _require_linear_1r(table, law)
        k_row = row_kernel(self.cols, table.attr("r_row"), table.attr("r_driver"))
        v_bl = np.full(self.levels.shape, v_sense)
        self.row_drop = self._row_drops(law, k_row, v_bl, v_read)
        # The tabulated law relative to its nominal point, times I_k: exactly I_k without drop.
        w, g, _ = law.current(self.levels, v_bl, v_read - self.row_drop)
        unit = table.device_current[self.levels] / law.current(self.levels, v_bl, np.full(v_bl.shape, v_read))[0]
        if cell_scale is not None:
            unit = unit * np.broadcast_to(np.asarray(cell_scale, dtype=float), unit.shape)
        w, g = w * unit, g * unit
        self.lam, u = column_modes(self.rows, table.attr("r_col"), table.attr("r_sense"), modes)
        r = len(self.lam)
        self.pairs = [(p, q) for p in range(r) for q in range(p + 1)]
        # drive terms (times a_i, or x_i for 1r), then conduction terms (a_i, or 1 for 1r): for
        # select cells one matrix [rows, (1 + 2R + R(R+1)/2) cols], one product per batch
        # inactive cells' leakage: sum_i (1 - a_i) l_ij = leak_total_j - sum_i a_i l_ij
        leak = self._leakage(cell_weight)
        self._leak_total = leak.sum(axis=0)
        terms = [w - leak] + [u[:, p, None] * w for p in range(r)] + [u[:, p, None] * g for p in range(r)]
        terms += [u[:, p, None] * u[:, q, None] * g for p, q in self.pairs]
        stacked = np.stack(terms, axis=1)                                   # [rows, terms, cols]
        if self.has_select:
            self._terms, self._fixed = stacked.reshape(self.rows, -1), None
        else:
            self._terms = stacked[:, :r + 1].reshape(self.rows, -1)
            self._fixed = stacked[:, r + 1:].sum(axis=0)[None]

    def _leakage(self, cell_weight):
        """l [rows, cols]: each cell's current when its row is inactive (/device/current_off), at its
        programmed weight when given (linear between the levels' weights, held beyond them)."""
        table = self.table
        if not self.has_select:
            return np.zeros(self.levels.shape)
        if cell_weight is None:
            return table.device_current_off[self.levels]
        order = np.argsort(table.device_weight)
        return np.interp(np.asarray(cell_weight, dtype=float), table.device_weight[order],
                         table.device_current_off[order])

    def _row_drops(self, law, k_row, v_bl, v_read, tol=1e-12, max_iterations=200):
        """rho [rows, cols]: each row's IR drop with every cell on, rho = k_row I(v_read - rho)."""
        rho = np.zeros(self.levels.shape)
        if not k_row.any():
            return rho
        for _ in range(max_iterations):
            current = law.current(self.levels, v_bl, v_read - rho)[0]
            new = current @ k_row
            moved = np.abs(new - rho).max()
            rho = new
            if moved <= tol * max(v_read, 1e-3):
                return rho
        warnings.warn(f"xbar.tables: the row lines' IR drop did not settle in {max_iterations} iterations "
                      f"(last change {moved:.3g} V): the row resistance is outside the table method's domain",
                      RuntimeWarning, stacklevel=3)
        return rho

    def column_currents(self, inputs, with_ideal=False):
        """Column currents [count, cols] (A) for inputs [count, rows] (bits for select cells,
        reals for 1r); with_ideal: also the row-loaded currents without bit-line drop (both with
        the inactive cells' leakage)."""
        inputs = np.atleast_2d(np.asarray(inputs, dtype=float))
        if inputs.shape[1] != self.rows:
            raise ValueError(f"inputs are {inputs.shape}, expected [count, {self.rows}]")
        active = (inputs != 0).astype(float) if self.has_select else inputs
        count, r = len(inputs), len(self.lam)
        product = (active @ self._terms).reshape(count, -1, self.cols)
        drive = product[:, :r + 1]
        conduct = product[:, r + 1:] if self.has_select else np.broadcast_to(self._fixed, (count,) + self._fixed.shape[1:])
        j0 = drive[:, 0] + self._leak_total
        if r == 0:
            check_domain(self.table, j0, j0)
            return (j0, j0) if with_ideal else j0
        # (1 - M lam) A = A0, every entry a [count, cols] array
        system = [[(1.0 if p == q else 0.0) for q in range(r)] for p in range(r)]
        for k, (p, q) in enumerate(self.pairs):
            m_pq = conduct[:, r + k]
            system[p][q] = system[p][q] - m_pq * self.lam[q]
            if p != q:
                system[q][p] = -m_pq * self.lam[p]
        amplitude = _solve_small(system, [drive[:, 1 + q] for q in range(r)])
        j = j0 + sum(conduct[:, p] * (self.lam[p] * amplitude[p]) for p in range(r))
        check_domain(self.table, j, j0)
        return (j, j0) if with_ideal else j


def _solve_small(system, rhs):
    """x with system x = rhs, for a small r x r system whose entries are arrays (one system per
    element): Gaussian elimination without pivoting, element by element. 1 - M lam has the
    leading minors of the positive definite 1 - lam^1/2 M lam^1/2 (M <= 0), so no pivot is 0."""
    r = len(rhs)
    a = [row[:] for row in system]
    b = list(rhs)
    for k in range(r):
        for i in range(k + 1, r):
            factor = a[i][k] / a[k][k]
            for j in range(k + 1, r):
                a[i][j] = a[i][j] - factor * a[k][j]
            b[i] = b[i] - factor * b[k]
    x = [None] * r
    for k in reversed(range(r)):
        x[k] = (b[k] - sum(a[k][j] * x[j] for j in range(k + 1, r))) / a[k][k]
    return x


def _require_linear_1r(table, law):
    """1r cells: the method scales currents with the input, which needs a linear law through
    0 V and v_sense = 0."""
    if table.attr("v_sense") != 0:
        raise ValueError(f"table method: 1r cells need v_sense = 0 (the table has {table.attr('v_sense')} V)")
    ln_g = table._ln_g
    if np.ptp(ln_g, axis=(1, 2)).max() > 1e-6:
        raise ValueError("table method: 1r cells need a linear law (the table's cell current is not "
                         "proportional to the cell voltage)")


#: The largest relative change of a column current (|J - J0| / J0, J0 without bit-line drop)
#: the table method is used for without a warning. Measured against the engine: the error left
#: is under 10 % of the change up to 0.7 (docs/tables.md, "The table method").
DEVIATION_LIMIT = 0.5


class DomainWarning(UserWarning):
    """A prediction outside the table's domain: column loads beyond what the table sampled, or a
    line-resistance correction too large for the table method."""


def check_domain(table, current, current_ideal, floor=1e-3):
    """Warns (DomainWarning) when a column's load (ideal current / full_scale_current) exceeds
    the largest the table sampled (/domain/load), or its predicted relative change exceeds
    DEVIATION_LIMIT; counts the (vector, column) pairs whose ideal current exceeds floor times
    the largest. Returns the number of pairs outside."""
    j0, current = np.asarray(current_ideal, dtype=float), np.asarray(current, dtype=float)
    top_ideal = j0.max(initial=0.0)
    if top_ideal <= 0:
        return 0
    messages, outside = [], np.zeros(j0.shape, dtype=bool)
    full_scale = table.attr("full_scale_current")
    if table.domain is not None and top_ideal > table.domain["load"][1] * full_scale * (1 + 1e-9):
        top = table.domain["load"][1]
        outside |= j0 > top * full_scale * (1 + 1e-9)
        messages.append(f"column load up to {top_ideal / full_scale:.4g} (in units of I_max), above the largest "
                        f"the table sampled ({top:.4g})")
    large = (np.abs(current - j0) > DEVIATION_LIMIT * j0) & (j0 > floor * top_ideal)
    if large.any():
        change = np.abs(current[large] / j0[large] - 1).max()
        messages.append(f"the line resistance changes a column current by up to {100 * change:.0f} %, "
                        f"more than the table method's {100 * DEVIATION_LIMIT:.0f} %")
        outside |= large
    if messages:
        warnings.warn(f"xbar.tables: {int(outside.sum())} of {outside.size} column currents outside the "
                      f"table's domain: " + "; ".join(messages), DomainWarning, stacklevel=3)
    return int(outside.sum())


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
