// Batches on the grid with fixed rows (grid_newton.hpp: GridNewton::solve_batch): every block of
// bit lines is independent of the others, so each one runs through all vectors of the batch in
// order while its arrays stay in its thread's cache, and a vector's first evaluation redoes only
// the rows whose inputs changed since the vector before.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "solver/grid_state.hpp"
#include "solver/isa_clones.hpp"

namespace xbar::solver {

bool GridNewton::State::batches() const {
  const Source sources[] = {source_r, source_m, source_c, source_gate_u, source_gate_l, source_enable};
  return !blocks.empty() && g.cols_free() &&
         std::none_of(std::begin(sources), std::end(sources), [](Source s) { return s == Source::mixed; });
}

// The per-cell lists fed by fixed nodes (the row voltages, the gates, the enables), and the
// block's sinks.
XBAR_ISA_CLONES
void GridNewton::State::refresh_block(const Block& b, std::span<const double> fixed, std::vector<char>& dirty,
                                      const std::vector<std::uint32_t>* changed) {
  const NodeIndex n_free = circuit.n_free;
  const std::size_t w = b.width(), rows = g.rows;
  dirty.assign(rows, 0);
  // Row by row: once a row where the row shares one node, else without a branch per cell (a
  // count of doubles, so that the loop vectorises).
  auto refresh = [&](const std::vector<NodeIndex>& nodes, std::vector<double>& values, bool shared) {
    const NodeIndex* __restrict node = nodes.data();
    double* __restrict value = values.data();
    for (std::size_t i = 0, k0 = b.base; i < rows; ++i, k0 += w) {
      if (shared) {
        const double v = fixed[node[k0] - n_free];
        if (v == value[k0]) continue;
        std::fill(value + k0, value + k0 + w, v);
        dirty[i] = 1;
        continue;
      }
      double moved = 0;
#pragma omp simd reduction(+ : moved)
      for (std::size_t k = k0; k < k0 + w; ++k) {
        const double v = fixed[node[k] - n_free];
        moved += v != value[k] ? 1.0 : 0.0;
        value[k] = v;
      }
      dirty[i] |= moved > 0;
    }
  };
  std::size_t f = 0;  // row_inputs' family: [f * rows + i], the fixed families in input_families' order
  for (const InputFamily& family : input_families()) {
    if (family.source != Source::fixed || family.nodes->empty()) continue;
    if (!changed) {
      refresh(*family.nodes, *family.values, family.shared);
      continue;
    }
    for (const std::uint32_t i : *changed)
      std::fill_n(family.values->data() + b.base + i * w, w, fixed[row_inputs[f * rows + i] - n_free]);
    ++f;
  }
  if (changed)
    for (const std::uint32_t i : *changed) dirty[i] = 1;
  for (std::size_t j = b.j0; j < b.j1; ++j) {
    const double v = fixed[g.col_sink[j] - n_free];
    if (v == v_sink[j]) continue;
    v_sink[j] = v;
    dirty[g.rows - 1] = 1;  // the last row's wire to the sink
  }
}

XBAR_ISA_CLONES
void GridNewton::State::warm_start_block(const Block& b, const GridNewton::Batch& batch,
                                         const std::uint8_t* before, const std::uint8_t* now,
                                         const std::vector<std::uint32_t>* switched) {
  if (!upper || !before || !now) return;
  const std::size_t w = b.width(), rows = g.rows;
  double first[k_block_columns] = {};  // a block row's
  // Each block owns its cells' range of v_m and of the memory.
  for (std::size_t t = 0, n = switched ? switched->size() : rows; t < n; ++t) {
    const std::size_t i = switched ? (*switched)[t] : t;
    if ((before[i] != 0) == (now[i] != 0)) continue;
    const int left = before[i] != 0, entered = now[i] != 0;
    const std::size_t k = b.base + i * w, cell = i * g.cols + b.j0;  // the row's first cell
    // Read only where used: a row's cells switch together, so all or none were in `entered` before.
    if (!batch_memory.solved_in(k, entered))
      for (std::size_t t = 0; t < w; ++t)
        first[t] = entered ? batch.start_on[cell + t]
                           : v_c[k + t] + batch.start_off[cell + t] - batch.start_off_reference;
    batch_memory.switch_states(k, w, left, entered, v_m.data() + k, v_c.data() + k, first);
  }
}

GridNewton::BatchResult GridNewton::State::run_batch(const GridNewton::Batch& batch, std::span<double> v_free) {
  const std::size_t count = batch.fixed.size(), rows = g.rows;
  GridNewton::BatchResult out;
  out.stats.resize(count);
  out.sink_current.assign(count * g.cols, 0.0);
  if (count == 0) return out.converged = true, out;
  const bool continues = batch.continues && batch_continuable;
  if (batch.continues && !continues) throw std::logic_error("grid newton: no batch to continue");
  const std::size_t n_nodes = circuit.n_nodes();
  if (!batch.solutions.empty() && batch.solutions.size() != count * n_nodes)
    throw std::logic_error("grid newton: a batch's solutions are not nodes x vectors");
  auto solution = [&](std::size_t v) { return batch.solutions.subspan(v * n_nodes, n_nodes); };
  if (!batch.row_state.empty() && batch.row_state.size() != count * rows)
    throw std::logic_error("grid newton: a batch's row states are not rows x vectors");
  batch_continuable = false;
  if (!continues) {
    if (v_free.size() != std::size_t(circuit.n_free)) throw std::logic_error("grid newton: no starting point");
    gather(batch.fixed[0], v_free);
    batch_last_state.clear();
    batch_memory.size_unset(upper && !batch.row_state.empty() ? cells() : 0);  // forgotten block by block
  }
  // Vector v's row states; v = count: the last vector's of the batch this one continues.
  auto state_of = [&](std::size_t v) -> const std::uint8_t* {
    if (batch.row_state.empty()) return nullptr;
    if (v < count) return batch.row_state.data() + v * rows;
    return batch_last_state.empty() ? nullptr : batch_last_state.data();
  };
  // Per vector v >= 1, the same for every block: the rows whose fixed inputs changed since vector
  // v - 1 (where row_inputs has them) and those whose state did (where there are states).
  std::vector<std::vector<std::uint32_t>> changed(count), switched(count);
  const std::size_t families = row_inputs.size() / rows;
  for (std::size_t v = 1; v < count; ++v) {
    for (std::size_t i = 0; i < rows && families > 0; ++i)
      for (std::size_t f = 0; f < families; ++f) {
        const NodeIndex node = row_inputs[f * rows + i] - circuit.n_free;
        if (batch.fixed[v][node] != batch.fixed[v - 1][node]) {
          changed[v].push_back(static_cast<std::uint32_t>(i));
          break;
        }
      }
    const std::uint8_t *before = state_of(v - 1), *now = state_of(v);
    for (std::size_t i = 0; i < rows && before; ++i)
      if ((before[i] != 0) != (now[i] != 0)) switched[v].push_back(static_cast<std::uint32_t>(i));
  }
  std::vector<RunResult> results(count * blocks.size());  // [vector][block]
  std::atomic<bool> failed = false;
  std::atomic<std::size_t> blocks_done = 0;
  // Blocks to whichever thread is free: a block's answer does not depend on the thread.
  parallel_each(static_cast<std::int64_t>(blocks.size()), [&](std::int64_t bi) {
    if (failed) return;
    const Block& b = blocks[bi];
    CellWork& w = block_scratch();
    size_work(w, b.base, end(b) - b.base);
    if (!continues && batch_memory.size() > 0) batch_memory.forget(b.base, end(b) - b.base);
    std::vector<char> dirty;
    for (std::size_t v = 0; v < count && !failed; ++v) {
      // Vector 0 of a batch that continues another: against the block's own last vector.
      const bool known = v > 0 && families > 0;
      if (v > 0 || continues) refresh_block(b, batch.fixed[v], dirty, known ? &changed[v] : nullptr);
      // Vector 0 is evaluated whole: w holds no evaluation of this block yet.
      if (v > 0 || continues)
        warm_start_block(b, batch, state_of(v > 0 ? v - 1 : count), state_of(v), v > 0 ? &switched[v] : nullptr);
      RunResult& r = results[v * blocks.size() + bi] = solve_block_vector(w, b, v > 0 ? &dirty : nullptr);
      if (!r.run.converged) {
        failed = true;
        break;
      }
      const std::size_t last_row = end(b) - b.width();
      for (std::size_t j = b.j0; j < b.j1; ++j)
        out.sink_current[v * g.cols + j] = g.g_col_last * (v_c[last_row + j - b.j0] - v_sink[j]);
      if (v == 0 && !v_free.empty()) scatter_cells(v_free, b.base, end(b));  // vector 0's, block by block
      if (!batch.solutions.empty()) scatter_cells(solution(v), b.base, end(b));
    }
    const std::size_t done = ++blocks_done;
    if (batch.block_done && !failed) batch.block_done(done, blocks.size());
  });
  if (failed) return out;
  for (const RunResult& r : results) out.series_certified += r.series;
  // Each vector's report: its slowest block's iterations and its worst node (run_columns).
  for (std::size_t v = 0; v < count; ++v)
    out.stats[v] = report(combine(std::span<const RunResult>(results).subspan(v * blocks.size(), blocks.size())));
  if (!v_free.empty())  // vector 0's voltages; the last vector's stay for a batch that continues
    scatter_junctions(batch.fixed[0], v_free);
  for (std::size_t v = 0; v < count && !batch.solutions.empty(); ++v) {
    const std::span<double> every = solution(v);
    scatter_junctions(batch.fixed[v], every);
    std::ranges::copy(batch.fixed[v], every.begin() + circuit.n_free);
  }
  if (!batch.row_state.empty()) batch_last_state.assign(state_of(count - 1), state_of(count - 1) + rows);
  batch_continuable = true;
  out.converged = true;
  return out;
}

}  // namespace xbar::solver
