"""Effective-weight tables of xbar (`xbar table CONFIG -o TABLE.h5`): reader and predictor.

numpy and h5py only. The table layout is described in docs/tables.md.

    from xbar import tables as xt          # PYTHONPATH=build/python
    table = xt.load("TABLE.h5")
    i_pred = xt.predict(table, levels, inputs)   # [count, cols] column currents (A)
    i_nom = xt.ideal(table, levels, inputs)      # the same without parasitics

levels: [rows, cols] integer levels 0..L-1 of the physical array; inputs: [count, rows], bits
for select cells (1t1r, 2t-sonos), reals for 1r cells (row voltage = input * v_read).

Two prediction methods:

- "ir" (default): the array's resistive network solved with the tabulated cell law. Every
  active cell conducts I(level, v_bl, v_sup) interpolated from /cell/current (bilinear in
  ln g, g = I / (v_sup - v_bl)); the bit lines and row lines are resistor chains with the
  geometry recorded in the table. The unknowns are the bit-line voltages c(i,j) and the row-node
  voltages r(i,j); each chain is solved by Newton's method (a tridiagonal system per chain),
  alternating columns and rows (block Gauss-Seidel) until no voltage moves by more than tol.
- "correction": each active cell's nominal current times the mean I_actual/I_ideal of its
  (row, column, level, column load) bin of /correction/mean, interpolated linearly between bin
  centres in row, column and load; O(cells), no iteration, no geometry needed.
"""

from dataclasses import dataclass, field

import warnings

import h5py
import numpy as np

__all__ = ["Table", "load", "ideal", "predict", "predict_ir", "predict_correction",
           "column_errors"]


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


def predict(table, levels, inputs, method="ir", **options):
    """Predicted column currents [count, cols] (A) with line resistance and the real cell law.
    method: "ir" (network solve with the tabulated law) or "correction" (binned statistics)."""
    if method == "ir":
        return predict_ir(table, levels, inputs, **options)
    if method == "correction":
        return predict_correction(table, levels, inputs)
    raise ValueError(f"method must be 'ir' or 'correction', not {method!r}")


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
# IR-drop network with the tabulated law


def _thomas(diag, off, rhs):
    """Solves tridiagonal systems along axis 0 (batched over the other axes):
    off x[k-1] + diag[k] x[k] + off x[k+1] = rhs[k], off a scalar or broadcastable array."""
    n = diag.shape[0]
    c = np.empty_like(diag)
    d = np.empty_like(rhs)
    c[0] = off / diag[0]
    d[0] = rhs[0] / diag[0]
    for k in range(1, n):
        m = diag[k] - off * c[k - 1]
        c[k] = off / m
        d[k] = (rhs[k] - off * d[k - 1]) / m
    x = np.empty_like(rhs)
    x[-1] = d[-1]
    for k in range(n - 2, -1, -1):
        x[k] = d[k] - c[k] * x[k + 1]
    return x


def _chain_step(v, v_source, injected, d_injected, r_segment, r_end):
    """One Newton update of resistor chains along axis 0, source at the last index:

        v_source -r_end- v[K-1] -r_segment- v[K-2] ... v[0]

    with cell current injected[k] flowing into node k (derivative d_injected[k] in v[k]).
    KCL, currents leaving node k: F_k = sum over neighbours n of G (v_k - v_n) - injected_k = 0,
    J = tridiag(-G_seg, sum G - d_injected, -G_seg), dv = -J^-1 F. r_segment = 0 merges the
    chain into one node; r_end = 0 with r_segment = 0 fixes it at v_source (dv = 0).
    Returns the update dv (shape of v)."""
    if r_segment == 0:
        if r_end == 0:
            return np.zeros_like(v)
        g_end = 1.0 / r_end
        f = g_end * (v[-1] - v_source) - injected.sum(axis=0)
        return np.broadcast_to(-f / (g_end - d_injected.sum(axis=0)), v.shape)
    g, g_end = 1.0 / r_segment, 1.0 / r_end
    up = np.zeros_like(v)
    up[1:] = v[1:] - v[:-1]
    down = np.zeros_like(v)
    down[:-1] = v[:-1] - v[1:]
    down[-1] = (g_end / g) * (v[-1] - v_source)
    f = g * (up + down) - injected
    diag = np.full(v.shape, 2 * g)      # g per neighbour: one less at each end, plus g_end
    diag[0] -= g
    diag[-1] += g_end - g
    return _thomas(diag - d_injected, -g, -f)


