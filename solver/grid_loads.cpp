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

namespace xbar::solver {

// Evaluation and elimination of cells [k0, k1) (at most k_block_cells), through this thread's
// chunk buffers; returns how many of their m nodes fail KCL (NaN counts).
double GridNewton::State::load_cells(std::size_t k0, std::size_t k1, bool jacobian) {
  thread_local ChunkLoads loads;
  loads.reserve(k1 - k0);
  evaluate_devices(k0, k1, loads);
  return eliminate_cells(k0, k1, loads, jacobian);
}

// Raw device loads of cells [k0, k1): batched EKV, or the resistor law.
void GridNewton::State::evaluate_devices(std::size_t k0, std::size_t k1, ChunkLoads& loads) const {
  const std::size_t m = k1 - k0;
  auto part = [&](const std::vector<double>& a) { return std::span(a).subspan(k0, m); };
  auto out = [&](std::vector<double>& a) { return std::span(a).first(m); };
  const std::vector<double>& top = upper ? v_m : v_r;
  if (upper)
    devices::ekv_current_batch(upper->law, {part(vt_u), part(gate_u), part(v_r), part(v_m), out(loads.u_i),
                                            {}, out(loads.u_t), out(loads.u_b)});  // gates are fixed: no dI/dV_G
  if (lower_transistor) {
    devices::ekv_current_batch(lower_transistor->law, {part(vt_l), part(gate_l), part(top), part(v_c),
                                                       out(loads.l_i), {}, out(loads.l_t),
                                                       out(loads.l_b)});
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
// (grid_newton.hpp). The right-hand side b = -f + J_xm f_m / J_mm is left in work.b. Returns
// how many m nodes fail KCL. Without jacobian (cells without m only): f, scale and b alone.
double GridNewton::State::eliminate_cells(std::size_t k0, std::size_t k1, const ChunkLoads& loads, bool jacobian) {
  const bool rows = g.rows_free(), cols = g.cols_free();
  auto run = [&](auto has_upper, auto has_rows, auto has_cols, auto with_jacobian) {
    return eliminate<decltype(has_upper)::value, decltype(has_rows)::value, decltype(has_cols)::value,
                     decltype(with_jacobian)::value>(k0, k1, loads);
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
// get their G_leak shunt here (I += G_leak (v_t - v_b)), switched lower devices their enable.
// Returns how many m nodes fail KCL (a select of doubles, so that the loop still vectorises).
template <bool Upper, bool Rows, bool Cols, bool Jacobian>
double GridNewton::State::eliminate(std::size_t k0, std::size_t k1, const ChunkLoads& loads) {
  const std::size_t c_off = col_offset(), n = matrix.n;
  double* __restrict diag = flat.data();
  double* __restrict rhs = work.b.data();
  double* __restrict cross = flat.data() + 3 * n;
  const double leak_u = devices::k_transistor_leak, leak_l = lower_transistor ? leak_u : 0.0;
  const double* __restrict raw_u_i = loads.u_i.data();
  const double* __restrict raw_u_t = loads.u_t.data();
  const double* __restrict raw_u_b = loads.u_b.data();
  const double* __restrict raw_l_i = loads.l_i.data();
  const double* __restrict raw_l_t = loads.l_t.data();
  const double* __restrict raw_l_b = loads.l_b.data();
  const double* __restrict en = enable.data();
  const double* __restrict vr = v_r.data();
  const double* __restrict vm = v_m.data();
  const double* __restrict vc = v_c.data();
  double* __restrict m_f = res_m.f.data();
  double* __restrict m_scale = res_m.scale.data();
  double* __restrict m_diag = res_m.diag.data();
  double* __restrict m_inv = inv_mm.data();
  double* __restrict m_r = j_mr.data();
  double* __restrict m_c = j_mc.data();
  double* __restrict r_f = res_r.f.data();
  double* __restrict r_scale = res_r.scale.data();
  double* __restrict r_diag = res_r.diag.data();
  double* __restrict c_f = res_c.f.data();
  double* __restrict c_scale = res_c.scale.data();
  double* __restrict c_diag = res_c.diag.data();
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  double outside = 0;
#pragma omp simd reduction(+ : outside)
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t c = k - k0;  // chunk index
    const double v_top = Upper ? vm[k] : vr[k];
    const double l_i = en[k] * (raw_l_i[c] + leak_l * (v_top - vc[k]));
    const double l_t = en[k] * (raw_l_t[c] + leak_l), l_b = en[k] * (raw_l_b[c] - leak_l);
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
      m_f[k] = f_m;
      m_scale[k] = std::abs(u_i) + std::abs(l_i);
      outside += std::abs(f_m) <= kcl(m_scale[k]) ? 0.0 : 1.0;
      static_assert(Jacobian, "m's eliminated row changes with v");
      m_diag[k] = jmm;
      m_inv[k] = gm;
      if constexpr (Rows) m_r[k] = jmr;
      m_c[k] = jmc;
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
      r_f[k] = i_r;
      r_scale[k] = std::abs(i_r);
      rhs[k] = b_r;
      if constexpr (Jacobian) {
        r_diag[k] = Upper ? u_t : l_t;
        diag[k] = jrr;
        if constexpr (Cols) cross[k] = jrc;
      }
    }
    if constexpr (Cols) {
      c_f[k] = -l_i;
      c_scale[k] = std::abs(l_i);
      rhs[c_off + k] = b_c;
      if constexpr (Jacobian) {
        c_diag[k] = -l_b;
        diag[c_off + k] = jcc;
        if constexpr (Rows) cross[c_off + k] = jcr;
      }
    }
  }
  return outside;
}

// Row-line wires of cells [k0, k1) (whole rows): V_src -g_first- R(i,0) -g_row- R(i,1) ...
// Without jacobian: f, scale and b alone.
void GridNewton::State::stamp_row_wires(std::size_t k0, std::size_t k1, bool jacobian) {
  const std::size_t n = matrix.n, cols = g.cols;
  for (std::size_t k = k0; k < k1; ++k) {
    const std::size_t j = k % cols;
    const double g_left = j == 0 ? g.g_row_first : g.g_row;
    const double v_left = j == 0 ? v_src[k / cols] : v_r[k - 1];
    const double g_right = j + 1 < cols ? g.g_row : 0.0;
    const double v_right = j + 1 < cols ? v_r[k + 1] : 0.0;
    const double current = g_left * (v_r[k] - v_left) + g_right * (v_r[k] - v_right);
    res_r.f[k] += current;
    work.b[k] -= current;
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
double GridNewton::State::stamp_col_wires(std::size_t k0, std::size_t k1, const Block& b, bool jacobian) {
  return jacobian ? stamp_col_wires_as<true>(k0, k1, b) : stamp_col_wires_as<false>(k0, k1, b);
}

template <bool Jacobian>
double GridNewton::State::stamp_col_wires_as(std::size_t k0, std::size_t k1, const Block& b) {
  const std::size_t n = matrix.n, w = b.width(), c_off = col_offset(), last_row = end(b) - w;
  double* __restrict f = res_c.f.data();
  double* __restrict scale = res_c.scale.data();
  double* __restrict jdiag = res_c.diag.data();
  double* __restrict rhs = work.b.data() + c_off;
  double* __restrict diag = flat.data() + c_off;
  double* __restrict lower = flat.data() + n + c_off;
  double* __restrict upper_ = flat.data() + 2 * n + c_off;
  const double* __restrict v = v_c.data();
  const NewtonOptions::KclTolerance kcl = options.kcl_tolerance();
  double outside = 0;
  auto stamp = [&](std::size_t k, double g_up, double v_up, double g_down, double v_down, bool last) {
    const double current = g_up * (v[k] - v_up) + g_down * (v[k] - v_down);
    f[k] += current;
    rhs[k] -= current;
    scale[k] += g_up * (std::abs(v[k]) + std::abs(v_up)) + g_down * (std::abs(v[k]) + std::abs(v_down));
    if constexpr (Jacobian) {
      jdiag[k] += g_up + g_down;
      diag[k] += g_up + g_down;
      lower[k] = -g_up;
      upper_[k] = last ? 0.0 : -g_down;
    }
    return std::abs(f[k]) <= kcl(scale[k]) ? 0.0 : 1.0;
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
