#include "netlists/solver_views.hpp"

namespace xbar::netlists {

namespace {

// Appends a free node to a chain unless it is fixed or already its last member (merged nodes).
void extend_chain(std::vector<NodeIndex>& chain, NodeIndex node, NodeIndex n_free) {
  if (node < n_free && (chain.empty() || chain.back() != node)) chain.push_back(node);
}

}  // namespace

solver::LinePartition line_partition(const Crossbar& xb) {
  const NodeIndex n_free = xb.circuit().n_free;
  solver::LinePartition lines;
  lines.families.resize(2);
  for (int i = 0; i < xb.spec().rows; ++i) {
    std::vector<NodeIndex> chain;
    extend_chain(chain, xb.node(NodeKind::driver, i, 0), n_free);
    for (int j = 0; j < xb.spec().cols; ++j) extend_chain(chain, xb.node(NodeKind::row, i, j), n_free);
    if (!chain.empty()) lines.families[0].push_back(std::move(chain));
  }
  for (int j = 0; j < xb.spec().cols; ++j) {
    std::vector<NodeIndex> chain;
    for (int i = 0; i < xb.spec().rows; ++i) extend_chain(chain, xb.node(NodeKind::column, i, j), n_free);
    extend_chain(chain, xb.node(NodeKind::sense, 0, j), n_free);
    if (!chain.empty()) lines.families[1].push_back(std::move(chain));
  }
  return lines;
}

bool grid_fits(const Crossbar& xb) {
  const LineResistance& r = xb.spec().lines;
  const bool table = xb.spec().cell.has_select() && xb.spec().cell.select_model == devices::SelectModel::table;
  return !(table || (r.r_row == 0 && r.r_driver > 0) || (r.r_col == 0 && r.r_sense > 0));
}

std::optional<solver::GridLayout> grid_layout(const Crossbar& xb) {
  if (!grid_fits(xb)) return std::nullopt;
  const LineResistance& r = xb.spec().lines;
  solver::GridLayout g;
  g.rows = xb.spec().rows;
  g.cols = xb.spec().cols;
  if (r.r_row > 0) g.g_row = 1.0 / r.r_row, g.g_row_first = 1.0 / (r.r_driver + r.r_row);
  if (r.r_col > 0) g.g_col = 1.0 / r.r_col, g.g_col_last = 1.0 / (r.r_col + r.r_sense);
  for (int i = 0; i < xb.spec().rows; ++i) {
    g.row_source.push_back(xb.node(NodeKind::row_source, i, 0));
    if (r.r_row > 0 && r.r_driver > 0)
      g.junctions.push_back({xb.node(NodeKind::driver, i, 0), g.row_source.back(), xb.node(NodeKind::row, i, 0),
                             r.r_driver, r.r_row});
  }
  for (int j = 0; j < xb.spec().cols; ++j) {
    g.col_sink.push_back(xb.node(NodeKind::sense_source, 0, j));
    if (r.r_col > 0 && r.r_sense > 0)
      g.junctions.push_back({xb.node(NodeKind::sense, 0, j), g.col_sink.back(),
                             xb.node(NodeKind::column, xb.spec().rows - 1, j), r.r_sense, r.r_col});
  }
  const bool internal = xb.has_real_select();
  const std::size_t cells = xb.spec().weights.size();
  g.row_node.reserve(cells), g.col_node.reserve(cells);
  if (internal) g.internal_node.reserve(cells);
  for (int i = 0; i < xb.spec().rows; ++i)
    for (int j = 0; j < xb.spec().cols; ++j) {
      g.row_node.push_back(xb.node(NodeKind::row, i, j));
      g.col_node.push_back(xb.node(NodeKind::column, i, j));
      if (internal) g.internal_node.push_back(xb.node(NodeKind::internal, i, j));
    }
  if (internal) g.upper_transistors = xb.select_group();
  (xb.spec().cell.is_sonos() ? g.lower_transistors : g.lower_resistors) = xb.storage_group();
  return g;
}

}  // namespace xbar::netlists
