#include "solver/circuit.hpp"

#include <algorithm>
#include <cmath>

#include "devices/cell.hpp"

namespace xbar::solver {

void ConductanceGroup::add(NodeIndex node_a, NodeIndex node_b, double conductance) {
  a.push_back(node_a);
  b.push_back(node_b);
  g.push_back(conductance);
}

void ResistorGroup::add(NodeIndex node_a, NodeIndex node_b, double conductance) {
  a.push_back(node_a);
  b.push_back(node_b);
  g.push_back(conductance);
}

void TransistorGroup::add(NodeIndex drain, NodeIndex gate, NodeIndex source, double threshold) {
  d.push_back(drain);
  g.push_back(gate);
  s.push_back(source);
  vt.push_back(threshold);
}

void TabulatedTransistorGroup::add(NodeIndex drain, NodeIndex gate, NodeIndex source) {
  d.push_back(drain);
  g.push_back(gate);
  s.push_back(source);
}

bool Circuit::is_linear() const {
  for (const TransistorGroup& t : transistors)
    if (t.size() > 0) return false;
  for (const TabulatedTransistorGroup& t : tabulated)
    if (t.size() > 0) return false;
  for (const ResistorGroup& r : resistors)
    if (!r.law.is_linear()) return false;
  return true;
}

namespace {

// Visits every branch a -> b whose terminals `wanted(a, b)` accepts, with its current (A) and
// rounding scale (|g v_a| + |g v_b| for wires, |I| for devices), evaluated only when wanted.
// The one place that knows every element kind's current outside the Jacobian assembly.
template <class Wanted, class Visit>
void for_each_branch(const Circuit& circuit, std::span<const double> v, Wanted&& wanted, Visit&& visit) {
  const ConductanceGroup& w = circuit.wires;
  for (std::size_t k = 0; k < w.size(); ++k)
    if (wanted(w.a[k], w.b[k])) {
      const double va = v[w.a[k]], vb = v[w.b[k]];
      visit(w.a[k], w.b[k], w.g[k] * (va - vb), w.g[k] * (std::abs(va) + std::abs(vb)));
    }
  auto device = [&](NodeIndex a, NodeIndex b, double i) { visit(a, b, i, std::abs(i)); };
  for (const ResistorGroup& r : circuit.resistors)
    for (std::size_t k = 0; k < r.size(); ++k)
      if (wanted(r.a[k], r.b[k]))
        device(r.a[k], r.b[k], r.factor(v, k) * devices::resistor_current(r.law, r.g[k], v[r.a[k]] - v[r.b[k]]).i);
  for (const TransistorGroup& t : circuit.transistors) {
    devices::EkvParams p = t.law;
    for (std::size_t k = 0; k < t.size(); ++k)
      if (wanted(t.d[k], t.s[k])) {
        p.vt = t.vt[k];
        device(t.d[k], t.s[k], t.factor(v, k) * devices::transistor_branch(p, v[t.g[k]], v[t.d[k]], v[t.s[k]]).i);
      }
  }
  for (const TabulatedTransistorGroup& t : circuit.tabulated)
    for (std::size_t k = 0; k < t.size(); ++k)
      if (wanted(t.d[k], t.s[k]))
        device(t.d[k], t.s[k], devices::transistor_branch(*t.law, v[t.g[k]], v[t.d[k]], v[t.s[k]]).i);
}

}  // namespace

NodeCurrents node_currents(const Circuit& circuit, std::span<const double> v) {
  NodeCurrents out{std::vector<double>(circuit.n_nodes(), 0.0),
                   std::vector<double>(circuit.n_nodes(), 0.0)};
  for_each_branch(circuit, v, [](NodeIndex, NodeIndex) { return true; },
                  [&](NodeIndex a, NodeIndex b, double current, double scale) {
                    out.current_out[a] += current;
                    out.current_out[b] -= current;
                    out.scale[a] += scale;
                    out.scale[b] += scale;
                  });
  return out;
}

std::vector<double> currents_out_of(const Circuit& circuit, std::span<const double> v,
                                    std::span<const NodeIndex> nodes) {
  std::vector<double> out(nodes.size(), 0.0);
  if (nodes.empty()) return out;
  // slot[node - lo] = position in `nodes`, over the (small) range of node numbers asked for.
  const auto [lo_it, hi_it] = std::minmax_element(nodes.begin(), nodes.end());
  const NodeIndex lo = *lo_it, hi = *hi_it;
  std::vector<std::int32_t> slot(static_cast<std::size_t>(hi - lo) + 1, -1);
  for (std::size_t k = 0; k < nodes.size(); ++k) slot[nodes[k] - lo] = static_cast<std::int32_t>(k);
  auto at = [&](NodeIndex n) { return n < lo || n > hi ? -1 : slot[n - lo]; };
  for_each_branch(circuit, v, [&](NodeIndex a, NodeIndex b) { return at(a) >= 0 || at(b) >= 0; },
                  [&](NodeIndex a, NodeIndex b, double current, double) {
                    if (at(a) >= 0) out[at(a)] += current;
                    if (at(b) >= 0) out[at(b)] -= current;
                  });
  return out;
}

Circuit incident_subcircuit(const Circuit& c, std::span<const NodeIndex> nodes) {
  std::vector<bool> wanted(c.n_nodes(), false);
  for (NodeIndex n : nodes) wanted[n] = true;
  auto touches = [&](NodeIndex a, NodeIndex b) { return wanted[a] || wanted[b]; };
  auto copy_enable = [](const Enables& from, Enables& to, std::size_t k) {
    if (!from.enable.empty()) to.enable.push_back(from.enable[k]);
  };
  Circuit out;
  out.n_free = c.n_free;
  out.n_fixed = c.n_fixed;
  for (std::size_t k = 0; k < c.wires.size(); ++k)
    if (touches(c.wires.a[k], c.wires.b[k])) out.wires.add(c.wires.a[k], c.wires.b[k], c.wires.g[k]);
  for (const ResistorGroup& r : c.resistors) {
    ResistorGroup& to = out.resistors.emplace_back();
    to.law = r.law;
    for (std::size_t k = 0; k < r.size(); ++k)
      if (touches(r.a[k], r.b[k])) to.add(r.a[k], r.b[k], r.g[k]), copy_enable(r, to, k);
  }
  for (const TransistorGroup& t : c.transistors) {
    TransistorGroup& to = out.transistors.emplace_back();
    to.law = t.law;
    for (std::size_t k = 0; k < t.size(); ++k)
      if (touches(t.d[k], t.s[k])) to.add(t.d[k], t.g[k], t.s[k], t.vt[k]), copy_enable(t, to, k);
  }
  for (const TabulatedTransistorGroup& t : c.tabulated) {
    TabulatedTransistorGroup& to = out.tabulated.emplace_back();
    to.law = t.law;
    for (std::size_t k = 0; k < t.size(); ++k)
      if (touches(t.d[k], t.s[k])) to.add(t.d[k], t.g[k], t.s[k]);
  }
  return out;
}

std::vector<double> full_voltages(std::span<const double> free_voltages,
                                  std::span<const double> fixed_voltages) {
  std::vector<double> v;
  full_voltages(free_voltages, fixed_voltages, v);
  return v;
}

void full_voltages(std::span<const double> free_voltages, std::span<const double> fixed_voltages,
                   std::vector<double>& out) {
  out.resize(free_voltages.size() + fixed_voltages.size());
  std::copy(free_voltages.begin(), free_voltages.end(), out.begin());
  std::copy(fixed_voltages.begin(), fixed_voltages.end(), out.begin() + free_voltages.size());
}

}  // namespace xbar::solver
