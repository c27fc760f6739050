// The grid Newton's cell loads: batched device evaluation, local elimination of each cell's
// internal node, and the row and bit-line wire stamps (grid_newton.hpp has the equations).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/grid_state.hpp"
#include "solver/isa_clones.hpp"

namespace xbar::solver {

// Evaluation and elimination of cells [k0, k1) (at most k_block_cells), through this thread's
// chunk buffers; returns how many of their m nodes fail KCL (NaN counts).
double GridNewton::State::load_cells(CellWork& w, std::size_t k0, std::size_t k1, bool jacobian) {
  thread_local ChunkLoads loads;
  loads.reserve(k1 - k0);
  evaluate_devices(k0, k1, loads);
  if (!w.curv_u.empty()) keep_curvature(w, k0, k1, loads);
  return eliminate_cells(w, k0, k1, loads, jacobian);
}

namespace {
// curv_u, curv_lf, curv_lr and l_top of n cells (keep_curvature), on the widest instruction set.
XBAR_ISA_CLONES void curvatures(
    std::size_t n, double a, double r, const double* __restrict u_ff, const double* __restrict u_rr,
    const double* __restrict l_ff, const double* __restrict l_rr, const double* __restrict l_t, double leak,
    double* __restrict curv_u, double* __restrict curv_lf, double* __restrict curv_lr, double* __restrict l_top) {
  for (std::size_t k = 0; k < n; ++k) {
    curv_u[k] = u_ff[k] * a - u_rr[k] * r;
    curv_lf[k] = l_ff ? l_ff[k] : 0.0;  // no l_ff: a linear resistor
    curv_lr[k] = l_rr ? l_rr[k] : 0.0;
    l_top[k] = l_t[k] + leak;
  }
}
}  // namespace

// With the upper device's drain on the fixed row (dR = 0), its arguments move by
// -(1 + eta/n) dm (forward) and -(eta/n) dm (reverse): one coefficient of dm^2.
void GridNewton::State::keep_curvature(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads) const {
  const double eta_n = upper->law.eta / upper->law.n;
  const std::size_t t0 = k0 - w.base;
  const bool curved = lower_transistor != nullptr;  // else a linear resistor: no second derivative
  curvatures(k1 - k0, (1 + eta_n) * (1 + eta_n), eta_n * eta_n, loads.u_ff.data(), loads.u_rr.data(),
             curved ? loads.l_ff.data() : nullptr, curved ? loads.l_rr.data() : nullptr, loads.l_t.data(),
             curved ? devices::k_transistor_leak : 0.0, w.curv_u.data() + t0, w.curv_lf.data() + t0,
             w.curv_lr.data() + t0, w.l_top.data() + t0);
}

// Raw device loads of cells [k0, k1): batched EKV, or the resistor law.
void GridNewton::State::evaluate_devices(std::size_t k0, std::size_t k1, ChunkLoads& loads) const {
  const std::size_t m = k1 - k0;
  auto part = [&](const std::vector<double>& a) { return std::span(a).subspan(k0, m); };
  auto out = [&](std::vector<double>& a) { return std::span(a).first(m); };
  const std::vector<double>& top = upper ? v_m : v_r;
  const bool second = chebyshev();
  auto maybe = [&](std::vector<double>& a) { return second ? out(a) : std::span<double>(); };
  if (upper)
    devices::ekv_current_batch(upper->law, {part(vt_u), part(gate_u), part(v_r), part(v_m), out(loads.u_i),
                                            {}, out(loads.u_t), out(loads.u_b), maybe(loads.u_ff),
                                            maybe(loads.u_rr)});  // gates are fixed: no dI/dV_G
  if (lower_transistor) {
    devices::ekv_current_batch(lower_transistor->law, {part(vt_l), part(gate_l), part(top), part(v_c),
                                                       out(loads.l_i), {}, out(loads.l_t),
                                                       out(loads.l_b), maybe(loads.l_ff), maybe(loads.l_rr)});
  } else {
    const devices::ResistorLaw law = lower_resistor->law;
    for (std::size_t k = k0; k < k1; ++k) {
      const devices::TwoTerminalCurrent r = devices::resistor_current(law, g_l[k], top[k] - v_c[k]);
      loads.l_i[k - k0] = r.i;
      loads.l_t[k - k0] = r.di_dv;
      loads.l_b[k - k0] = -r.di_dv;
    }
  }
}

// Cell parts of f, scale, the diagonals, the couplings S_RC / S_CR and the eliminated rows
// (grid_newton.hpp), into w. The right-hand side b = -f + J_xm f_m / J_mm is left in w.rhs.
// Returns how many m nodes fail KCL. Without jacobian (cells without m only): f, scale and b alone.
XBAR_ISA_CLONES
double GridNewton::State::eliminate_cells(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads,
                                          bool jacobian) {
  const bool rows = g.rows_free(), cols = g.cols_free();
  auto run = [&](auto has_upper, auto has_rows, auto has_cols, auto with_jacobian) {
    constexpr bool U = decltype(has_upper)::value, R = decltype(has_rows)::value, C = decltype(has_cols)::value,
                   J = decltype(with_jacobian)::value;
    // Unswitched lower devices: no enable to read (1 throughout).
    return enable.empty() ? eliminate<U, R, C, false, J>(w, k0, k1, loads)
                          : eliminate<U, R, C, true, J>(w, k0, k1, loads);
  };
  using T = std::true_type;
  using F = std::false_type;
  if (!jacobian && upper) throw std::logic_error("grid newton: an internal node's row needs the Jacobian");
  if (!jacobian) {
    if (rows && cols) return run(F{}, T{}, T{}, F{});
    if (rows) return run(F{}, T{}, F{}, F{});
    if (cols) return run(F{}, F{}, T{}, F{});
    return 0;
  }
  if (upper) {
    if (rows && cols) return run(T{}, T{}, T{}, T{});
    if (rows) return run(T{}, T{}, F{}, T{});
    if (cols) return run(T{}, F{}, T{}, T{});
    return run(T{}, F{}, F{}, T{});
  }
  if (rows && cols) return run(F{}, T{}, T{}, T{});
  if (rows) return run(F{}, T{}, F{}, T{});
  if (cols) return run(F{}, F{}, T{}, T{});
  return 0;
}

// One loop without branches per case, over restrict pointers, so that it vectorises. Transistors
// get their G_leak shunt here (I += G_leak (v_t - v_b)), switched lower devices their enable
// (Switched: the enables are gathered per cell; else they are 1).
// Returns how many m nodes fail KCL (a select of doubles, so that the loop still vectorises).
// Cell k's arrays in w are at chunk index k - k0 from their chunk pointers (at local k0 - w.base).
template <bool Upper, bool Rows, bool Cols, bool Switched, bool Jacobian>
double GridNewton::State::eliminate(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads) {
  const std::size_t c_off = col_offset(), n = w.n, t0 = k0 - w.base;
  auto at = [&](std::vector<double>& a) { return a.empty() ? nullptr : a.data() + t0; };
  double* __restrict diag = Rows || Cols ? w.flat.data() + t0 : nullptr;
  double* __restrict rhs = Rows || Cols ? w.rhs.data() + t0 : nullptr;
  double* __restrict cross = Rows && Cols ? w.flat.data() + 3 * n + t0 : nullptr;
  const double leak_u = devices::k_transistor_leak, leak_l = lower_transistor ? leak_u : 0.0;
  const double* __restrict raw_u_i = loads.u_i.data();
  const double* __restrict raw_u_t = loads.u_t.data();
  const double* __restrict raw_u_b = loads.u_b.data();
  const double* __restrict raw_l_i = loads.l_i.data();
  const double* __restrict raw_l_t = loads.l_t.data();
  const double* __restrict raw_l_b = loads.l_b.data();
  const double* __restrict en = Switched ? enable.data() : nullptr;
  const double* __restrict vr = v_r.data();
  const double* __restrict vm = v_m.data();
  const double* __restrict vc = v_c.data();
  double* __restrict m_f = at(w.res_m.f);
  double* __restrict m_scale = at(w.res_m.scale);
  double* __restrict m_diag = at(w.res_m.diag);
  double* __restrict m_inv = at(w.inv_mm);
  double* __restrict m_r = at(w.j_mr);
  double* __restrict m_c = at(w.j_mc);
  double* __restrict r_f = at(w.res_r.f);
  double* __restrict r_scale = at(w.res_r.scale);
  double* __restrict r_diag = at(w.res_r.diag);
  double* __restrict c_f = at(w.res_c.f);
  double* __restrict c_scale = at(w.res_c.scale);
  double* __restrict c_diag = at(w.res_c.diag);
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  double outside = 0;
#pragma omp simd reduction(+ : outside)
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t c = k - k0;  // chunk index
    const double v_top = Upper ? vm[k] : vr[k];
    double l_i = raw_l_i[c] + leak_l * (v_top - vc[k]), l_t = raw_l_t[c] + leak_l, l_b = raw_l_b[c] - leak_l;
    if constexpr (Switched) l_i *= en[k], l_t *= en[k], l_b *= en[k];
    double u_i = 0, u_t = 0, u_b = 0;
    if constexpr (Upper) {
      u_i = raw_u_i[c] + leak_u * (vr[k] - vm[k]);
      u_t = raw_u_t[c] + leak_u;
      u_b = raw_u_b[c] - leak_u;
    }
    // Unreduced cell block: J_RR = u_t (or l_t), J_CC = -l_b; J_Rm = u_b, J_Cm = -l_t,
    // J_mR = -u_t, J_mC = l_b, J_mm = l_t - u_b.
    double i_r, jrr, jrc, jcr, jcc = -l_b, b_r, b_c;
    if constexpr (Upper) {
      const double f_m = l_i - u_i, jmm = l_t - u_b, gm = 1.0 / jmm;
      const double jrm = u_b, jcm = -l_t, jmr = -u_t, jmc = l_b;
      m_f[c] = f_m;
      m_scale[c] = std::abs(u_i) + std::abs(l_i);
      outside += std::abs(f_m) <= kcl(m_scale[c]) ? 0.0 : 1.0;
      static_assert(Jacobian, "m's eliminated row changes with v");
      m_diag[c] = jmm;
      m_inv[c] = gm;
      if constexpr (Rows) m_r[c] = jmr;
      m_c[c] = jmc;
      i_r = u_i;
      jrr = u_t - jrm * jmr * gm;
      jrc = -jrm * jmc * gm;
      jcr = -jcm * jmr * gm;
      jcc -= jcm * jmc * gm;
      b_r = -i_r + jrm * f_m * gm;
      b_c = l_i + jcm * f_m * gm;
    } else {
      i_r = l_i;
      jrr = l_t;
      jrc = l_b;
      jcr = -l_t;
      b_r = -i_r;
      b_c = l_i;
    }
    if constexpr (Rows) {
      r_f[c] = i_r;
      r_scale[c] = std::abs(i_r);
      rhs[c] = b_r;
      if constexpr (Jacobian) {
        r_diag[c] = Upper ? u_t : l_t;
        diag[c] = jrr;
        if constexpr (Cols) cross[c] = jrc;
      }
    }
    if constexpr (Cols) {
      c_f[c] = -l_i;
      c_scale[c] = std::abs(l_i);
      rhs[c_off + c] = b_c;
      if constexpr (Jacobian) {
        c_diag[c] = -l_b;
        diag[c_off + c] = jcc;
        if constexpr (Rows) cross[c_off + c] = jcr;
      }
    }
  }
  return outside;
}

