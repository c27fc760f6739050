// Line-structured backend: see line_solver.hpp for the equations.
//
// Storage of the reduced matrix S (n chain unknowns, numbered family by family, so that every
// family is one contiguous range; within a family chain after chain, stride s = 1, or
// interleaved, s = chain count, see number_chains):
//   diag[p] = S_pp, lower[p] = S_p,p-s, upper[p] = S_p,p+s (0 at chain ends),
//   cross: CSR of the couplings between different families.
// All four live in one flat value array, so that every entry of A (and every fill entry of an
// internal unknown) is bound to one flat position at analysis time and factor() only adds.
#include "solver/line_solver.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "solver/line_kernels.hpp"
#include "solver/parallel.hpp"

namespace xbar::solver {

namespace {

constexpr std::int32_t k_none = -1;

// One coupling between an internal unknown and a chain unknown.
struct LeafLink {
  std::int32_t leaf;     ///< index into the internal unknowns
  std::int32_t chain;    ///< reduced index of the chain unknown
  std::int32_t slot_in;  ///< A[chain, leaf] in pattern order, or -1
  std::int32_t slot_out; ///< A[leaf, chain], or -1
};

class LineSolver final : public LinearSolver {
 public:
  LineSolver(LinePartition partition, LineSolverOptions options)
      : partition_(std::move(partition)), options_(options) {}

  void analyze(const CscPattern& pattern) override;
  void factor(std::span<const double> values) override;
  void solve(std::span<double> rhs) override { solve(rhs, {}); }
  void solve(std::span<double> rhs, std::span<const double> tolerance) override;
  LinearInfo info() const override { return {iterations_, work_.converged}; }
  std::string name() const override { return "lines"; }

 private:
  void number_chains(std::int32_t n_total);
  void classify_entries(const CscPattern& pattern, std::vector<std::int64_t>& cross_pairs,
                        std::vector<LeafLink>& links);
  void group_leaf_links(std::vector<LeafLink>& links);
  void add_leaf_fill_pairs(std::vector<std::int64_t>& cross_pairs) const;
  void build_cross(std::vector<std::int64_t>& cross_pairs);
  void bind_values(const CscPattern& pattern);
  std::int32_t flat_index(std::int32_t p, std::int32_t q) const;
  bool chain_neighbours(std::int32_t p, std::int32_t q) const;
  std::int32_t cross_index(std::int32_t p, std::int32_t q) const;
  [[noreturn]] void bad_partition(NodeIndex a, NodeIndex b, const char* why) const;
  void eliminate_leaves(std::span<const double> values);
  bool is_symmetric() const;

  LinePartition partition_;
  LineSolverOptions options_;
  std::int32_t n_total_ = 0;

  // Analysis.
  std::vector<std::int32_t> position_;   ///< original unknown -> reduced index, or -1 (internal)
  std::vector<NodeIndex> unknown_;       ///< reduced index -> original unknown
  std::vector<std::int32_t> chain_of_;   ///< reduced index -> chain number (analysis only)
  std::vector<std::int32_t> family_of_;  ///< reduced index -> family (analysis only)
  std::vector<std::int32_t> family_begin_;
  std::vector<std::int32_t> chain_begin_;  ///< first reduced index of every chain
  std::vector<NodeIndex> leaf_unknown_;
  std::vector<std::int32_t> leaf_diag_slot_, leaf_ptr_, pair_ptr_, pair_target_;
  std::vector<LeafLink> links_;
  std::vector<std::int32_t> direct_target_;  ///< pattern slot -> flat index, or -1
  std::vector<std::int32_t> cross_transpose_;

  // Numbers.
  LineMatrix matrix_;
  std::vector<double> flat_;
  std::vector<double> leaf_inv_diag_, link_in_scaled_, link_out_;
  bool symmetric_ = false;

