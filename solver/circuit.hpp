#pragma once
// A DC circuit as the solver sees it: node voltages v[0..n_free) are unknowns, v[n_free..) are
// fixed by ideal grounded sources (the excitation). Elements come in groups of one kind so that
// devices are evaluated in batches (structure of arrays), never one virtual call per element.
//
// Sign convention: every branch current flows from its first terminal (a, or drain d) to its
// second (b, or source s). The nodal residual f_i is the sum of branch currents *leaving* node i;
// the circuit is solved when f_i = 0 at every free node (KCL).
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "devices/ekv.hpp"
#include "devices/resistor.hpp"
#include "devices/table_device.hpp"

namespace xbar::solver {

using NodeIndex = std::int32_t;

/// Linear conductances (wires): I = g (v_a - v_b).
struct ConductanceGroup {
  std::vector<NodeIndex> a, b;
  std::vector<double> g;  ///< S, > 0
  std::size_t size() const { return g.size(); }
  void add(NodeIndex node_a, NodeIndex node_b, double conductance);
};

/// Optional per-element enable: element k's current (and every partial) is multiplied by the
/// voltage of the fixed node enable[k], 1 or 0 -- an ideal switch in series, exactly open when 0
/// (the seed paper's ideal select). Empty: always enabled.
struct Enables {
  std::vector<NodeIndex> enable;
  double factor(std::span<const double> v, std::size_t k) const {
    return enable.empty() ? 1.0 : v[enable[k]];
  }
};

/// Resistor cells sharing one law (linear or sinh): I = law(g, v_a - v_b).
struct ResistorGroup : Enables {
  devices::ResistorLaw law;
  std::vector<NodeIndex> a, b;
  std::vector<double> g;  ///< S, > 0
  std::size_t size() const { return g.size(); }
  void add(NodeIndex node_a, NodeIndex node_b, double conductance);
};

/// EKV transistors sharing n, I_S, eta; V_T per instance. Each has its G_leak shunt d-s.
struct TransistorGroup : Enables {
  devices::EkvParams law;        ///< law.vt unused: see vt
  std::vector<NodeIndex> d, g, s;
  std::vector<double> vt;        ///< V
  std::size_t size() const { return vt.size(); }
  void add(NodeIndex drain, NodeIndex gate, NodeIndex source, double threshold);
};

/// Transistors sharing one tabulated law (devices::TableDevice, e.g. a user's model card run
/// through `xbar characterize`). Each has its G_leak shunt d-s. Never switched by an enable.
struct TabulatedTransistorGroup {
  std::shared_ptr<const devices::TableDevice> law;
  std::vector<NodeIndex> d, g, s;
  std::size_t size() const { return d.size(); }
  void add(NodeIndex drain, NodeIndex gate, NodeIndex source);
};

struct Circuit {
  NodeIndex n_free = 0;
  NodeIndex n_fixed = 0;
  ConductanceGroup wires;
  std::vector<ResistorGroup> resistors;
  std::vector<TransistorGroup> transistors;
  std::vector<TabulatedTransistorGroup> tabulated;

  NodeIndex n_nodes() const { return n_free + n_fixed; }
  bool is_free(NodeIndex node) const { return node < n_free; }
  /// No transistor and only linear resistor laws: f(v) is affine, Newton's first step exact.
  bool is_linear() const;
};

/// Net current leaving every node (free and fixed), and its rounding scale: the sum of |g v|
/// over both ends of every linear branch at the node plus |I| of every device branch. KCL
/// holds at node i to rounding when |current_out[i]| <= 1e-12 scale[i] + 1e-18 A.
struct NodeCurrents {
  std::vector<double> current_out;  ///< A
  std::vector<double> scale;        ///< A
};
NodeCurrents node_currents(const Circuit& circuit, std::span<const double> voltages);

/// Net current (A) leaving each of `nodes`, as node_currents gives it, evaluating only the
/// elements incident to them (e.g. the column currents at the sense sources).
std::vector<double> currents_out_of(const Circuit& circuit, std::span<const double> voltages,
                                    std::span<const NodeIndex> nodes);

/// The elements of `circuit` with a terminal (a/b, drain/source) in `nodes`, same node numbering:
/// currents_out_of on it gives the same currents at those nodes, evaluating only what touches
/// them (the column currents at the sense sources, once per input vector).
Circuit incident_subcircuit(const Circuit& circuit, std::span<const NodeIndex> nodes);

/// Full voltage vector: the unknowns followed by the fixed voltages.
std::vector<double> full_voltages(std::span<const double> free_voltages,
                                  std::span<const double> fixed_voltages);
/// The same into `out`, reusing its storage (once per input vector on large arrays).
void full_voltages(std::span<const double> free_voltages, std::span<const double> fixed_voltages,
                   std::vector<double>& out);

}  // namespace xbar::solver