// Row-line wires of cells [k0, k1) (whole rows): V_src -g_first- R(i,0) -g_row- R(i,1) ...
// Rows free only: w is the whole grid (base 0). Without jacobian: f, scale and b alone.
void GridNewton::State::stamp_row_wires(CellWork& w, std::size_t k0, std::size_t k1, bool jacobian) {
  const std::size_t n = w.n, cols = g.cols;
  FamilyResidual& res_r = w.res_r;
  const std::span<double> flat = w.flat, rhs = w.rhs;
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t j = k % cols;
    const double g_left = j == 0 ? g.g_row_first : g.g_row;
    const double v_left = j == 0 ? v_src[k / cols] : v_r[k - 1];
    const double g_right = j + 1 < cols ? g.g_row : 0.0;
    const double v_right = j + 1 < cols ? v_r[k + 1] : 0.0;
    const double current = g_left * (v_r[k] - v_left) + g_right * (v_r[k] - v_right);
    res_r.f[k] += current;
    rhs[k] -= current;
    res_r.scale[k] += g_left * (std::abs(v_r[k]) + std::abs(v_left)) + g_right * (std::abs(v_r[k]) + std::abs(v_right));
    if (!jacobian) continue;
    res_r.diag[k] += g_left + g_right;
    flat[k] += g_left + g_right;
    flat[n + k] = j == 0 ? 0.0 : -g_left;
    flat[2 * n + k] = -g_right;
  }
}

