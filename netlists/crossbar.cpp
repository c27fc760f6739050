#include "netlists/crossbar.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "solver/parallel.hpp"

namespace xbar::netlists {

std::string_view to_string(NodeKind kind) {
  switch (kind) {
    case NodeKind::driver: return "driver node a";
    case NodeKind::row: return "row node r";
    case NodeKind::internal: return "cell-internal node m";
    case NodeKind::column: return "column node c";
    case NodeKind::sense: return "sense node s";
    case NodeKind::row_source: return "row source";
    case NodeKind::sense_source: return "sense source";
    case NodeKind::gate: return "select gate";
    case NodeKind::word_line: return "word line";
  }
  return "node";
}

namespace {

// Logical nodes, before merging: every node of the array (crossbar.hpp) has a fixed id.
class LogicalNodes {
 public:
  LogicalNodes(int rows, int cols) : m_(rows), n_(cols) {}
  int id(NodeKind kind, int i, int j) const {
    const int mn = m_ * n_;
    switch (kind) {
      case NodeKind::driver: return i;
      case NodeKind::row: return m_ + i * n_ + j;
      case NodeKind::internal: return m_ + mn + i * n_ + j;
      case NodeKind::column: return m_ + 2 * mn + i * n_ + j;
      case NodeKind::sense: return m_ + 3 * mn + j;
      case NodeKind::row_source: return m_ + 3 * mn + n_ + i;
      case NodeKind::sense_source: return 2 * m_ + 3 * mn + n_ + j;
      case NodeKind::gate: return 2 * m_ + 3 * mn + 2 * n_ + i;
      case NodeKind::word_line: return 3 * m_ + 3 * mn + 2 * n_;
    }
    return -1;
  }
  int count() const { return 3 * m_ + 3 * m_ * n_ + 2 * n_ + 1; }
  NodeLabel label(int id) const {
    const int mn = m_ * n_;
    if (id < m_) return {NodeKind::driver, id, -1};
    id -= m_;
    for (NodeKind k : {NodeKind::row, NodeKind::internal, NodeKind::column}) {
      if (id < mn) return {k, id / n_, id % n_};
      id -= mn;
    }
    if (id < n_) return {NodeKind::sense, -1, id};
    id -= n_;
    if (id < m_) return {NodeKind::row_source, id, -1};
    id -= m_;
    if (id < n_) return {NodeKind::sense_source, -1, id};
    id -= n_;
    if (id < m_) return {NodeKind::gate, id, -1};
    return {NodeKind::word_line, -1, -1};
  }