  // Work.
  KrylovWork work_;
  int iterations_ = 0;
};

[[noreturn]] void LineSolver::bad_partition(NodeIndex a, NodeIndex b, const char* why) const {
  throw std::logic_error(fmt::format("line partition: unknowns {} and {} {}", a, b, why));
}

// Family 0 is stored chain after chain (stride 1). A later family whose chains all have one
// length L is stored interleaved, position t of every chain together (stride = its chain count):
// for a crossbar both families then run through the cells in the same (row-major) order, so the
// couplings between them are read as streams, and its Thomas sweeps vectorise across chains.
void LineSolver::number_chains(std::int32_t n_total) {
  position_.assign(n_total, k_none);
  unknown_.clear();
  chain_of_.clear();
  family_of_.clear();
  family_begin_.assign(1, 0);
  chain_begin_.clear();
  matrix_.family_stride.clear();
  matrix_.family_chain_length.clear();
  std::int32_t chain = 0;
  for (std::size_t f = 0; f < partition_.families.size(); ++f) {
    const auto& lines = partition_.families[f];
    const bool uniform = !lines.empty() &&
        std::all_of(lines.begin(), lines.end(), [&](const auto& l) { return l.size() == lines[0].size(); });
    const bool interleave = f > 0 && lines.size() > 1 && uniform;
    const auto begin = static_cast<std::int32_t>(unknown_.size());
    const auto chains = static_cast<std::int32_t>(lines.size());
    std::size_t count = 0;
    for (const auto& l : lines) count += l.size();
    unknown_.resize(unknown_.size() + count);
    chain_of_.resize(unknown_.size());
    std::int32_t next = begin;
    for (std::int32_t c = 0; c < chains; ++c, ++chain) {
      if (!interleave) chain_begin_.push_back(next);
      for (std::size_t t = 0; t < lines[c].size(); ++t) {
        const NodeIndex u = lines[c][t];
        if (u < 0 || u >= n_total) throw std::logic_error("line partition: unknown out of range");
        if (position_[u] != k_none) bad_partition(u, u, "appear in two chains");
        const std::int32_t p = interleave ? begin + static_cast<std::int32_t>(t) * chains + c : next++;
        unknown_[p] = u;
        chain_of_[p] = chain;
        position_[u] = p;
      }
    }
    family_of_.resize(unknown_.size(), static_cast<std::int32_t>(f));
    matrix_.family_stride.push_back(interleave ? chains : 1);
    matrix_.family_chain_length.push_back(uniform ? static_cast<std::int32_t>(lines[0].size()) : 0);
    family_begin_.push_back(static_cast<std::int32_t>(unknown_.size()));
  }
  leaf_unknown_.clear();
  for (NodeIndex u = 0; u < n_total; ++u)
    if (position_[u] == k_none) leaf_unknown_.push_back(u);
}

// q is p itself or its predecessor / successor in p's chain.
bool LineSolver::chain_neighbours(std::int32_t p, std::int32_t q) const {
  const std::int32_t stride = matrix_.family_stride[family_of_[p]];
  return chain_of_[p] == chain_of_[q] && (p == q || p - q == stride || q - p == stride);
}

std::int64_t pair_key(std::int32_t p, std::int32_t q) {
  return (static_cast<std::int64_t>(p) << 32) | static_cast<std::uint32_t>(q);
}

// Sorts every entry of A into: chain-chain (tridiagonal or cross), leaf diagonal, leaf-chain.
void LineSolver::classify_entries(const CscPattern& pattern, std::vector<std::int64_t>& cross_pairs,
                                  std::vector<LeafLink>& links) {
  std::vector<std::int32_t> leaf_index(pattern.n, k_none);
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l) leaf_index[leaf_unknown_[l]] = static_cast<std::int32_t>(l);
  leaf_diag_slot_.assign(leaf_unknown_.size(), k_none);
  for (std::int32_t col = 0; col < pattern.n; ++col)
    for (std::int32_t k = pattern.col_ptr[col]; k < pattern.col_ptr[col + 1]; ++k) {
      const std::int32_t row = pattern.row_idx[k];
      const std::int32_t pr = position_[row], pc = position_[col];
      if (pr != k_none && pc != k_none) {
        if (chain_neighbours(pr, pc)) continue;
        if (family_of_[pr] == family_of_[pc]) bad_partition(row, col, "of one family couple outside a chain");
        cross_pairs.push_back(pair_key(pr, pc));
      } else if (pr == k_none && pc == k_none) {
        if (row != col) bad_partition(row, col, "are internal and couple to each other");
        leaf_diag_slot_[leaf_index[row]] = k;
      } else if (pc == k_none) {
        links.push_back({leaf_index[col], pr, k, k_none});
      } else {
        links.push_back({leaf_index[row], pc, k_none, k});
      }
    }
}

// One link per (leaf, chain unknown), in and out slots merged, grouped by leaf.
void LineSolver::group_leaf_links(std::vector<LeafLink>& links) {
  std::sort(links.begin(), links.end(), [](const LeafLink& a, const LeafLink& b) {
    return a.leaf != b.leaf ? a.leaf < b.leaf : a.chain < b.chain;
  });
  links_.clear();
  for (const LeafLink& l : links) {
    if (!links_.empty() && links_.back().leaf == l.leaf && links_.back().chain == l.chain) {
      if (l.slot_in != k_none) links_.back().slot_in = l.slot_in;
      if (l.slot_out != k_none) links_.back().slot_out = l.slot_out;
    } else {
      links_.push_back(l);
    }
  }
  std::vector<LeafLink>().swap(links);
  leaf_ptr_.assign(leaf_unknown_.size() + 1, 0);
  for (const LeafLink& l : links_) ++leaf_ptr_[l.leaf + 1];
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l) leaf_ptr_[l + 1] += leaf_ptr_[l];
}

