// The grid Newton's layout: cell order, layout checks, line storage, gather and scatter.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include "devices/cell.hpp"
#include "solver/grid_state.hpp"

namespace xbar::solver {

GridNewton::State::State(const Circuit& c, GridLayout l, NewtonOptions o)
    : circuit(c), g(std::move(l)), options(std::move(o)) {
  if (g.upper_transistors >= 0) upper = &circuit.transistors.at(g.upper_transistors);
  if (g.lower_transistors >= 0) lower_transistor = &circuit.transistors.at(g.lower_transistors);
  if (g.lower_resistors >= 0) lower_resistor = &circuit.resistors.at(g.lower_resistors);
  check_layout();
  linear_circuit = circuit.is_linear();
  symmetric = !upper && lower_resistor;  // one two-terminal device per cell: S_RC = S_CR
  const std::size_t n = cells();
  // Memory in proportion to what the cells have (the 4096 x 4096 1r bench case holds 16.8 M).
  for (auto* a : {&v_r, &v_c}) a->assign(n, 0.0);
  if (upper)
    for (auto* a : {&v_m, &gate_u}) a->assign(n, 0.0);
  if (lower_transistor) gate_l.assign(n, 0.0);
  v_src.assign(g.rows, 0.0);
  v_sink.assign(g.cols, 0.0);
  order_cells();
  if (!node_enable.empty()) enable.assign(n, 1.0);  // else no per-cell enable (1 throughout)
  build_matrix();
  if (blocks.empty()) size_work(all, 0, n);  // column blocks: their threads' scratch (run_block)
}

// w's arrays for cells [base, base + count), as far as the grid has them; the line values and
// right-hand side are the state's when w covers the grid with its rows free, else w's own.
void GridNewton::State::size_work(CellWork& w, std::size_t base, std::size_t count) {
  auto size = [&](std::vector<double>& a, bool present) {
    if (a.size() != (present ? count : 0)) a.assign(present ? count : 0, 0.0);
  };
  w.base = base;
  // Internal nodes: where the upper devices are (the layout's node lists may have moved out).
  for (auto* r : {&w.res_r, &w.res_c, &w.res_m})
    for (auto* a : {&r->f, &r->scale, &r->diag})
      size(*a, r == &w.res_r ? g.rows_free() : r == &w.res_c ? g.cols_free() : upper != nullptr);
  size(w.d_c, true);  // zero where the bit lines are fixed (the step reads it)
  size(w.d_r, g.rows_free());
  for (auto* a : {&w.inv_mm, &w.j_mc, &w.d_m}) size(*a, upper != nullptr);
  size(w.j_mr, upper && g.rows_free());
  for (auto* a : {&w.curv_u, &w.curv_lf, &w.curv_lr, &w.l_top, &w.cube_u}) size(*a, chebyshev());
  if (blocks.empty()) {
    w.n = matrix.n;
    w.flat = flat;
    w.rhs = {work.b.data(), static_cast<std::size_t>(matrix.n)};
  } else {  // one block: its bit lines alone (the rows are fixed)
    w.n = g.cols_free() ? count : 0;
    if (w.own_flat.size() < 3 * w.n) w.own_flat.resize(3 * w.n);
    if (w.own_rhs.size() < w.n) w.own_rhs.resize(w.n);
    w.flat = {w.own_flat.data(), 3 * w.n};
    w.rhs = {w.own_rhs.data(), w.n};
  }
}

// State order of the cells (see the top of this file) and the per-cell inputs in that order.
void GridNewton::State::order_cells() {
  std::vector<std::size_t> cell_of;  // state position -> row-major cell
  cell_of.reserve(cells());
  if (g.rows_free()) {
    for (std::size_t k = 0; k < cells(); ++k) cell_of.push_back(k);
  } else {
    for (std::size_t j0 = 0; j0 < std::size_t(g.cols); j0 += k_block_columns) {
      const Block b{j0, std::min<std::size_t>(g.cols, j0 + k_block_columns), cell_of.size()};
      blocks.push_back(b);
      for (std::size_t i = 0; i < std::size_t(g.rows); ++i)
        for (std::size_t j = b.j0; j < b.j1; ++j) cell_of.push_back(i * g.cols + j);
    }
  }
  auto take = [&](auto& out, const auto& in) {
    out.clear();
    if (in.empty()) return;
    out.reserve(cell_of.size());
    for (std::size_t c : cell_of) out.push_back(in[c]);
  };
  if (g.rows_free()) {  // the state's order is the layout's: its node lists move in, not copied
    node_r = std::move(g.row_node);
    node_m = std::move(g.internal_node);
    node_c = std::move(g.col_node);
  } else {
    take(node_r, g.row_node);
    take(node_m, g.internal_node);
    take(node_c, g.col_node);
  }
  const Enables& en = lower_transistor ? static_cast<const Enables&>(*lower_transistor) : *lower_resistor;
  take(node_enable, en.enable);
  if (upper) take(node_gate_u, upper->g), take(vt_u, upper->vt);
  if (lower_transistor) take(node_gate_l, lower_transistor->g), take(vt_l, lower_transistor->vt);
  if (lower_resistor && g.rows_free()) {
    g_l = lower_resistor->g;
  } else if (lower_resistor) {
    take(g_l_reordered, lower_resistor->g);
    g_l = g_l_reordered;
  }
  source_r = source_of(node_r), source_m = source_of(node_m), source_c = source_of(node_c);
  source_gate_u = source_of(node_gate_u), source_gate_l = source_of(node_gate_l);
  source_enable = source_of(node_enable);
  row_shared_r = row_shared(node_r), row_shared_gate_u = row_shared(node_gate_u);
  row_shared_gate_l = row_shared(node_gate_l), row_shared_enable = row_shared(node_enable);
  find_row_inputs();
}

// Each family fed by fixed nodes must take one node per row, the same in every block.
void GridNewton::State::find_row_inputs() {
  row_inputs.clear();
  if (blocks.empty()) return;
  const std::size_t rows = g.rows;
  for (const InputFamily& family : input_families()) {
    const std::vector<NodeIndex>& nodes = *family.nodes;
    if (family.source != Source::fixed || nodes.empty()) continue;
    const std::size_t first = row_inputs.size();
    for (std::size_t i = 0; i < rows; ++i) row_inputs.push_back(nodes[blocks[0].base + i * blocks[0].width()]);
    for (const Block& b : blocks)
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t k = b.base + i * b.width(); k < b.base + (i + 1) * b.width(); ++k)
          if (nodes[k] != row_inputs[first + i]) return row_inputs.clear();
  }
}

