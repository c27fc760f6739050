#pragma once
// A minimal fork-join pool for the solver's long loops (both cores of the target machine).
// parallel_for splits [0, n) into one contiguous part per thread (the same split for the same n
// and thread count, so reductions over parts are deterministic) and returns when all are done;
// parallel_each hands out the items one at a time instead (independent items of uneven cost).
// Loops shorter than `grain` run on the calling thread. The pool serves one region at a time: a
// region started while it serves another thread's runs its parts on its own thread (so two
// threads solving at once keep both cores busy, neither waits for the other).
#include <cstdint>
#include <functional>

namespace xbar::solver {

/// Threads used by parallel_for, including the caller (default: hardware concurrency).
int parallel_threads();
/// Caps the threads (1 = serial). Call before any parallel_for, from one thread.
void set_parallel_threads(int threads);

/// While alive, parallel_for on this thread runs serially (for callers that are themselves one
/// of several threads).
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;

 private:
  bool previous_;
};

/// body(part, begin, end) for parts 0..parts-1 covering [0, n); returns the number of parts. An
/// exception from a part is rethrown here, after every part has finished (the lowest part's).
int parallel_for(std::int64_t n, std::int64_t grain,
                 const std::function<void(int, std::int64_t, std::int64_t)>& body);

/// body(item) once for every item of [0, n), the items handed out in order to whichever thread
/// is free (for items of uneven cost, or cores of uneven speed): which thread runs an item varies
/// from run to run, so an item's result must not depend on it. Exceptions as parallel_for.
void parallel_each(std::int64_t n, const std::function<void(std::int64_t)>& body);

}  // namespace xbar::solver