def _limited(dv, max_step):
    """dv scaled so that no node moves by more than max_step volts (Newton damping)."""
    largest = np.abs(dv).max(initial=0.0)
    return dv * min(1.0, max_step / largest) if largest > 0 else dv


class _Network:
    """The array's line network for a batch of vectors, state [count, rows, cols]: bit-line
    voltages c(i,j) and row-node voltages r(i,j). Column j: c(0,j) ... c(M-1,j) -r_col- s(j)
    -r_sense- V_sense; row i: V_row(i) -r_driver- a(i) -r_row- r(i,0) ... r(i,N-1)."""

    def __init__(self, table, law, levels, v_row_source, active):
        shape = (len(v_row_source),) + levels.shape
        self.law, self.active = law, active
        self.levels = np.broadcast_to(levels, shape)
        self.v_sense = table.attr("v_sense")
        self.v_row_source = v_row_source
        self.r_col, self.r_row = table.attr("r_col"), table.attr("r_row")
        r_sense, r_driver = table.attr("r_sense"), table.attr("r_driver")
        self.col_end = self.r_col + r_sense if self.r_col > 0 else r_sense
        self.row_end = self.r_row + r_driver if self.r_row > 0 else r_driver
        self.v_col = np.full(shape, self.v_sense)
        self.v_row = np.broadcast_to(v_row_source[:, :, None], shape).copy()

    def cells(self):
        """(I, dI/dv_bl, dI/dv_sup) of every cell, 0 where inactive."""
        return [self.active * x for x in self.law.current(self.levels, self.v_col, self.v_row)]

    def column_step(self, max_step):
        """Newton update of the bit lines (chain axis: rows, source below the last row)."""
        if self.r_col == 0 and self.col_end == 0:
            return 0.0
        i, di_bl, _ = self.cells()
        along = lambda a: np.moveaxis(a, 1, 0)                # noqa: E731
        dv = _limited(np.moveaxis(_chain_step(along(self.v_col), self.v_sense, along(i),
                                              along(di_bl), self.r_col, self.col_end), 0, 1), max_step)
        self.v_col += dv
        return np.abs(dv).max(initial=0.0)

    def row_step(self, max_step):
        """Newton update of the row lines (chain axis: columns reversed, source at column 0);
        a cell draws its current out of its row node."""
        if self.r_row == 0 and self.row_end == 0:
            return 0.0
        i, _, di_sup = self.cells()
        along = lambda a: np.moveaxis(a, 2, 0)[::-1]          # noqa: E731
        dv = _chain_step(along(self.v_row), self.v_row_source[None], -along(i), -along(di_sup),
                         self.r_row, self.row_end)
        dv = _limited(np.moveaxis(dv[::-1], 0, 2), max_step)
        self.v_row += dv
        return np.abs(dv).max(initial=0.0)

    def solve(self, tol, max_sweeps, max_step):
        """Block Gauss-Seidel over columns and rows until no voltage moves by more than tol."""
        for _ in range(max_sweeps):
            moved = max(self.column_step(max_step), self.row_step(max_step))
            if moved <= tol:
                return
        warnings.warn(f"xbar.tables: IR model not converged after {max_sweeps} sweeps "
                      f"(last update {moved:.3g} V)", RuntimeWarning)

    def column_currents(self):
        return self.cells()[0].sum(axis=1)


def predict_ir(table, levels, inputs, tol=1e-10, max_sweeps=200, max_step=0.05,
               cells_per_batch=1 << 19):
    """Column currents [count, cols] (A) of the array solved with the tabulated cell law and the
    table's line resistances; inactive cells (select off) are open. Vectors are solved in
    batches of about cells_per_batch cells to bound memory."""
    levels, inputs = _check(table, levels, inputs)
    law = _CellLaw(table)
    v_source = _row_voltage(table, inputs)
    active = _active(table, inputs)
    batch = max(1, cells_per_batch // levels.size)
    out = np.empty((len(inputs), table.cols))
    for start in range(0, len(inputs), batch):
        part = slice(start, start + batch)
        network = _Network(table, law, levels, v_source[part], active[part][:, :, None])
        network.solve(tol, max_sweeps, max_step)
        out[part] = network.column_currents()
    return out