bool GridNewton::State::row_shared(const std::vector<NodeIndex>& nodes) const {
  if (nodes.empty() || blocks.empty()) return false;
  for (const Block& b : blocks)
    for (std::size_t k0 = b.base; k0 < end(b); k0 += b.width())
      if (std::any_of(nodes.begin() + k0 + 1, nodes.begin() + k0 + b.width(), [&](NodeIndex x) { return x != nodes[k0]; }))
        return false;
  return true;
}

void GridNewton::State::check_layout() const {
  const std::size_t n = cells();
  auto fail = [](const char* what) { throw std::logic_error(std::string("grid layout: ") + what); };
  if (g.rows < 1 || g.cols < 1) fail("empty grid");
  if (g.row_node.size() != n || g.col_node.size() != n || g.row_source.size() != std::size_t(g.rows) ||
      g.col_sink.size() != std::size_t(g.cols))
    fail("node lists do not match rows x cols");
  if (!!lower_transistor == !!lower_resistor) fail("exactly one lower device group is required");
  if (!!upper != g.has_internal()) fail("an upper device needs internal nodes, and only then");
  if (g.has_internal() && g.internal_node.size() != n) fail("internal node list does not match");
  if (upper && !upper->enable.empty()) fail("switched upper devices are not supported");
  auto same = [&](std::span<const NodeIndex> a, std::span<const NodeIndex> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  const auto& top = g.has_internal() ? g.internal_node : g.row_node;
  if (upper && !(same(upper->d, g.row_node) && same(upper->s, g.internal_node)))
    fail("upper devices do not join R(i,j) to m(i,j)");
  if (lower_transistor && !(same(lower_transistor->d, top) && same(lower_transistor->s, g.col_node)))
    fail("lower transistors do not join the cell's top node to C(i,j)");
  if (lower_resistor && !(same(lower_resistor->a, top) && same(lower_resistor->b, g.col_node)))
    fail("lower resistors do not join the cell's top node to C(i,j)");
  for (NodeIndex x : g.row_source)
    if (circuit.is_free(x)) fail("a row source is not a fixed node");
  for (NodeIndex x : g.col_sink)
    if (circuit.is_free(x)) fail("a bit-line sink is not a fixed node");
}

// Line storage (line_kernels.hpp): family of rows (if free) at p = k, stride 1; family of bit
// lines (if free) at p = col_offset() + k, stride cols (interleaved); one cross coupling per cell
// between R(i,j) and C(i,j) when both are free. Values: [diag | lower | upper | cross].
void GridNewton::State::build_matrix() {
  const auto n_cells = static_cast<std::int32_t>(cells());
  matrix.family_begin = {0};
  std::vector<std::int32_t> chain_begin;
  if (g.rows_free()) {
    matrix.family_begin.push_back(n_cells);
    matrix.family_stride.push_back(1);
    matrix.family_chain_length.push_back(g.cols);
    for (std::int32_t i = 0; i < g.rows; ++i) chain_begin.push_back(i * g.cols);
  }
  if (g.cols_free()) {
    const auto begin = static_cast<std::int32_t>(col_offset());
    matrix.family_begin.push_back(begin + n_cells);
    matrix.family_stride.push_back(g.cols);
    matrix.family_chain_length.push_back(g.rows);
    if (g.cols == 1) chain_begin.push_back(begin);  // stride 1: one chain stored in a run
  }
  matrix.n = matrix.family_begin.back();
  if (!blocks.empty()) return;  // column blocks: each solves its bit lines in its own scratch
  const std::size_t n = matrix.n;
  matrix.paired = g.rows_free() && g.cols_free() ? n_cells : 0;  // R(i,j) <-> C(i,j): line_paired.cpp
  const std::size_t couplings = matrix.paired > 0 ? n : 0;       // cross_val[p]: row p's one coupling
  flat.assign(3 * n + couplings, 0.0);
  matrix.diag = {flat.data(), n};
  matrix.lower = {flat.data() + n, n};
  matrix.upper = {flat.data() + 2 * n, n};
  matrix.cross_val = {flat.data() + 3 * n, couplings};
  // The paired kernels read the couplings from cross_val alone; the CSR of the general kernels
  // (16 bytes per cell of fresh memory on a paired grid) only where they are the ones used.
  matrix.cross_col.clear();
  if (!matrix.is_paired()) {
    matrix.cross_ptr.assign(n + 1, 0);
    if (couplings > 0) {
      for (std::size_t p = 0; p <= n; ++p) matrix.cross_ptr[p] = static_cast<std::int32_t>(p);
      matrix.cross_col.resize(n);
      for (std::int32_t k = 0; k < n_cells; ++k) {
        matrix.cross_col[k] = n_cells + k;
        matrix.cross_col[n_cells + k] = k;
      }
    }
  }
  matrix.split_families(chain_begin, parallel_threads());
  matrix.allocate_factors();  // every array a solve uses, here, once per geometry
  work.prepare(matrix, symmetric);
}

// Which vector the nodes of a list live in: all free, all fixed, or some of each.
GridNewton::State::Source GridNewton::State::source_of(const std::vector<NodeIndex>& nodes) const {
  const bool any_free = std::any_of(nodes.begin(), nodes.end(), [&](NodeIndex x) { return circuit.is_free(x); });
  const bool any_fixed = std::any_of(nodes.begin(), nodes.end(), [&](NodeIndex x) { return !circuit.is_free(x); });
  return any_free && any_fixed ? Source::mixed : any_fixed ? Source::fixed : Source::free;
}

// Packed voltages from the circuit's (free, fixed) vectors: one loop per per-cell list, without a
// branch per cell where the list's nodes all live in one vector (they do in every crossbar).
void GridNewton::State::gather(std::span<const double> fixed, std::span<const double> v_free) {
  const NodeIndex n_free = circuit.n_free;
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (int i = 0; i < g.rows; ++i) v_src[i] = at(g.row_source[i]);
  for (int j = 0; j < g.cols; ++j) v_sink[j] = at(g.col_sink[j]);
  struct List {
    const std::vector<NodeIndex>& nodes;
    std::vector<double>& out;
    Source source;
  };
  std::vector<List> lists{{node_r, v_r, source_r}, {node_c, v_c, source_c}};
  if (upper) lists.push_back({node_m, v_m, source_m}), lists.push_back({node_gate_u, gate_u, source_gate_u});
  if (lower_transistor) lists.push_back({node_gate_l, gate_l, source_gate_l});
  if (!node_enable.empty()) lists.push_back({node_enable, enable, source_enable});
  for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) {
    for (const List& l : lists) {
      const NodeIndex* __restrict node = l.nodes.data();
      double* __restrict out = l.out.data();
      if (l.source == Source::free)
        for (std::size_t k = k0; k < k1; ++k) out[k] = v_free[node[k]];
      else if (l.source == Source::fixed)
        for (std::size_t k = k0; k < k1; ++k) out[k] = fixed[node[k] - n_free];
      else
        for (std::size_t k = k0; k < k1; ++k) out[k] = at(node[k]);
    }
  });
}

