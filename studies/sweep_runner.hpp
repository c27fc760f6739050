#pragma once
// Runs the points of a sweep. Points are independent: each is built from its own config (its
// random weights and inputs depend only on that config's seeds) and solved with its own Crossbar
// and ArraySolver, so the results do not depend on the order or the thread that ran them.
#include <functional>
#include <vector>

#include "studies/metrics.hpp"
#include "studies/sweep_spec.hpp"

namespace xbar::studies {

/// Solves one point's input vectors and computes its metrics; on_vector() after each vector.
PointMetrics run_point(const io::RunConfig& config, const std::function<void()>& on_vector = {});

/// progress(done, total) counts input vectors over all points; it is called from the worker
/// threads, one call at a time.
using SweepProgress = std::function<void(std::size_t done, std::size_t total)>;

/// Runs every point on up to `threads` threads; results in point order. A failing point stops
/// the sweep: its exception is rethrown, same type, with the point named.
std::vector<PointMetrics> run_sweep(const SweepSpec& spec, unsigned threads,
                                    const SweepProgress& progress = {});

}  // namespace xbar::studies
