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

bool Circuit::is_linear() const {
  for (const TransistorGroup& t : transistors)
    if (t.size() > 0) return false;
  for (const ResistorGroup& r : resistors)
    if (!r.law.is_linear()) return false;
  return true;
}

namespace {

void add_branch(NodeCurrents& out, NodeIndex a, NodeIndex b, double current, double scale) {
  out.current_out[a] += current;
  out.current_out[b] -= current;
  out.scale[a] += scale;
  out.scale[b] += scale;
}

}  // namespace

NodeCurrents node_currents(const Circuit& circuit, std::span<const double> v) {
  NodeCurrents out{std::vector<double>(circuit.n_nodes(), 0.0),
                   std::vector<double>(circuit.n_nodes(), 0.0)};
  const ConductanceGroup& w = circuit.wires;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const double va = v[w.a[k]], vb = v[w.b[k]];
    add_branch(out, w.a[k], w.b[k], w.g[k] * (va - vb), w.g[k] * (std::abs(va) + std::abs(vb)));
  }
  for (const ResistorGroup& r : circuit.resistors)
    for (std::size_t k = 0; k < r.size(); ++k) {
      const double i = devices::resistor_current(r.law, r.g[k], v[r.a[k]] - v[r.b[k]]).i;
      add_branch(out, r.a[k], r.b[k], i, std::abs(i));
    }
  for (const TransistorGroup& t : circuit.transistors) {
    devices::EkvParams p = t.law;
    for (std::size_t k = 0; k < t.size(); ++k) {
      p.vt = t.vt[k];
      const double i = devices::transistor_branch(p, v[t.g[k]], v[t.d[k]], v[t.s[k]]).i;
      add_branch(out, t.d[k], t.s[k], i, std::abs(i));
    }
  }
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
  auto add = [&](NodeIndex a, NodeIndex b, auto&& current) {
    const std::int32_t sa = at(a), sb = at(b);
    if (sa < 0 && sb < 0) return;
    const double i = current();
    if (sa >= 0) out[sa] += i;
    if (sb >= 0) out[sb] -= i;
  };
  const ConductanceGroup& w = circuit.wires;
  for (std::size_t k = 0; k < w.size(); ++k)
    add(w.a[k], w.b[k], [&] { return w.g[k] * (v[w.a[k]] - v[w.b[k]]); });
  for (const ResistorGroup& r : circuit.resistors)
    for (std::size_t k = 0; k < r.size(); ++k)
      add(r.a[k], r.b[k], [&] { return devices::resistor_current(r.law, r.g[k], v[r.a[k]] - v[r.b[k]]).i; });
  for (const TransistorGroup& t : circuit.transistors)
    for (std::size_t k = 0; k < t.size(); ++k)
      add(t.d[k], t.s[k], [&] {
        devices::EkvParams p = t.law;
        p.vt = t.vt[k];
        return devices::transistor_branch(p, v[t.g[k]], v[t.d[k]], v[t.s[k]]).i;
      });
  return out;
}

std::vector<double> full_voltages(std::span<const double> free_voltages,
                                  std::span<const double> fixed_voltages) {
  std::vector<double> v(free_voltages.begin(), free_voltages.end());
  v.insert(v.end(), fixed_voltages.begin(), fixed_voltages.end());
  return v;
}

}  // namespace xbar::solver
