"""The table method of xbar's effective-weight tables (docs/tables.md, "The table method"):
column currents with line resistance and the real cell law, predicted from a table's tabulated
cell law and its line resistances without the engine. numpy only. ``xbar.tables`` is the front
door: it reads TABLE.h5 into a ``Table`` and re-exports what is public here.

Contents: the cell law on the table's grid (_CellLaw), the row- and bit-line kernels and their
smooth modes, ArrayModel (the method itself), and the domain check (DomainWarning).
"""
import warnings

import numpy as np

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
       The system is solved in its symmetric form S B = lam^1/2 A0, S = 1 - lam^1/2 M lam^1/2
       (positive definite: M <= 0), B = lam^1/2 A, J_j = j0_j + sum_p (lam_p^1/2 sum_i a_i u_ip
       g_ij) B_p: the matrices carry the factors lam^1/2, so the products give S - 1, lam^1/2 A0
       and the coupling terms directly.
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
        root = np.sqrt(self.lam)
        terms = [w - leak] + [root[p] * u[:, p, None] * w for p in range(r)]
        terms += [root[p] * u[:, p, None] * g for p in range(r)]
        terms += [-root[p] * root[q] * u[:, p, None] * u[:, q, None] * g for p, q in self.pairs]
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

    #: input vectors per matrix product in column_currents. The response is element-wise work on
    #: [vectors, cols] arrays: in blocks of this many vectors its arrays stay in cache and their
    #: memory is reused from block to block, where whole-batch temporaries (8 MB for 4096 vectors of
    #: 256 columns) cost more in fresh pages than in arithmetic
    block = 256

    def column_currents(self, inputs, with_ideal=False, out=None):
        """Column currents [count, cols] (A) for inputs [count, rows] (bits for select cells, any
        number type, nonzero = active; reals for 1r); with_ideal: also the row-loaded currents
        without bit-line drop (both with the inactive cells' leakage). out: a float array
        [count, cols] to write the currents into (returned)."""
        inputs = np.atleast_2d(np.asarray(inputs))
        if inputs.dtype.kind not in "biuf":
            inputs = inputs.astype(float)
        if inputs.ndim != 2 or inputs.shape[1] != self.rows:
            raise ValueError(f"inputs are {inputs.shape}, expected [count, {self.rows}]")
        count = len(inputs)
        current = np.empty((count, self.cols)) if out is None else out
        if current.shape != (count, self.cols):
            raise ValueError(f"out is {current.shape}, expected [{count}, {self.cols}]")
        ideal = np.empty((count, self.cols)) if with_ideal else None
        # a row whose input is 0 in every vector adds nothing to any product: leave it out when
        # that saves a good share of the product (a layer after ReLU has whole channels at 0)
        rows = np.flatnonzero(inputs.any(axis=0))
        if len(rows) > 0.9 * self.rows:
            rows = None
        terms = self._terms if rows is None else self._terms[rows]
        size = min(self.block, count)
        picked = None if rows is None else np.empty((size, len(rows)), inputs.dtype)
        active, product = np.empty((size, len(terms))), np.empty((size, terms.shape[1]))
        scratch = np.empty((2, size, self.cols))
        tally = _DomainTally(self.table)
        for start in range(0, count, self.block):
            n = min(self.block, count - start)
            part = inputs[start:start + n] if rows is None else np.take(inputs[start:start + n], rows, axis=1,
                                                                        out=picked[:n])
            if self.has_select:
                np.not_equal(part, 0, out=active[:n])
            else:
                np.copyto(active[:n], part)
            drive, conduct = self._products(np.matmul(active[:n], terms, out=product[:n]))
            j = self._response(drive, conduct, current[start:start + n], scratch[:, :n])
            tally.add(j, drive[:, 0])
            if ideal is not None:
                ideal[start:start + n] = drive[:, 0]
        tally.finish()
        return (current, ideal) if with_ideal else current

    def _products(self, product):
        """(drive [count, 1 + R, cols], conduct [count or 1, R + R(R+1)/2, cols]) of one block's
        product, the response's work space: the drive terms (j0, the leakage added here;
        lam^1/2 A0), then the conduction terms (lam_p^1/2 sum_i a_i u_ip g_ij; S - 1), for 1r a
        copy of the fixed ones."""
        r = len(self.lam)
        product = product.reshape(len(product), -1, self.cols)
        drive = product[:, :r + 1]
        drive[:, 0] += self._leak_total
        conduct = product[:, r + 1:] if self.has_select else self._fixed.copy()
        return drive, conduct

    def _response(self, drive, conduct, out, scratch):
        """The column currents J = j0 + sum_p (lam_p^1/2 c_p) B_p of one block, written into out,
        S B = lam^1/2 A0 solved per (vector, column) by elimination without pivoting (S is
        positive definite), in place in the S and A0 slots of conduct and drive; scratch: two
        arrays of out's shape."""
        r = len(self.lam)
        if r == 0:
            np.copyto(out, drive[:, 0])
            return out
        system = {pair: conduct[:, r + k] for k, pair in enumerate(self.pairs)}
        for p in range(r):
            system[p, p] += 1.0
        b = [drive[:, 1 + q] for q in range(r)]
        factor, term = scratch[0, :len(conduct)], scratch[1]
        for k in range(r):
            for i in range(k + 1, r):
                np.divide(system[i, k], system[k, k], out=factor)
                for j in range(k + 1, i + 1):
                    system[i, j] -= np.multiply(factor, system[j, k], out=term[:len(factor)])
                b[i] -= np.multiply(factor, b[k], out=term)
        for k in reversed(range(r)):
            for j in range(k + 1, r):
                b[k] -= np.multiply(system[j, k], b[j], out=term)
            b[k] /= system[k, k]
        np.add(drive[:, 0], np.multiply(conduct[:, 0], b[0], out=b[0]), out=out)
        for p in range(1, r):
            out += np.multiply(conduct[:, p], b[p], out=b[p])
        return out


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
    tally = _DomainTally(table, floor)
    tally.add(np.asarray(current, dtype=float), np.asarray(current_ideal, dtype=float))
    return tally.finish(stacklevel=4)