 private:
  int m_, n_;
};

std::string node_spice_name(const NodeLabel& l) {
  switch (l.kind) {
    case NodeKind::driver: return fmt::format("a_{}", l.row);
    case NodeKind::row: return fmt::format("r_{}_{}", l.row, l.col);
    case NodeKind::internal: return fmt::format("m_{}_{}", l.row, l.col);
    case NodeKind::column: return fmt::format("c_{}_{}", l.row, l.col);
    case NodeKind::sense: return fmt::format("s_{}", l.col);
    case NodeKind::row_source: return fmt::format("vrow_{}", l.row);
    case NodeKind::sense_source: return fmt::format("vsense_{}", l.col);
    case NodeKind::gate: return fmt::format("g_{}", l.row);
    case NodeKind::word_line: return "wl";
  }
  return "?";
}

bool is_source(NodeKind k) {
  return k == NodeKind::row_source || k == NodeKind::sense_source || k == NodeKind::gate ||
         k == NodeKind::word_line;
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(int n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  // The smaller id becomes the root, so a class is named after its first logical node; sources
  // have the largest ids, so they are re-rooted explicitly below.
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

// A resistive wire of the array between two logical nodes (r = 0: the nodes merge).
struct Wire {
  int a, b;
  double r;
};

// Every wire of the array on logical ids, always in the same order (the circuit's wire order).
template <class Fn>
void for_each_wire(const ArraySpec& s, const LogicalNodes& ids, Fn&& fn) {
  for (int i = 0; i < s.rows; ++i) {
    fn(Wire{ids.id(NodeKind::row_source, i, 0), ids.id(NodeKind::driver, i, 0), s.lines.r_driver});
    for (int j = 0; j < s.cols; ++j)
      fn(Wire{j == 0 ? ids.id(NodeKind::driver, i, 0) : ids.id(NodeKind::row, i, j - 1),
              ids.id(NodeKind::row, i, j), s.lines.r_row});
  }
  for (int j = 0; j < s.cols; ++j) {
    for (int i = 0; i + 1 < s.rows; ++i)
      fn(Wire{ids.id(NodeKind::column, i, j), ids.id(NodeKind::column, i + 1, j), s.lines.r_col});
    fn(Wire{ids.id(NodeKind::column, s.rows - 1, j), ids.id(NodeKind::sense, 0, j), s.lines.r_col});
    fn(Wire{ids.id(NodeKind::sense, 0, j), ids.id(NodeKind::sense_source, 0, j), s.lines.r_sense});
  }
}

// A cell's device on logical ids: gate = -1 for resistors; enable = the fixed node whose 1/0
// voltage switches the element, or -1.
struct Device {
  int a, b, gate, enable;
  double weight;
};

// The select devices (select = true) or the storage devices of every cell, in row-major order.
template <class Fn>
void for_each_device(const ArraySpec& s, const LogicalNodes& ids, bool select, Fn&& fn) {
  const bool ideal = s.cell.has_select() && s.cell.select_model == devices::SelectModel::ideal;
  if (select && (!s.cell.has_select() || ideal)) return;
  const int word_line = s.cell.is_sonos() ? ids.id(NodeKind::word_line, 0, 0) : -1;
  for (int i = 0; i < s.rows; ++i)
    for (int j = 0; j < s.cols; ++j) {
      const int top = ids.id(NodeKind::row, i, j), bottom = ids.id(NodeKind::column, i, j);
      const int gate = ids.id(NodeKind::gate, i, 0);
      const double weight = s.weights[static_cast<std::size_t>(i) * s.cols + j];
      if (ideal) {  // the ideal select is an enable (1/0 on the gate node) on the storage element
        fn(Device{top, bottom, word_line, gate, weight});
      } else if (s.cell.has_select()) {
        const int m = ids.id(NodeKind::internal, i, j);
        fn(select ? Device{top, m, gate, -1, 0.0} : Device{m, bottom, word_line, -1, weight});
      } else {
        fn(Device{top, bottom, -1, -1, weight});
      }
    }
}

}  // namespace

// Merges the 0-ohm wires of the logical nodes, numbers the circuit nodes and adds the cells'
// devices. The wires and devices are generated where needed (for_each_wire, for_each_device),
// never stored on logical ids; the line wires join the circuit only when it is asked for whole
// (Crossbar::circuit: the grid models the lines itself).
class Crossbar::Builder {
 public:
  explicit Builder(Crossbar& xb) : xb_(xb), ids_(xb.spec_.rows, xb.spec_.cols), uf_(ids_.count()) {}

  void build() {
    const int count = ids_.count();
    terminal_.assign(count, false);
    for_each_wire(xb_.spec_, ids_, [&](const Wire& w) {
      if (w.r == 0) uf_.unite(w.a, w.b);
      else terminal_[w.a] = terminal_[w.b] = true;
    });
    for (bool select : {true, false})
      for_each_device(xb_.spec_, ids_, select, [&](const Device& d) {
        terminal_[d.a] = terminal_[d.b] = true;
        if (d.gate >= 0) terminal_[d.gate] = true;
        if (d.enable >= 0) terminal_[d.enable] = true;
      });
    number_nodes();
    emit_devices();
  }

  /// The line wires (r > 0) on circuit nodes, in for_each_wire's order.
  static void add_wires(const Crossbar& xb, solver::ConductanceGroup& wires) {
    const auto& node = xb.logical_to_node_;
    const LogicalNodes ids(xb.spec_.rows, xb.spec_.cols);
    std::size_t count = 0;
    for_each_wire(xb.spec_, ids, [&](const Wire& w) { count += w.r > 0; });
    wires.a.reserve(wires.size() + count), wires.b.reserve(wires.size() + count), wires.g.reserve(wires.size() + count);
    for_each_wire(xb.spec_, ids, [&](const Wire& w) {
      if (w.r > 0) wires.add(node[w.a], node[w.b], 1.0 / w.r);
    });
  }

  /// The line wires with a terminal on one of `nodes` (circuit nodes).
  static void add_wires_touching(const Crossbar& xb, std::span<const NodeIndex> nodes,
                                 solver::ConductanceGroup& wires) {
    const auto& node = xb.logical_to_node_;
    std::vector<bool> wanted(xb.circuit_.n_nodes(), false);
    for (NodeIndex x : nodes) wanted[x] = true;
    for_each_wire(xb.spec_, LogicalNodes(xb.spec_.rows, xb.spec_.cols), [&](const Wire& w) {
      if (w.r > 0 && (wanted[node[w.a]] || wanted[node[w.b]])) wires.add(node[w.a], node[w.b], 1.0 / w.r);
    });
  }

 private:
  void number_nodes() {
    const int count = ids_.count();
    std::vector<bool> used(count, false);  // per class root: a terminal of some element
    for (int l = 0; l < count; ++l)
      if (terminal_[l]) used[uf_.find(l)] = true;
    std::vector<int> fixed_class(count, -1);
    // Sources in a fixed order: V_row(i), V_sense(j), gate(i), word line.
    std::vector<int> sources;
    for (int l = 0; l < count; ++l)
      if (is_source(ids_.label(l).kind) && used[uf_.find(l)]) sources.push_back(l);
    for (int l : sources) {
      int& owner = fixed_class[uf_.find(l)];
      if (owner >= 0)
        throw std::logic_error("crossbar: two sources merged by zero resistances");
      owner = l;
    }
    std::vector<NodeIndex> index_of_class(count, -1);
    NodeIndex next = 0;
    xb_.labels_.reserve(count);  // an upper bound: the pages beyond the nodes are never touched
    for (int l = 0; l < count; ++l) {
      const int root = uf_.find(l);
      if (used[root] && fixed_class[root] < 0 && index_of_class[root] < 0) {
        index_of_class[root] = next++;
        xb_.labels_.push_back(ids_.label(l));
      }
    }
    xb_.circuit_.n_free = next;
    for (int l : sources) {
      index_of_class[uf_.find(l)] = next++;
      xb_.labels_.push_back(ids_.label(l));
    }
    xb_.circuit_.n_fixed = next - xb_.circuit_.n_free;
    xb_.logical_to_node_.resize(count);
    for (int l = 0; l < count; ++l) xb_.logical_to_node_[l] = index_of_class[uf_.find(l)];
  }

  void emit_devices() {
    solver::Circuit& c = xb_.circuit_;
    const std::size_t cells = xb_.spec_.weights.size();
    const devices::CellModel& cell = xb_.spec_.cell;
    if (cell.select_model == devices::SelectModel::table && cell.has_select()) {
      add_tabulated_select(c);
    } else if (cell.has_select()) {
      xb_.select_group_ = static_cast<int>(c.transistors.size());
      solver::TransistorGroup& sel = c.transistors.emplace_back();
      sel.law = cell.select;
      reserve(cells, sel.d, sel.g, sel.s, sel.vt);
      each_device(true, [&](const Device& d, const auto& node) {
        sel.add(node[d.a], node[d.gate], node[d.b], cell.select.vt);
      });
    }
    if (cell.is_sonos()) {
      xb_.storage_group_ = static_cast<int>(c.transistors.size());
      solver::TransistorGroup& son = c.transistors.emplace_back();
      son.law = cell.sonos;
      reserve(cells, son.d, son.g, son.s, son.vt);
      each_device(false, [&](const Device& d, const auto& node) {
        son.add(node[d.a], node[d.gate], node[d.b], d.weight);
      });
      add_enables(son);
    } else {
      xb_.storage_group_ = static_cast<int>(c.resistors.size());
      solver::ResistorGroup& res = c.resistors.emplace_back();
      res.law = cell.resistor;
      reserve(cells, res.a, res.b, res.g);
      each_device(false, [&](const Device& d, const auto& node) { res.add(node[d.a], node[d.b], d.weight); });
      add_enables(res);
    }
  }

  template <class... Vectors>
  static void reserve(std::size_t n, Vectors&... v) {
    (v.reserve(n), ...);
  }

  // fn(device, logical -> circuit node) over the select or storage devices.
  template <class Fn>
  void each_device(bool select, Fn&& fn) const {
    for_each_device(xb_.spec_, ids_, select, [&](const Device& d) { fn(d, xb_.logical_to_node_); });
  }

  // A tabulated select: one group sharing the table (the law of the card in spec().cell).
  void add_tabulated_select(solver::Circuit& c) const {
    const auto& table = xb_.spec_.cell.select_table;
    if (!table) throw std::invalid_argument("Crossbar: select model 'table' without a table");
    solver::TabulatedTransistorGroup& sel = c.tabulated.emplace_back();
    sel.law = std::shared_ptr<const devices::TableDevice>(table, &table->law);
    each_device(true, [&](const Device& d, const auto& node) { sel.add(node[d.a], node[d.gate], node[d.b]); });
  }

  void add_enables(solver::Enables& group) const {
    each_device(false, [&](const Device& d, const auto& node) {
      if (d.enable >= 0) group.enable.push_back(node[d.enable]);
    });
  }

  Crossbar& xb_;
  LogicalNodes ids_;
  UnionFind uf_;
  std::vector<bool> terminal_;  ///< per logical node: a terminal of a wire (r > 0) or a device
};

Crossbar::Crossbar(ArraySpec spec) : spec_(std::move(spec)) {
  const std::size_t cells = static_cast<std::size_t>(spec_.rows) * spec_.cols;
  if (spec_.rows < 1 || spec_.cols < 1 || spec_.weights.size() != cells)
    throw std::invalid_argument("Crossbar: rows, cols >= 1 and one weight per cell required");
  Builder(*this).build();
  for (int j = 0; j < spec_.cols; ++j) sense_sources_.push_back(node(NodeKind::sense_source, 0, j));
  // The elements at the sense sources, as incident_subcircuit(circuit(), ...) has them, without
  // the line wires elsewhere: the devices (there only when both resistances below a column are
  // 0), then the wires.
  sense_branches_ = solver::incident_subcircuit(circuit_, sense_sources_);
  Builder::add_wires_touching(*this, sense_sources_, sense_branches_.wires);
  if (spec_.ideal_weights().size() != cells)
    throw std::invalid_argument("Crossbar: nominal weights, if given, one per cell");
  // Resistor cells: isolated currents depend on the input (row voltage), computed when asked
  // (ideal_reference.cpp).
  if (!spec_.cell.has_select()) return;
  // V_row = v_read for every row: one isolated solve per distinct weight, on and off (a nominal
  // array holds a few levels; with [variation] nearly every cell is its own), the distinct
  // weights in parallel; the nominal weights' currents (with [variation]) for the ideal reference.
  const bool varied = !spec_.nominal_weights.empty();
  std::vector<double> distinct(spec_.weights.begin(), spec_.weights.end());
  if (varied) distinct.insert(distinct.end(), spec_.nominal_weights.begin(), spec_.nominal_weights.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<std::array<devices::IsolatedCell, 2>> solved(distinct.size());
  solver::parallel_for(static_cast<std::int64_t>(distinct.size()), 64, [&](int, std::int64_t d0, std::int64_t d1) {
    for (std::int64_t d = d0; d < d1; ++d)
      solved[d] = {devices::isolated_cell(spec_.cell, distinct[d], spec_.v_read, spec_.v_sense),
                   devices::isolated_cell_off(spec_.cell, distinct[d], spec_.v_read, spec_.v_sense)};
  });
  auto isolated = [&](double w) -> const std::array<devices::IsolatedCell, 2>& {
    return solved[std::lower_bound(distinct.begin(), distinct.end(), w) - distinct.begin()];
  };
  programmed_current_.resize(cells);
  isolated_current_.resize(cells);
  isolated_v_m_.resize(cells);
  isolated_v_m_off_.resize(cells);
  for (std::size_t k = 0; k < cells; ++k) {
    const auto& cell = isolated(spec_.weights[k]);
    programmed_current_[k] = cell[0].current;
    isolated_current_[k] = varied ? isolated(spec_.nominal_weights[k])[0].current : cell[0].current;
    isolated_v_m_[k] = cell[0].v_m;
    isolated_v_m_off_[k] = cell[1].v_m;
  }
}

const solver::Circuit& Crossbar::circuit() const {
  std::call_once(wires_built_, [this] { Builder::add_wires(*this, circuit_.wires); });
  return circuit_;
}

NodeIndex Crossbar::node(NodeKind kind, int row, int col) const {
  return logical_to_node_[LogicalNodes(spec_.rows, spec_.cols).id(kind, row, col)];
}

std::string Crossbar::describe(NodeIndex n) const {
  const NodeLabel& l = labels_[n];
  if (l.row >= 0 && l.col >= 0) return fmt::format("{}(row {}, column {})", to_string(l.kind), l.row, l.col);
  if (l.row >= 0) return fmt::format("{} (row {})", to_string(l.kind), l.row);
  if (l.col >= 0) return fmt::format("{} (column {})", to_string(l.kind), l.col);
  return std::string(to_string(l.kind));
}

double Crossbar::row_voltage(std::span<const double> input, int row) const {
  return spec_.cell.has_select() ? spec_.v_read : input[row] * spec_.v_read;
}

bool Crossbar::has_real_select() const {
  return spec_.cell.has_select() && spec_.cell.select_model != devices::SelectModel::ideal;
}

bool Crossbar::row_active(std::span<const double> input, int row) const {
  return !spec_.cell.has_select() || input[row] != 0.0;
}

std::vector<double> Crossbar::fixed_voltages(std::span<const double> input) const {
  std::vector<double> v(circuit_.n_fixed);
  for (NodeIndex k = 0; k < circuit_.n_fixed; ++k) {
    const NodeLabel& l = labels_[circuit_.n_free + k];
    switch (l.kind) {
      case NodeKind::row_source: v[k] = row_voltage(input, l.row); break;
      case NodeKind::sense_source: v[k] = spec_.v_sense; break;
      case NodeKind::gate:  // an ideal select's gate node is its enable: 1 or 0
        v[k] = has_real_select() ? (row_active(input, l.row) ? spec_.cell.v_on : spec_.cell.v_off)
                                 : (row_active(input, l.row) ? 1.0 : 0.0);
        break;
      case NodeKind::word_line: v[k] = spec_.cell.v_wl; break;
      default: throw std::logic_error("crossbar: fixed node that is not a source");
    }
  }
  return v;
}

const std::string& Crossbar::spice_name(NodeIndex node) const {
  std::call_once(names_built_, [this] {
    names_.reserve(labels_.size());
    for (const NodeLabel& label : labels_) names_.push_back(node_spice_name(label));
  });
  return names_[node];
}

double Crossbar::isolated_v_m(int row, int col, bool select_on) const {
  const std::size_t k = static_cast<std::size_t>(row) * spec_.cols + col;
  if (spec_.cell.has_select()) return select_on ? isolated_v_m_[k] : isolated_v_m_off_[k];
  return row_voltage(std::vector<double>(spec_.rows, 1.0), row);
}

std::vector<double> Crossbar::initial_guess(std::span<const double> input) const {
  std::vector<double> v(circuit_.n_free);
  initial_guess(input, v);
  return v;
}

void Crossbar::initial_guess(std::span<const double> input, std::span<double> v) const {
  if (v.size() != static_cast<std::size_t>(circuit_.n_free))
    throw std::logic_error("crossbar: initial guess of the wrong size");
  const std::int64_t grain = rows_per_task() * std::max(1, spec_.cols);
  solver::parallel_for(circuit_.n_free, grain, [&](int, std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const NodeLabel& l = labels_[n];
      switch (l.kind) {
        case NodeKind::driver:
        case NodeKind::row: v[n] = row_voltage(input, l.row); break;
        case NodeKind::internal:
          v[n] = isolated_v_m(l.row, l.col, row_active(input, l.row));
          break;
        default: v[n] = spec_.v_sense; break;
      }
    }
  });
}

std::vector<double> Crossbar::column_currents(std::span<const double> voltages) const {
  std::vector<double> out = solver::currents_out_of(sense_branches_, voltages, sense_sources_);
  for (double& i : out) i = -i;  // into V_sense
  return out;
}

std::vector<double> Crossbar::cell_currents(std::span<const double> v) const {
  std::vector<double> out(spec_.weights.size());
  cell_currents(v, out);
  return out;
}

void Crossbar::cell_currents(std::span<const double> v, std::span<double> out) const {
  const bool internal = has_real_select();
  const bool ideal = spec_.cell.has_select() && !internal;
  const std::size_t cols = spec_.cols;
  solver::parallel_for(spec_.rows, rows_per_task(), [&](int, std::int64_t i0, std::int64_t i1) {
    std::vector<double> v_top(cols), v_bl(cols);  // one row's terminal voltages
    for (int i = static_cast<int>(i0); i < i1; ++i) {
      for (std::size_t j = 0; j < cols; ++j) {
        v_top[j] = v[node(internal ? NodeKind::internal : NodeKind::row, i, int(j))];
        v_bl[j] = v[node(NodeKind::column, i, int(j))];
      }
      const std::span<double> row = out.subspan(i * cols, cols);
      devices::storage_currents(spec_.cell, std::span(spec_.weights).subspan(i * cols, cols), v_top, v_bl, row);
      if (!ideal) continue;
      const double enable = v[node(NodeKind::gate, i, 0)];  // the row's ideal select: 0 or 1
      for (double& current : row) current *= enable;
    }
  });
}

std::vector<double> Crossbar::line_voltages(NodeKind kind, std::span<const double> voltages) const {
  std::vector<double> out(spec_.weights.size());
  line_voltages(kind, voltages, out);
  return out;
}

void Crossbar::line_voltages(NodeKind kind, std::span<const double> voltages, std::span<double> out) const {
  solver::parallel_for(spec_.rows, rows_per_task(), [&](int, std::int64_t i0, std::int64_t i1) {
    for (int i = static_cast<int>(i0); i < i1; ++i)
      for (int j = 0; j < spec_.cols; ++j)
        out[static_cast<std::size_t>(i) * spec_.cols + j] = voltages[node(kind, i, j)];
  });
}

std::int64_t Crossbar::rows_per_task() const {
  constexpr std::int64_t k_cells_per_task = 1 << 15;  // below this, a thread costs more than it saves
  return std::max<std::int64_t>(1, k_cells_per_task / std::max(1, spec_.cols));
}

}  // namespace xbar::netlists
