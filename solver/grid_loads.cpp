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
// curv_u, cube_u, curv_lf, curv_lr and l_top of n cells (keep_curvature), on the widest
// instruction set. a2, r2 (a3, r3): the squares (cubes) of the upper device's forward and reverse
// arguments' change per dm.
XBAR_ISA_CLONES void curvatures(
    std::size_t n, double a2, double r2, double a3, double r3, const double* __restrict u_ff,
    const double* __restrict u_rr, const double* __restrict l_ff, const double* __restrict l_rr,
    const double* __restrict l_t, double leak, double* __restrict curv_u, double* __restrict cube_u,
    double* __restrict curv_lf, double* __restrict curv_lr, double* __restrict l_top) {
  for (std::size_t k = 0; k < n; ++k) {
    curv_u[k] = u_ff[k] * a2 - u_rr[k] * r2;
    cube_u[k] = u_ff[k] * a3 + u_rr[k] * r3;
    curv_lf[k] = l_ff ? l_ff[k] : 0.0;  // no l_ff: a linear resistor
    curv_lr[k] = l_rr ? l_rr[k] : 0.0;
    l_top[k] = l_t[k] + leak;
  }
}
}  // namespace

// With the upper device's drain on the fixed row (dR = 0), its arguments move by
// -(1 + eta/n) dm (forward) and -(eta/n) dm (reverse): one coefficient of dm^2, and one of |dm|^3
// for the series' remainder bound.
void GridNewton::State::keep_curvature(CellWork& w, std::size_t k0, std::size_t k1, const ChunkLoads& loads) const {
  const double eta_n = upper->law.eta / upper->law.n, a = 1 + eta_n;
  const std::size_t t0 = k0 - w.base;
  const bool curved = lower_transistor != nullptr;  // else a linear resistor: no second derivative
  curvatures(k1 - k0, a * a, eta_n * eta_n, a * a * a, eta_n * eta_n * eta_n, loads.u_ff.data(),
             loads.u_rr.data(), curved ? loads.l_ff.data() : nullptr, curved ? loads.l_rr.data() : nullptr,
             loads.l_t.data(), curved ? devices::k_transistor_leak : 0.0, w.curv_u.data() + t0,
             w.cube_u.data() + t0, w.curv_lf.data() + t0, w.curv_lr.data() + t0, w.l_top.data() + t0);
}