class _DomainTally:
    """check_domain over a batch given block by block: counts the loads above the sampled ones
    per block, keeps the few pairs whose change exceeds DEVIATION_LIMIT, and applies the floor
    (relative to the batch's largest ideal current) once all blocks are in."""

    def __init__(self, table, floor=1e-3):
        self.table, self.floor = table, floor
        top = None if table.domain is None else table.domain["load"][1]
        self.load_limit = None if top is None else top * table.attr("full_scale_current") * (1 + 1e-9)
        self.top_ideal, self.over_load, self.size = 0.0, 0, 0
        self.changed = []  # (current, ideal, ideal above the load limit) of the pairs changed by more than the limit

    def add(self, current, current_ideal):
        self.size += current_ideal.size
        self.top_ideal = max(self.top_ideal, current_ideal.max(initial=0.0))
        over = None
        if self.load_limit is not None:
            over = current_ideal > self.load_limit
            self.over_load += int(np.count_nonzero(over))
        changed = np.abs(current - current_ideal) > DEVIATION_LIMIT * current_ideal
        if changed.any():
            self.changed.append((current[changed], current_ideal[changed],
                                 over[changed] if over is not None else np.zeros(np.count_nonzero(changed), bool)))

    def finish(self, stacklevel=3):
        """Warns as check_domain; returns the number of pairs outside."""
        if self.top_ideal <= 0:
            return 0
        messages, outside = [], self.over_load
        if self.over_load:
            full_scale = self.table.attr("full_scale_current")
            messages.append(f"column load up to {self.top_ideal / full_scale:.4g} (in units of I_max), above the "
                            f"largest the table sampled ({self.table.domain['load'][1]:.4g})")
        current, ideal, over = (np.concatenate(v) for v in zip(*self.changed)) if self.changed else (np.zeros(0),) * 3
        large = ideal > self.floor * self.top_ideal
        if large.any():
            change = np.abs(current[large] / ideal[large] - 1).max()
            messages.append(f"the line resistance changes a column current by up to {100 * change:.0f} %, "
                            f"more than the table method's {100 * DEVIATION_LIMIT:.0f} %")
            outside += int(np.count_nonzero(large & ~over.astype(bool)))
        if messages:
            warnings.warn(f"xbar.tables: {outside} of {self.size} column currents outside the "
                          f"table's domain: " + "; ".join(messages), DomainWarning, stacklevel=stacklevel)
        return outside