// Bit-line wires of cells [k0, k1) of block b: C(i-1,j) -g_col- C(i,j) -g_col- C(i+1,j), the
// last one -g_col_last- V_sink(j). The first and last block rows apart, every cell has both
// neighbours on its line: one loop without branches. Returns how many C nodes fail KCL. Without
// jacobian: f, scale and b alone.
XBAR_ISA_CLONES
double GridNewton::State::stamp_col_wires(CellWork& work, std::size_t k0, std::size_t k1, const Block& b,
                                          bool jacobian) {
  return jacobian ? stamp_col_wires_as<true>(work, k0, k1, b) : stamp_col_wires_as<false>(work, k0, k1, b);
}

// Cell k's arrays in work are at index k - k0 from the pointers below (local k0 - work.base).
template <bool Jacobian>
double GridNewton::State::stamp_col_wires_as(CellWork& work, std::size_t k0, std::size_t k1, const Block& b) {
  const std::size_t n = work.n, w = b.width(), t0 = col_offset() + k0 - work.base, last_row = end(b) - w;
  double* __restrict f = work.res_c.f.data() + (k0 - work.base);
  double* __restrict scale = work.res_c.scale.data() + (k0 - work.base);
  double* __restrict jdiag = work.res_c.diag.data() + (k0 - work.base);
  double* __restrict rhs = work.rhs.data() + t0;
  double* __restrict diag = work.flat.data() + t0;
  double* __restrict lower = work.flat.data() + n + t0;
  double* __restrict upper_ = work.flat.data() + 2 * n + t0;
  const double* __restrict v = v_c.data();
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  double outside = 0;
  auto stamp = [&](std::size_t k, double g_up, double v_up, double g_down, double v_down, bool last) {
    const std::size_t t = k - k0;
    const double current = g_up * (v[k] - v_up) + g_down * (v[k] - v_down);
    f[t] += current;
    rhs[t] -= current;
    scale[t] += g_up * (std::abs(v[k]) + std::abs(v_up)) + g_down * (std::abs(v[k]) + std::abs(v_down));
    if constexpr (Jacobian) {
      jdiag[t] += g_up + g_down;
      diag[t] += g_up + g_down;
      lower[t] = -g_up;
      upper_[t] = last ? 0.0 : -g_down;
    }
    return std::abs(f[t]) <= kcl(scale[t]) ? 0.0 : 1.0;
  };
  auto edge = [&](std::size_t k) {
    const bool first = k < b.base + w, last = k >= last_row;
    outside += stamp(k, first ? 0.0 : g.g_col, first ? 0.0 : v[k - w], last ? g.g_col_last : g.g_col,
                     last ? v_sink[b.j0 + (k - b.base) % w] : v[k + w], last);
  };
  const std::size_t mid0 = std::clamp(b.base + w, k0, k1), mid1 = std::clamp(last_row, mid0, k1);
  for (std::size_t k = k0; k < mid0; ++k) edge(k);
  const double g_col = g.g_col;
  double middle = 0;
#pragma omp simd reduction(+ : middle)
  for (std::size_t k = mid0; k < mid1; ++k) middle += stamp(k, g_col, v[k - w], g_col, v[k + w], false);
  for (std::size_t k = mid1; k < k1; ++k) edge(k);
  return outside + middle;
}

}  // namespace xbar::solver
