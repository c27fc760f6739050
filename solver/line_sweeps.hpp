#pragma once
// Building blocks of the line kernels (internal to line_kernels.cpp and line_paired.cpp): chain
// groups, the Thomas sweep over a group with the work around it fused in, and deterministic
// per-part reductions.
//
// A sweep solves T_f z = w for the chains of one family with T = L D U (L, U unit triangular):
//   forward  (L y = w):      y_p = w_p - lower_scaled_p y_{p-s}
//   backward (D U z = y):    z_p = y_p inv_pivot_p - upper_scaled_p z_{p+s}
// where s is the family's stride. The caller supplies w_p = rhs(p) (read once, in the forward
// sweep: it may update vectors as it goes) and done(p) (called once z_p is final). A group holds
// a few chains, small enough that the backward sweep finds y in cache.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver::sweeps {

constexpr std::int64_t k_grain = 1 << 16;  // rows below which a loop stays on one thread
constexpr std::int32_t k_overlap = 4;      // stored chains swept together (their recurrences overlap)
constexpr std::int32_t k_block_bytes = 1 << 30;  // interleaved chains per block: all of a part (measured)

/// Reductions of one part of a loop: rows over their tolerance and two dot products.
struct Partial {
  double failed = 0, dot = 0, dot2 = 0;
  Partial& operator+=(const Partial& o) {
    failed += o.failed;
    dot += o.dot;
    dot2 += o.dot2;
    return *this;
  }
};

/// Sums per-part results in part order (the same for the same split: deterministic).
inline Partial sum_parts(const std::vector<Partial>& parts) {
  Partial total;
  for (const Partial& p : parts) total += p;
  return total;
}

/// count chains of one length: chain c's position t is row first + c * spacing + t * stride.
struct ChainGroup {
  std::int32_t first, count, spacing, length, stride;
  std::int32_t row(std::int32_t c, std::int32_t t) const { return first + c * spacing + t * stride; }
};

/// fn(group) over the groups of part `part` of family f: blocks of interleaved chains, a few
/// stored chains of one length at a time, or one run of stored chains of mixed lengths (their
/// lower = 0 at every chain start and upper = 0 at every end decouple them).
template <class Fn>
void for_each_group(const LineMatrix& m, std::size_t f, std::size_t part, Fn&& fn) {
  const std::int32_t lo = m.family_parts[f][part], hi = m.family_parts[f][part + 1];
  const std::int32_t begin = m.family_begin[f], stride = m.family_stride[f];
  const std::int32_t length = m.family_chain_length[f];
  if (lo == hi) return;
  if (stride > 1) {
    const std::int32_t block = std::max(k_overlap, k_block_bytes / (8 * std::max(length, 1)));
    for (std::int32_t c = lo; c < hi; c += block) fn(ChainGroup{begin + c, std::min(block, hi - c), 1, length, stride});
  } else if (length > 0) {
    for (std::int32_t c = lo; c < hi; c += k_overlap * length)
      fn(ChainGroup{c, std::min(k_overlap, (hi - c) / length), length, length, 1});
  } else {
    fn(ChainGroup{lo, 1, 0, hi - lo, 1});
  }
}

/// z = T^{-1} w over one group (equations above); Real: the factors' precision. rhs(begin, end,
/// partial) writes w into z over a contiguous range of rows, done(begin, end, partial) sees final
/// z there. Interleaved chains go row by row (vectorised across chains); stored chains gather w
/// in memory order first, then run their recurrences in cache. SymmetricChains: l_p = u_{p-s},
/// so lower_scaled_p = upper_scaled_{p-s} (one array less to read).
template <bool SymmetricChains, class Real, class Rhs, class Done>
void solve_group(const ChainFactors<Real>& t, const ChainGroup& g, double* z, Rhs& rhs, Done& done,
                 Partial& acc) {
  const std::int32_t s = g.stride, last = g.length - 1;
  const Real *inv_pivot = t.inv_pivot.data(), *upper_scaled = t.upper_scaled.data();
  auto lower_scaled = [&](std::int32_t p) -> double {
    return SymmetricChains ? upper_scaled[p - s] : t.lower_scaled[p];
  };
  if (g.spacing == 1) {  // interleaved
    for (std::int32_t k = 0; k <= last; ++k) {
      const std::int32_t row = g.row(0, k);
      rhs(row, row + g.count, acc);
      if (k > 0)
        for (std::int32_t p = row; p < row + g.count; ++p) z[p] -= lower_scaled(p) * z[p - s];
    }
    for (std::int32_t k = last; k >= 0; --k) {
      const std::int32_t row = g.row(0, k);
      if (k == last)
        for (std::int32_t p = row; p < row + g.count; ++p) z[p] *= double(inv_pivot[p]);
      else
        for (std::int32_t p = row; p < row + g.count; ++p)
          z[p] = z[p] * double(inv_pivot[p]) - double(upper_scaled[p]) * z[p + s];
      done(row, row + g.count, acc);
    }
    return;
  }
  const std::int32_t end = g.row(g.count - 1, last) + 1;  // stored chains: [first, end)
  rhs(g.first, end, acc);
  for (std::int32_t k = 1; k <= last; ++k)
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = g.row(c, k);
      z[p] -= lower_scaled(p) * z[p - s];
    }
  for (std::int32_t c = 0; c < g.count; ++c) z[g.row(c, last)] *= double(inv_pivot[g.row(c, last)]);
  for (std::int32_t k = last - 1; k >= 0; --k)
    for (std::int32_t c = 0; c < g.count; ++c) {
      const std::int32_t p = g.row(c, k);
      z[p] = z[p] * double(inv_pivot[p]) - double(upper_scaled[p]) * z[p + s];
    }
  done(g.first, end, acc);
}

/// z_f = T_f^{-1} w over family f, its parts in parallel, rhs and done as in solve_group.
/// Returns the sum of the parts' reductions.
template <bool SymmetricChains, class Real, class Rhs, class Done>
Partial sweep_family(const LineMatrix& m, const ChainFactors<Real>& t, std::size_t f, double* z, Rhs&& rhs,
                     Done&& done) {
  const std::size_t parts = m.family_parts[f].size() - 1;
  std::vector<Partial> partial(parts);
  auto sweep_parts = [&](int, std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) {
      Partial acc;
      for_each_group(m, f, k, [&](const ChainGroup& g) { solve_group<SymmetricChains>(t, g, z, rhs, done, acc); });
      partial[k] = acc;
    }
  };
  if (m.family_begin[f + 1] - m.family_begin[f] < k_grain) sweep_parts(0, 0, static_cast<std::int64_t>(parts));
  else parallel_for(static_cast<std::int64_t>(parts), 1, sweep_parts);
  return sum_parts(partial);
}

/// No work at the end of a sweep.
inline void nothing(std::int32_t, std::int32_t, Partial&) {}

/// fn(begin, end, partial) over [0, n) split into parts, in parallel; returns the summed partials.
template <class Fn>
Partial parallel_reduce(std::int64_t n, Fn&& fn) {
  std::vector<Partial> partial(static_cast<std::size_t>(std::max(parallel_threads(), 1)));
  const int parts = parallel_for(n, k_grain, [&](int part, std::int64_t b, std::int64_t e) {
    Partial acc;
    fn(static_cast<std::int32_t>(b), static_cast<std::int32_t>(e), acc);
    partial[part] = acc;
  });
  partial.resize(static_cast<std::size_t>(parts));
  return sum_parts(partial);
}

}  // namespace xbar::solver::sweeps
