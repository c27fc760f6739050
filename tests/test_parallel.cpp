// The solver's fork-join pool (solver/parallel.hpp) with two callers at once: the situation of
// two arrays solved from two Python threads.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "solver/parallel.hpp"

using namespace xbar;

TEST_CASE("a parallel region started while another thread's holds the pool runs at once, on its own thread",
          "[parallel]") {
  if (std::thread::hardware_concurrency() < 2) {
    WARN("one core: the pool has no worker, nothing to share");
    return;
  }
  // Region A (this thread) holds the pool until region B, started meanwhile on a second thread,
  // has finished. A pool that made B wait for A would stall both; A gives up after 30 s and the
  // test fails.
  std::atomic<bool> b_done{false}, gave_up{false};
  std::vector<std::pair<std::int64_t, std::int64_t>> b_parts(2, {-1, -1});
  int parts_b = 0;
  std::thread b;
  const int parts_a = solver::parallel_for(2, 1, [&](int part, std::int64_t, std::int64_t) {
    if (part != 0) return;  // part 0 runs on the caller, inside the pool's region
    b = std::thread([&] {
      parts_b = solver::parallel_for(10, 1, [&](int p, std::int64_t begin, std::int64_t end) {
        b_parts[p] = {begin, end};
      });
      b_done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!b_done && !(gave_up = std::chrono::steady_clock::now() > deadline))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  b.join();
  REQUIRE(parts_a == 2);
  CHECK_FALSE(gave_up);
  // B's parts are the split it always gets (the same reductions, the same results), all run.
  REQUIRE(parts_b == 2);
  CHECK(b_parts[0] == std::pair<std::int64_t, std::int64_t>{0, 5});
  CHECK(b_parts[1] == std::pair<std::int64_t, std::int64_t>{5, 10});
}

TEST_CASE("an exception in any part reaches the caller after every part has run", "[parallel]") {
  // Part 1 runs on a pool worker where there is one: an exception escaping there would end the
  // process. Here it is rethrown on the caller, and the other part still finishes its range.
  for (int thrower : {0, 1}) {
    std::vector<int> seen(100, 0);
    auto run = [&] {
      solver::parallel_for(100, 1, [&](int part, std::int64_t begin, std::int64_t end) {
        for (std::int64_t k = begin; k < end; ++k) seen[k] = 1;
        if (part == thrower) throw std::runtime_error("part " + std::to_string(part));
      });
    };
    if (std::thread::hardware_concurrency() < 2 && thrower == 1) continue;  // no part 1
    REQUIRE_THROWS_WITH(run(), "part " + std::to_string(thrower));
    CHECK(std::count(seen.begin(), seen.end(), 1) == 100);
  }
}

TEST_CASE("parallel_each runs every item once, the slow ones on whichever thread is free", "[parallel]") {
  // Item 0 takes long: with two threads the other one takes every other item meanwhile (a
  // static split would leave it the upper half alone), and each item runs exactly once.
  const std::int64_t n = 40;
  std::vector<std::atomic<int>> runs(n);
  std::vector<std::thread::id> by(n);
  solver::parallel_each(n, [&](std::int64_t item) {
    if (item == 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ++runs[item];
    by[item] = std::this_thread::get_id();
  });
  for (std::int64_t item = 0; item < n; ++item) CHECK(runs[item] == 1);
  if (std::thread::hardware_concurrency() >= 2)  // all but item 0 on the other thread
    CHECK(std::count(by.begin(), by.end(), by[0]) == 1);
  // An exception from an item reaches the caller, after the items the other thread took.
  std::atomic<int> done{0};
  REQUIRE_THROWS_WITH(solver::parallel_each(n,
                                            [&](std::int64_t item) {
                                              if (item == 3) throw std::runtime_error("item 3");
                                              ++done;
                                            }),
                      "item 3");
  CHECK(done >= 1);
  CHECK(done <= n - 1);
  solver::parallel_each(0, [&](std::int64_t) { FAIL("no items"); });
}
