#pragma once
// Runs the points of a sweep. Points are independent: each is built from its own config (its
// random weights and inputs depend only on that config's seeds) and solved with its own Crossbar
// and ArraySolver, so the results do not depend on the order, the thread or the rank that ran
// them. The points go through a parallel::JobPool (threads on one machine, MPI ranks across
// machines) and, when a journal is given, each finished point is journaled as it completes.
#include <functional>
#include <vector>

#include "parallel/job_pool.hpp"
#include "parallel/journal.hpp"
#include "studies/metrics.hpp"
#include "studies/sweep_spec.hpp"

namespace xbar::studies {

/// Solves one point's input vectors and computes its metrics; on_vector() after each vector.
PointMetrics run_point(const io::RunConfig& config, const std::function<void()>& on_vector = {});

/// A point's metrics as bytes (MPI messages, journal records) and back, bit for bit.
parallel::Bytes to_bytes(const PointMetrics& metrics);
PointMetrics point_from_bytes(const parallel::Bytes& bytes);

/// progress(done, total) counts points, journaled ones included; called on the root, one call at
/// a time.
using SweepProgress = std::function<void(std::size_t done, std::size_t total)>;

/// What a journal of this sweep is: the command, xbar's version, the hash of the study's
/// effective config and the number of points (--resume refuses a journal of anything else).
std::string journal_identity(const SweepSpec& spec);

/// Runs every point not already in the journal, across the pool; results in point order on the
/// root (empty elsewhere). A failing point stops the sweep: its exception is rethrown on the root,
/// same type, with the point (and its rank) named; the journal keeps every point that finished.
std::vector<PointMetrics> run_sweep(const SweepSpec& spec, parallel::JobPool& pool,
                                    parallel::Journal* journal = nullptr, const SweepProgress& progress = {});

/// The same on `threads` threads of this process, without a journal.
std::vector<PointMetrics> run_sweep(const SweepSpec& spec, unsigned threads, const SweepProgress& progress = {});

}  // namespace xbar::studies
