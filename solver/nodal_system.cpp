#include "solver/nodal_system.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "devices/cell.hpp"

namespace xbar::solver {

namespace {

constexpr NodeIndex k_none = -1;

// Calls visit(t0, t1, t2) with the terminals of every element (k_none where absent).
template <class Visit>
void for_each_element(const Circuit& c, Visit&& visit) {
  for (std::size_t k = 0; k < c.wires.size(); ++k) visit(c.wires.a[k], c.wires.b[k], k_none);
  for (const ResistorGroup& r : c.resistors)
    for (std::size_t k = 0; k < r.size(); ++k) visit(r.a[k], r.b[k], k_none);
  for (const TransistorGroup& t : c.transistors)
    for (std::size_t k = 0; k < t.size(); ++k) visit(t.d[k], t.s[k], t.g[k]);
  for (const TabulatedTransistorGroup& t : c.tabulated)
    for (std::size_t k = 0; k < t.size(); ++k) visit(t.d[k], t.s[k], t.g[k]);
}

// Two passes over the elements (count, then fill every column's rows, duplicates included),
// then sort and compact each column in place: no per-column allocation.
CscPattern build_pattern(const Circuit& c) {
  const NodeIndex n = c.n_free;
  auto free_terminals = [n](NodeIndex t0, NodeIndex t1, NodeIndex t2, NodeIndex out[3]) {
    int count = 0;
    for (NodeIndex t : {t0, t1, t2})
      if (t != k_none && t < n) out[count++] = t;
    return count;
  };
  std::vector<std::int64_t> start(static_cast<std::size_t>(n) + 1, 0);
  for (NodeIndex i = 0; i < n; ++i) start[i + 1] = 1;  // the diagonal
  for_each_element(c, [&](NodeIndex t0, NodeIndex t1, NodeIndex t2) {
    NodeIndex f[3];
    const int count = free_terminals(t0, t1, t2, f);
    for (int x = 0; x < count; ++x) start[f[x] + 1] += count;
  });
  for (NodeIndex i = 0; i < n; ++i) start[i + 1] += start[i];
  std::vector<std::int32_t> rows(start[n]);
  std::vector<std::int64_t> fill(start.begin(), start.end() - 1);
  for (NodeIndex i = 0; i < n; ++i) rows[fill[i]++] = i;
  for_each_element(c, [&](NodeIndex t0, NodeIndex t1, NodeIndex t2) {
    NodeIndex f[3];
    const int count = free_terminals(t0, t1, t2, f);
    for (int x = 0; x < count; ++x)
      for (int y = 0; y < count; ++y) rows[fill[f[x]]++] = f[y];
  });
  CscPattern p;
  p.n = n;
  p.col_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
  std::size_t out = 0;
  for (NodeIndex col = 0; col < n; ++col) {
    const auto first = rows.begin() + start[col], last = rows.begin() + start[col + 1];
    std::sort(first, last);
    const auto unique_end = std::unique(first, last);
    out = std::copy(first, unique_end, rows.begin() + out) - rows.begin();
    if (out > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      throw std::length_error("NodalSystem: pattern too large for 32-bit indices");
    p.col_ptr[col + 1] = static_cast<std::int32_t>(out);
  }
  rows.resize(out);
  rows.shrink_to_fit();
  p.row_idx = std::move(rows);
  return p;
}

using Outputs = NodalSystem::Outputs;

// f[row] += sign * I and J[row][x] += sign * dI/dv_x for the element's free rows.

inline void stamp(const Outputs& out, const std::array<std::int32_t, 9>& s, NodeIndex a,
                  NodeIndex b, NodeIndex n_free, double current, double scale,
                  const std::array<double, 3>& partials) {
  const NodeIndex rows[2] = {a, b};
  const double signs[2] = {1.0, -1.0};
  for (int r = 0; r < 2; ++r) {
    if (rows[r] >= n_free) continue;
    out.f[rows[r]] += signs[r] * current;
    out.scale[rows[r]] += scale;
    for (int x = 0; x < 3; ++x)
      if (s[3 * r + x] >= 0) out.jac[s[3 * r + x]] += signs[r] * partials[x];
  }
}

}  // namespace

// Transistors in blocks: gather the terminal voltages, evaluate the law vectorised, stamp.
// Each carries its G_leak shunt: I = I_EKV + G_leak (v_d - v_s).
void NodalSystem::assemble_transistors(std::size_t group, std::span<const double> v, const Outputs& out) const {
  constexpr std::size_t k_block = 256;
  const TransistorGroup& t = circuit_.transistors[group];
  std::array<double, k_block> vg, vd, vs, i, gg, gd, gs;
  const double leak = devices::k_transistor_leak;
  for (std::size_t start = 0; start < t.size(); start += k_block) {
    const std::size_t m = std::min(k_block, t.size() - start);
    for (std::size_t k = 0; k < m; ++k) {
      vg[k] = v[t.g[start + k]];
      vd[k] = v[t.d[start + k]];
      vs[k] = v[t.s[start + k]];
    }
    devices::ekv_current_batch(t.law, {std::span(t.vt).subspan(start, m), {vg.data(), m}, {vd.data(), m},
                                       {vs.data(), m}, {i.data(), m}, {gg.data(), m}, {gd.data(), m},
                                       {gs.data(), m}});
    for (std::size_t k = 0; k < m; ++k) {
      const std::size_t e = start + k;
      const double en = t.factor(v, e);  // ideal select: 1 or 0
      const double current = en * (i[k] + leak * (vd[k] - vs[k]));
      stamp(out, transistor_slots_[group][e], t.d[e], t.s[e], circuit_.n_free, current,
            std::abs(current), {en * (gd[k] + leak), en * (gs[k] - leak), en * gg[k]});
    }
  }
}

NodalSystem::NodalSystem(const Circuit& circuit) : circuit_(circuit), pattern_(build_pattern(circuit)) {
  diagonal_.resize(circuit.n_free);
  for (NodeIndex i = 0; i < circuit.n_free; ++i) diagonal_[i] = slot(i, i);
  const ConductanceGroup& w = circuit.wires;
  for (std::size_t k = 0; k < w.size(); ++k) wire_slots_.push_back(bind(w.a[k], w.b[k], k_none));
  for (const ResistorGroup& r : circuit.resistors) {
    auto& slots = resistor_slots_.emplace_back();
    for (std::size_t k = 0; k < r.size(); ++k) slots.push_back(bind(r.a[k], r.b[k], k_none));
  }
  for (const TransistorGroup& t : circuit.transistors) {
    auto& slots = transistor_slots_.emplace_back();
    for (std::size_t k = 0; k < t.size(); ++k) slots.push_back(bind(t.d[k], t.s[k], t.g[k]));
  }
  for (const TabulatedTransistorGroup& t : circuit.tabulated) {
    auto& slots = tabulated_slots_.emplace_back();
    for (std::size_t k = 0; k < t.size(); ++k) slots.push_back(bind(t.d[k], t.s[k], t.g[k]));
  }
}

std::int32_t NodalSystem::slot(NodeIndex row, NodeIndex col) const {
  if (row == k_none || col == k_none || row >= circuit_.n_free || col >= circuit_.n_free) return -1;
  const auto first = pattern_.row_idx.begin() + pattern_.col_ptr[col];
  const auto last = pattern_.row_idx.begin() + pattern_.col_ptr[col + 1];
  const auto it = std::lower_bound(first, last, row);
  if (it == last || *it != row) throw std::logic_error("NodalSystem: entry missing from pattern");
  return static_cast<std::int32_t>(it - pattern_.row_idx.begin());
}

NodalSystem::Slots3 NodalSystem::bind(NodeIndex a, NodeIndex b, NodeIndex c) const {
  const NodeIndex terminals[3] = {a, b, c};
  Slots3 s;
  for (int r = 0; r < 3; ++r)
    for (int x = 0; x < 3; ++x) s[3 * r + x] = slot(terminals[r], terminals[x]);
  return s;
}

void NodalSystem::assemble(std::span<const double> v, double gmin, std::span<double> f,
                           std::span<double> jac, std::span<double> scale) const {
  std::fill(f.begin(), f.end(), 0.0);
  std::fill(jac.begin(), jac.end(), 0.0);
  std::fill(scale.begin(), scale.end(), 0.0);
  const Outputs out{f, jac, scale};
  const NodeIndex n_free = circuit_.n_free;
  if (gmin > 0)
    for (NodeIndex i = 0; i < n_free; ++i) {
      f[i] += gmin * v[i];
      jac[diagonal_[i]] += gmin;
    }
  const ConductanceGroup& w = circuit_.wires;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double va = v[w.a[k]], vb = v[w.b[k]];
    stamp(out, wire_slots_[k], w.a[k], w.b[k], n_free, w.g[k] * (va - vb),
          w.g[k] * (std::abs(va) + std::abs(vb)), {w.g[k], -w.g[k], 0.0});
  }
  for (std::size_t group = 0; group < circuit_.resistors.size(); ++group) {
    const ResistorGroup& r = circuit_.resistors[group];
    for (std::size_t k = 0; k < r.size(); ++k) {
      const double en = r.factor(v, k);
      const auto law = devices::resistor_current(r.law, r.g[k], v[r.a[k]] - v[r.b[k]]);
      stamp(out, resistor_slots_[group][k], r.a[k], r.b[k], n_free, en * law.i, std::abs(en * law.i),
            {en * law.di_dv, -en * law.di_dv, 0.0});
    }
  }
  for (std::size_t group = 0; group < circuit_.transistors.size(); ++group)
    assemble_transistors(group, v, out);
  if (!circuit_.tabulated.empty()) assemble_tabulated(v, f, jac, scale);
}

// Tabulated transistors: the branch current drain -> source with its leak shunt, partials in
// (V_D, V_S, V_G) as for EKV transistors.
void NodalSystem::assemble_tabulated(std::span<const double> v, std::span<double> f, std::span<double> jac,
                                     std::span<double> scale) const {
  const Outputs out{f, jac, scale};
  for (std::size_t group = 0; group < circuit_.tabulated.size(); ++group) {
    const TabulatedTransistorGroup& t = circuit_.tabulated[group];
    for (std::size_t k = 0; k < t.size(); ++k) {
      const double vd = v[t.d[k]], vs = v[t.s[k]];
      const devices::TransistorCurrent e = t.law->current(v[t.g[k]], vd, vs);
      const double leak = devices::k_transistor_leak;
      const double i = e.i_ds + leak * (vd - vs);
      stamp(out, tabulated_slots_[group][k], t.d[k], t.s[k], circuit_.n_free, i, std::abs(i),
            {e.di_dvd + leak, e.di_dvs - leak, e.di_dvg});
    }
  }
}

}  // namespace xbar::solver