namespace {
// A series evaluation of a run of cells (at index k): the step d, the terms kept of the exact
// evaluation at v0 (CellWork: J_mm = diag_m, J_mC = l_b, -J_Cm = l_top, the curvatures), and the
// residuals, scales and right-hand side there, which become the series' at v0 + d; fails: per
// cell, how many of its tests fail. d_up / d_down: the bit-line neighbours' steps (0 at a fixed
// end), through wires of g_up / g_down.
struct SeriesCells {
  const double *d_m, *d_c, *d_up, *d_down, *diag_m, *l_b, *l_top, *inv_mm, *curv_u, *cube_u, *curv_lf, *curv_lr;
  double *f_m, *scale_m, *f_c, *scale_c, *rhs, *fails;
};
struct SeriesLaw {
  double eta_n_u, eta_n_l;  ///< the devices' eta/n (0 for a resistor below)
  double reach;             ///< V
  double remainder;         ///< e^(reach / U_T) / (6 U_T): |R_3| <= remainder d2I |dV|^3
  NewtonOptions::KclTolerance kcl;
};
// Each sum's rounding is taken as at most k_series_rounding of its terms' magnitudes (a few
// operations of 1/2 ulp each).
constexpr double k_series_rounding = 8 * std::numeric_limits<double>::epsilon();

// Per device, f(v0 + d) = f(v0) + J d + H(d, d)/2 + R_3: the upper one's along m alone (its drain
// on the fixed row), the lower one's along both its arguments' changes (as chebyshev_rhs); the
// wires are linear. A scale becomes its lower bound at v0 + d (|a + b| >= |a| - |b|), and a
// residual's remainder bound and rounding its slack: a node holds where |f| + slack <= its
// tolerance at that scale.
XBAR_ISA_CLONES void series_cells(std::size_t n, const SeriesLaw& law, double g_up, double g_down,
                                  const SeriesCells& c) {
  const double *__restrict d_m = c.d_m, *__restrict d_c = c.d_c, *__restrict d_up = c.d_up,
               *__restrict d_down = c.d_down, *__restrict diag_m = c.diag_m, *__restrict l_b = c.l_b,
               *__restrict l_top = c.l_top, *__restrict inv = c.inv_mm, *__restrict curv_u = c.curv_u,
               *__restrict cube_u = c.cube_u, *__restrict cf = c.curv_lf, *__restrict cr = c.curv_lr;
  double *__restrict f_m = c.f_m, *__restrict scale_m = c.scale_m, *__restrict f_c = c.f_c,
         *__restrict scale_c = c.scale_c, *__restrict rhs = c.rhs, *__restrict fails = c.fails;
  // In registers (the stores could alias law's fields).
  const double a_u = 1 + law.eta_n_u, eta_n_l = law.eta_n_l, reach_limit = law.reach, remainder = law.remainder;
  const double abstol = law.kcl.abstol, reltol = law.kcl.residual_reltol;
  // Maxima as selects (std::max and std::fmax keep the loop from vectorising).
  auto larger = [](double x, double y) { return x > y ? x : y; };
#pragma omp simd
  for (std::size_t k = 0; k < n; ++k) {
    const double dm = d_m[k], dc = d_c[k], adm = std::abs(dm);
    const double dvp = eta_n_l * (dm - dc), df = dvp - dc, dr = dvp - dm;  // lower: forward, reverse
    const double reach = larger(a_u * adm, larger(std::abs(df), std::abs(dr)));  // NaN: f_m fails
    const double q_u = 0.5 * curv_u[k] * dm * dm, q_l = 0.5 * (cf[k] * df * df - cr[k] * dr * dr);
    const double r3_u = remainder * cube_u[k] * adm * adm * adm;
    const double r3_l = remainder * (cf[k] * std::abs(df * df * df) + cr[k] * std::abs(dr * dr * dr));
    // m: f_m = I_l - I_u moves by J_mm dm + J_mC dC + (H_l - H_u)/2.
    const double lin_m = diag_m[k] * dm, lin_c = l_b[k] * dc, fm0 = f_m[k];
    const double fm = fm0 + ((lin_m + lin_c) + (q_l - q_u));
    const double di_l = l_top[k] * dm + lin_c + q_l;                              // the lower device's current
    const double di_u = std::abs((l_top[k] - diag_m[k]) * dm) + std::abs(q_u);  // |the upper one's|: u_b = l_top - J_mm
    const double slack_m = r3_u + r3_l + k_series_rounding * (std::abs(fm0) + std::abs(lin_m) + std::abs(lin_c) +
                                                              std::abs(q_l) + std::abs(q_u));
    const double sm = larger(scale_m[k] - di_u - std::abs(di_l) - r3_u - r3_l, 0.0);
    // C: f_C = -I_l + the wires' currents.
    const double w_up = g_up * (dc - d_up[k]), w_down = g_down * (dc - d_down[k]), fc0 = f_c[k];
    const double fc = fc0 + ((w_up + w_down) - di_l);
    const double slack_c =
        r3_l + k_series_rounding * (std::abs(fc0) + std::abs(di_l) + std::abs(w_up) + std::abs(w_down));
    const double wires = g_up * (std::abs(dc) + std::abs(d_up[k])) + g_down * (std::abs(dc) + std::abs(d_down[k]));
    const double sc = larger(scale_c[k] - std::abs(di_l) - r3_l - wires, 0.0);
    f_m[k] = fm, scale_m[k] = sm, f_c[k] = fc, scale_c[k] = sc;
    rhs[k] = -fc - l_top[k] * fm * inv[k];  // eliminate's b_C: -f_C + J_Cm f_m / J_mm
    // A sum of selects (no branch, so that the loop vectorises); a NaN fails.
    fails[k] = (std::abs(fm) + slack_m <= abstol + reltol * sm ? 0.0 : 1.0) +
               (std::abs(fc) + slack_c <= abstol + reltol * sc ? 0.0 : 1.0) + (reach <= reach_limit ? 0.0 : 1.0);
  }
}
}  // namespace