// Eliminating leaf l couples every pair (a, b) of its chain neighbours: S_ab -= A_al A_lb / A_ll.
void LineSolver::add_leaf_fill_pairs(std::vector<std::int64_t>& cross_pairs) const {
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l)
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a)
      for (std::int32_t b = leaf_ptr_[l]; b < leaf_ptr_[l + 1]; ++b) {
        const std::int32_t p = links_[a].chain, q = links_[b].chain;
        if (chain_neighbours(p, q)) continue;
        if (family_of_[p] == family_of_[q])
          bad_partition(unknown_[p], unknown_[q], "of one family are joined by an internal unknown");
        cross_pairs.push_back(pair_key(p, q));
      }
}

void LineSolver::build_cross(std::vector<std::int64_t>& cross_pairs) {
  std::sort(cross_pairs.begin(), cross_pairs.end());
  cross_pairs.erase(std::unique(cross_pairs.begin(), cross_pairs.end()), cross_pairs.end());
  const std::int32_t n = matrix_.n;
  matrix_.cross_ptr.assign(n + 1, 0);
  matrix_.cross_col.resize(cross_pairs.size());
  for (std::size_t k = 0; k < cross_pairs.size(); ++k) {
    ++matrix_.cross_ptr[(cross_pairs[k] >> 32) + 1];
    matrix_.cross_col[k] = static_cast<std::int32_t>(cross_pairs[k] & 0xffffffff);
  }
  std::vector<std::int64_t>().swap(cross_pairs);
  for (std::int32_t p = 0; p < n; ++p) matrix_.cross_ptr[p + 1] += matrix_.cross_ptr[p];
  cross_transpose_.assign(matrix_.cross_col.size(), k_none);
  for (std::int32_t p = 0; p < n; ++p)
    for (std::int32_t k = matrix_.cross_ptr[p]; k < matrix_.cross_ptr[p + 1]; ++k)
      cross_transpose_[k] = cross_index(matrix_.cross_col[k], p);
}

std::int32_t LineSolver::cross_index(std::int32_t p, std::int32_t q) const {
  for (std::int32_t k = matrix_.cross_ptr[p]; k < matrix_.cross_ptr[p + 1]; ++k)
    if (matrix_.cross_col[k] == q) return k;
  return k_none;
}

// Flat layout: [diag | lower | upper | cross].
std::int32_t LineSolver::flat_index(std::int32_t p, std::int32_t q) const {
  const std::int32_t n = matrix_.n;
  if (p == q) return p;
  if (chain_neighbours(p, q)) return q < p ? n + p : 2 * n + p;
  const std::int32_t k = cross_index(p, q);
  if (k == k_none) throw std::logic_error("line solver: entry missing from the reduced pattern");
  return 3 * n + k;
}

void LineSolver::bind_values(const CscPattern& pattern) {
  direct_target_.assign(pattern.nnz(), k_none);
  for (std::int32_t col = 0; col < pattern.n; ++col)
    for (std::int32_t k = pattern.col_ptr[col]; k < pattern.col_ptr[col + 1]; ++k) {
      const std::int32_t pr = position_[pattern.row_idx[k]], pc = position_[col];
      if (pr != k_none && pc != k_none) direct_target_[k] = flat_index(pr, pc);
    }
  pair_ptr_.assign(leaf_unknown_.size() + 1, 0);
  pair_target_.clear();
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l) {
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a)
      for (std::int32_t b = leaf_ptr_[l]; b < leaf_ptr_[l + 1]; ++b)
        pair_target_.push_back(flat_index(links_[a].chain, links_[b].chain));
    pair_ptr_[l + 1] = static_cast<std::int32_t>(pair_target_.size());
  }
}

void LineSolver::analyze(const CscPattern& pattern) {
  n_total_ = pattern.n;
  number_chains(pattern.n);
  matrix_.n = static_cast<std::int32_t>(unknown_.size());
  matrix_.family_begin = family_begin_;
  std::vector<std::int64_t> cross_pairs;
  std::vector<LeafLink> links;
  classify_entries(pattern, cross_pairs, links);
  group_leaf_links(links);
  add_leaf_fill_pairs(cross_pairs);
  if (3.0 * matrix_.n + static_cast<double>(cross_pairs.size()) > std::numeric_limits<std::int32_t>::max())
    throw std::length_error("line solver: system too large for 32-bit indices");
  build_cross(cross_pairs);
  bind_values(pattern);
  matrix_.split_families(chain_begin_, parallel_threads());
  std::vector<std::int32_t>().swap(chain_of_);
  std::vector<std::int32_t>().swap(family_of_);
  flat_.assign(3 * static_cast<std::size_t>(matrix_.n) + matrix_.cross_col.size(), 0.0);
  leaf_inv_diag_.resize(leaf_unknown_.size());
  link_in_scaled_.resize(links_.size());
  link_out_.resize(links_.size());
  work_.resize(matrix_.n);
}

