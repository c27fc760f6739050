#include "solver/nodal_system.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "devices/cell.hpp"

namespace xbar::solver {

namespace {

constexpr NodeIndex k_none = -1;

// Adds the couplings among the free terminals of one element to per-column row lists.
void collect(std::vector<std::vector<std::int32_t>>& rows_of_col, NodeIndex n_free,
             std::initializer_list<NodeIndex> terminals) {
  for (NodeIndex col : terminals)
    for (NodeIndex row : terminals)
      if (col != k_none && row != k_none && col < n_free && row < n_free)
        rows_of_col[col].push_back(row);
}

CscPattern build_pattern(const Circuit& c) {
  std::vector<std::vector<std::int32_t>> rows_of_col(c.n_free);
  for (NodeIndex i = 0; i < c.n_free; ++i) rows_of_col[i].push_back(i);
  for (std::size_t k = 0; k < c.wires.size(); ++k)
    collect(rows_of_col, c.n_free, {c.wires.a[k], c.wires.b[k]});
  for (const ResistorGroup& r : c.resistors)
    for (std::size_t k = 0; k < r.size(); ++k) collect(rows_of_col, c.n_free, {r.a[k], r.b[k]});
  for (const TransistorGroup& t : c.transistors)
    for (std::size_t k = 0; k < t.size(); ++k)
      collect(rows_of_col, c.n_free, {t.d[k], t.s[k], t.g[k]});
  for (const TabulatedTransistorGroup& t : c.tabulated)
    for (std::size_t k = 0; k < t.size(); ++k) collect(rows_of_col, c.n_free, {t.d[k], t.s[k], t.g[k]});
  CscPattern p;
  p.n = c.n_free;
  p.col_ptr.assign(c.n_free + 1, 0);
  for (NodeIndex col = 0; col < c.n_free; ++col) {
    auto& rows = rows_of_col[col];
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    p.row_idx.insert(p.row_idx.end(), rows.begin(), rows.end());
    p.col_ptr[col + 1] = static_cast<std::int32_t>(p.row_idx.size());
    std::vector<std::int32_t>().swap(rows);
  }
  return p;
}

// f[row] += sign * I and J[row][x] += sign * dI/dv_x for the element's free rows.
struct Outputs {
  std::span<double> f, jac, scale;
};

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
  for (std::size_t group = 0; group < circuit_.transistors.size(); ++group) {
    const TransistorGroup& t = circuit_.transistors[group];
    devices::EkvParams p = t.law;
    for (std::size_t k = 0; k < t.size(); ++k) {
      p.vt = t.vt[k];
      const double vg = v[t.g[k]], vd = v[t.d[k]], vs = v[t.s[k]];
      const devices::EkvCurrent e = devices::ekv_current(p, vg, vd, vs);
      const double leak = devices::k_transistor_leak;
      const double en = t.factor(v, k);
      const double i = en * (e.i_ds + leak * (vd - vs));
      stamp(out, transistor_slots_[group][k], t.d[k], t.s[k], n_free, i, std::abs(i),
            {en * (e.di_dvd + leak), en * (e.di_dvs - leak), en * e.di_dvg});
    }
  }
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
