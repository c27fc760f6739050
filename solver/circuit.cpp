#include "solver/circuit.hpp"

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

std::vector<double> full_voltages(std::span<const double> free_voltages,
                                  std::span<const double> fixed_voltages) {
  std::vector<double> v(free_voltages.begin(), free_voltages.end());
  v.insert(v.end(), fixed_voltages.begin(), fixed_voltages.end());
  return v;
}

}  // namespace xbar::solver