// S += -A_al A_ll^{-1} A_lb for every leaf l and neighbour pair (a, b); keeps A_al / A_ll and
// A_lb for the right-hand side and the back-substitution.
void LineSolver::eliminate_leaves(std::span<const double> values) {
  auto value = [&](std::int32_t slot) { return slot == k_none ? 0.0 : values[slot]; };
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l) {
    const double d = value(leaf_diag_slot_[l]);
    if (!(d != 0.0 && std::isfinite(d)))
      throw SingularMatrix(fmt::format("lines: internal unknown {} has no conductance", leaf_unknown_[l]),
                           leaf_unknown_[l]);
    leaf_inv_diag_[l] = 1.0 / d;
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a) {
      link_in_scaled_[a] = value(links_[a].slot_in) * leaf_inv_diag_[l];
      link_out_[a] = value(links_[a].slot_out);
    }
    std::int32_t pair = pair_ptr_[l];
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a)
      for (std::int32_t b = leaf_ptr_[l]; b < leaf_ptr_[l + 1]; ++b)
        flat_[pair_target_[pair++]] -= link_in_scaled_[a] * link_out_[b];
  }
}

bool LineSolver::is_symmetric() const {
  for (std::size_t f = 0; f < matrix_.family_count(); ++f) {
    const std::int32_t stride = matrix_.family_stride[f];
    for (std::int32_t p = matrix_.family_begin[f]; p + stride < matrix_.family_begin[f + 1]; ++p)
      if (matrix_.upper[p] != matrix_.lower[p + stride]) return false;
  }
  for (std::size_t k = 0; k < cross_transpose_.size(); ++k)
    if (cross_transpose_[k] == k_none || matrix_.cross_val[k] != matrix_.cross_val[cross_transpose_[k]])
      return false;
  return true;
}

void LineSolver::factor(std::span<const double> values) {
  std::fill(flat_.begin(), flat_.end(), 0.0);
  for (std::size_t k = 0; k < direct_target_.size(); ++k)
    if (direct_target_[k] != k_none) flat_[direct_target_[k]] += values[k];
  eliminate_leaves(values);
  const std::size_t n = matrix_.n;
  matrix_.diag = {flat_.data(), n};
  matrix_.lower = {flat_.data() + n, n};
  matrix_.upper = {flat_.data() + 2 * n, n};
  matrix_.cross_val = {flat_.data() + 3 * n, matrix_.cross_col.size()};
  symmetric_ = is_symmetric();
  const std::int32_t bad = matrix_.factor_tridiagonal();
  if (bad != k_none)
    throw SingularMatrix(fmt::format("lines: zero pivot in the chain of unknown {}", unknown_[bad]), unknown_[bad]);
}

void LineSolver::solve(std::span<double> rhs, std::span<const double> tolerance) {
  const std::int32_t n = matrix_.n;
  std::vector<double>& b = work_.b;
  std::vector<double>& t = work_.tolerance;
  double largest = 0;
  for (double r : rhs) largest = std::max(largest, std::abs(r));
  for (std::int32_t p = 0; p < n; ++p) {
    b[p] = rhs[unknown_[p]];
    t[p] = tolerance.empty() ? options_.default_reltol * largest : tolerance[unknown_[p]];
  }
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l)
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a)
      b[links_[a].chain] -= link_in_scaled_[a] * rhs[leaf_unknown_[l]];
  iterations_ = solve_reduced(matrix_, symmetric_, options_.max_iterations, work_);
  for (std::int32_t p = 0; p < n; ++p) rhs[unknown_[p]] = work_.x[p];
  for (std::size_t l = 0; l < leaf_unknown_.size(); ++l) {
    double sum = rhs[leaf_unknown_[l]];
    for (std::int32_t a = leaf_ptr_[l]; a < leaf_ptr_[l + 1]; ++a) sum -= link_out_[a] * work_.x[links_[a].chain];
    rhs[leaf_unknown_[l]] = sum * leaf_inv_diag_[l];
  }
}

}  // namespace

std::unique_ptr<LinearSolver> make_line_solver(LinePartition partition, LineSolverOptions options) {
  return std::make_unique<LineSolver>(std::move(partition), options);
}

}  // namespace xbar::solver
