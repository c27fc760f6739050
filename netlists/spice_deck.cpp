#include "netlists/spice_deck.hpp"

#include <fmt/format.h>

namespace xbar::netlists {

std::string sense_source_name(int col) { return fmt::format("VSENSE_{}", col); }

namespace {

std::string source_name(const NodeLabel& l) {
  switch (l.kind) {
    case NodeKind::row_source: return fmt::format("VROW_{}", l.row);
    case NodeKind::sense_source: return sense_source_name(l.col);
    case NodeKind::gate: return fmt::format("VG_{}", l.row);
    default: return "VWL";
  }
}

// "V(en)*(expr)" for an element switched by an enable node (ideal select), else expr.
std::string gated(const Crossbar& xb, const solver::Enables& group, std::size_t k, const std::string& expr) {
  if (group.enable.empty()) return expr;
  return fmt::format("V({})*({})", xb.spice_name(group.enable[k]), expr);
}

// One EKV transistor: an auxiliary node carries V_P (keeps ngspice's expression trees small),
// a B current source carries I_DS, a resistor carries G_leak (inside the B-source when the
// element is switched, so that the switch opens it completely). V_P is driven as a current
// V_P * 1 A/V into 1 ohm rather than by a B voltage source: same node voltage, but no branch
// unknown, which cuts ngspice's matrix by a third (its reorder and factor time with it).
void write_transistor(std::string& out, const Crossbar& xb, const solver::TransistorGroup& t,
                      std::size_t k, const std::string& tag) {
  const std::string d = xb.spice_name(t.d[k]), g = xb.spice_name(t.g[k]), s = xb.spice_name(t.s[k]);
  devices::EkvParams p = t.law;
  p.vt = t.vt[k];
  const std::string aux = fmt::format("p{}", tag);
  fmt::format_to(std::back_inserter(out), "BP{} 0 {} I={{{}}}\nRP{} {} 0 1\n", tag, aux,
                 devices::ekv_spice_pinchoff(g, d, s, p), tag, aux);
  std::string current = devices::ekv_spice_current(aux, d, s, p.i_s);
  if (!t.enable.empty())
    current += fmt::format("+{:.17g}*(V({})-V({}))", devices::k_transistor_leak, d, s);
  fmt::format_to(std::back_inserter(out), "B{} {} {} I={{{}}}\n", tag, d, s, gated(xb, t, k, current));
  if (t.enable.empty())
    fmt::format_to(std::back_inserter(out), "RL{} {} {} {:.17g}\n", tag, d, s,
                   1.0 / devices::k_transistor_leak);
}

// One tabulated transistor: the original model card's instance (bulk at ground), and its
// G_leak resistor, so that ngspice solves the device xbar only interpolates.
void write_tabulated(std::string& out, const Crossbar& xb, const solver::TabulatedTransistorGroup& t,
                     std::size_t k, const std::string& tag) {
  const std::string d = xb.spice_name(t.d[k]), g = xb.spice_name(t.g[k]), s = xb.spice_name(t.s[k]);
  out += devices::card_spice_instance(xb.spec().cell.select_table->card, tag, d, g, s, "0");
  fmt::format_to(std::back_inserter(out), "RL{} {} {} {:.17g}\n", tag, d, s, 1.0 / devices::k_transistor_leak);
}

std::string cell_tag(const char* prefix, std::size_t k, int cols) {
  return fmt::format("{}_{}_{}", prefix, k / cols, k % cols);
}

}  // namespace

std::string spice_deck(const Crossbar& xb, std::span<const double> input, const std::string& title) {
  const solver::Circuit& c = xb.circuit();
  const ArraySpec& spec = xb.spec();
  std::string out = fmt::format("* {}\n{}\n", title, k_spice_options);
  if (!c.transistors.empty()) out += devices::ekv_spice_functions();
  if (!c.tabulated.empty()) out += devices::card_spice_definitions(spec.cell.select_table->card);
  const std::vector<double> fixed = xb.fixed_voltages(input);
  for (solver::NodeIndex k = 0; k < c.n_fixed; ++k) {
    const solver::NodeIndex n = c.n_free + k;
    fmt::format_to(std::back_inserter(out), "{} {} 0 DC {:.17g}\n", source_name(xb.label(n)),
                   xb.spice_name(n), fixed[k]);
  }
  for (std::size_t k = 0; k < c.wires.size(); ++k)
    fmt::format_to(std::back_inserter(out), "RW{} {} {} {:.17g}\n", k, xb.spice_name(c.wires.a[k]),
                   xb.spice_name(c.wires.b[k]), 1.0 / c.wires.g[k]);
  for (std::size_t group = 0; group < c.transistors.size(); ++group) {
    const bool select = static_cast<int>(group) == xb.select_group();
    for (std::size_t k = 0; k < c.transistors[group].size(); ++k)
      write_transistor(out, xb, c.transistors[group], k, cell_tag(select ? "SEL" : "SON", k, spec.cols));
  }
  for (const solver::TabulatedTransistorGroup& t : c.tabulated)
    for (std::size_t k = 0; k < t.size(); ++k) write_tabulated(out, xb, t, k, cell_tag("SEL", k, spec.cols));
  for (const solver::ResistorGroup& r : c.resistors)
    for (std::size_t k = 0; k < r.size(); ++k) {
      const std::string a = xb.spice_name(r.a[k]), b = xb.spice_name(r.b[k]);
      const std::string tag = cell_tag("CELL", k, spec.cols);
      if (r.law.is_linear() && r.enable.empty())
        fmt::format_to(std::back_inserter(out), "R{} {} {} {:.17g}\n", tag, a, b, 1.0 / r.g[k]);
      else
        fmt::format_to(std::back_inserter(out), "B{} {} {} I={{{}}}\n", tag, a, b,
                       gated(xb, r, k, devices::resistor_spice_current(r.law, r.g[k], a, b)));
    }
  out += ".op\n.end\n";
  return out;
}

}  // namespace xbar::netlists