namespace {
// exact[i]: whether any of row i's W cells failed (fails, W a row, or `width` where W = 0: a
// narrower last block); returns how many rows did.
template <std::size_t W>
std::size_t flag_rows(const double* __restrict fails, std::size_t rows, char* __restrict exact,
                      std::size_t width = W) {
  const std::size_t n = W ? W : width;  // W known: the compiler unrolls a row
  std::size_t failing = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    double failed = 0;
    for (std::size_t c = 0; c < n; ++c) failed += fails[i * n + c];
    exact[i] = failed > 0;
    failing += exact[i];
  }
  return failing;
}
}  // namespace

bool GridNewton::State::assemble_series(CellWork& w, const Block& b, bool& exact_rows) {
  if (!chebyshev() || !g.cols_free() || g.rows_free()) throw std::logic_error("grid newton: no series here");
  const std::size_t cells = end(b) - b.base, width = b.width(), rows = g.rows, t = b.base - w.base;
  thread_local std::vector<double> fails, fixed_end;
  fails.resize(cells);
  fixed_end.assign(width, 0.0);  // a fixed node does not move
  const double eta_n_l = lower_transistor ? lower_transistor->law.eta / lower_transistor->law.n : 0.0;
  const SeriesLaw law{upper->law.eta / upper->law.n, eta_n_l, k_series_reach * devices::k_thermal_voltage,
                      std::exp(k_series_reach) / (6 * devices::k_thermal_voltage), options.kcl_tolerance()};
  const double* d_c = w.d_c.data() + t;
  // Block rows [i0, i1), with the bit-line neighbours' steps of row i0 at up and down.
  auto run = [&](std::size_t i0, std::size_t i1, const double* up, const double* down, double g_up, double g_down) {
    const std::size_t k = t + i0 * width;
    series_cells((i1 - i0) * width, law, g_up, g_down,
                 {w.d_m.data() + k, w.d_c.data() + k, up, down, w.res_m.diag.data() + k, w.j_mc.data() + k,
                  w.l_top.data() + k, w.inv_mm.data() + k, w.curv_u.data() + k, w.cube_u.data() + k,
                  w.curv_lf.data() + k, w.curv_lr.data() + k, w.res_m.f.data() + k, w.res_m.scale.data() + k,
                  w.res_c.f.data() + k, w.res_c.scale.data() + k, w.rhs.data() + k, fails.data() + i0 * width});
  };
  // The first row has no wire above; the last one's below goes to the fixed sink.
  const double g_col = g.g_col, g_last = g.g_col_last;
  if (rows == 1) {
    run(0, 1, fixed_end.data(), fixed_end.data(), 0.0, g_last);
  } else {
    run(0, 1, fixed_end.data(), d_c + width, 0.0, g_col);
    for (std::size_t i0 = 1; i0 + 1 < rows; i0 += k_block_cells / width) {
      const std::size_t i1 = std::min(rows - 1, i0 + k_block_cells / width);
      run(i0, i1, d_c + (i0 - 1) * width, d_c + (i0 + 1) * width, g_col, g_col);
    }
    run(rows - 1, rows, d_c + (rows - 2) * width, fixed_end.data(), g_col, g_last);
  }
  // A row's nodes depend on its own cells and the wires alone: rows that fail are evaluated anew.
  thread_local std::vector<char> exact;
  exact.resize(rows);
  const std::size_t failing = width == k_block_columns ? flag_rows<k_block_columns>(fails.data(), rows, exact.data())
                                                       : flag_rows<0>(fails.data(), rows, exact.data(), width);
  exact_rows = failing > 0;
  return !exact_rows || assemble_rows(w, b, exact, true);
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
// jacobian: f, scale and b alone. Without wires (jacobian only): the line matrix's off-diagonals,
// the wires' alone, are already in place (CellWork::wires).
XBAR_ISA_CLONES
double GridNewton::State::stamp_col_wires(CellWork& work, std::size_t k0, std::size_t k1, const Block& b,
                                          bool jacobian, bool wires) {
  if (!jacobian) return stamp_col_wires_as<false, false>(work, k0, k1, b);
  return wires ? stamp_col_wires_as<true, true>(work, k0, k1, b) : stamp_col_wires_as<true, false>(work, k0, k1, b);
}

// Cell k's arrays in work are at index k - k0 from the pointers below (local k0 - work.base).
template <bool Jacobian, bool Wires>
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
      if constexpr (Wires) lower[t] = -g_up, upper_[t] = last ? 0.0 : -g_down;
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