void GridNewton::State::scatter(std::span<const double> fixed, std::span<double> v_free) const {
  for_cells(cells(), [&](int, std::size_t k0, std::size_t k1) { scatter_cells(v_free, k0, k1); });
  scatter_junctions(fixed, v_free);
}

// Distinct free nodes per cell: ranges of cells may be scattered in parallel.
void GridNewton::State::scatter_cells(std::span<double> v_free, std::size_t k0, std::size_t k1) const {
  const NodeIndex n_free = circuit.n_free;
  auto scatter_list = [&](const std::vector<NodeIndex>& nodes, std::span<const double> v, Source source) {
    if (source == Source::free)
      for (std::size_t k = k0; k < k1; ++k) v_free[nodes[k]] = v[k];
    else if (source == Source::mixed)
      for (std::size_t k = k0; k < k1; ++k)
        if (nodes[k] < n_free) v_free[nodes[k]] = v[k];
  };
  scatter_list(node_r, v_r, source_r);
  scatter_list(node_c, v_c, source_c);
  if (upper) scatter_list(node_m, v_m, source_m);
}

void GridNewton::State::scatter_junctions(std::span<const double> fixed, std::span<double> v_free) const {
  const NodeIndex n_free = circuit.n_free;
  auto at = [&](NodeIndex x) { return x < n_free ? v_free[x] : fixed[x - n_free]; };
  for (const GridLayout::Junction& x : g.junctions) {
    const double v_fixed = at(x.fixed);
    if (x.node < n_free)
      v_free[x.node] = v_fixed + (at(x.other) - v_fixed) * (x.r_fixed / (x.r_fixed + x.r_other));
  }
}

}  // namespace xbar::solver
