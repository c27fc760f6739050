// KLU backend: klu_analyze once per pattern, klu_factor the first time, klu_refactor (same pivot
// order, no search) on every later call. A refactor whose reciprocal pivot growth has collapsed
// is redone as a full factor, as SPICE does when a pivot goes bad.
#include <klu.h>

#include <fmt/format.h>

#include "solver/linear_solver.hpp"

namespace xbar::solver {

namespace {

class KluSolver final : public LinearSolver {
 public:
  KluSolver() { klu_defaults(&common_); }
  ~KluSolver() override { release(); }
  KluSolver(const KluSolver&) = delete;
  KluSolver& operator=(const KluSolver&) = delete;

  void analyze(const CscPattern& pattern) override {
    release();
    pattern_ = &pattern;
    symbolic_ = klu_analyze(pattern.n, const_cast<int*>(pattern.col_ptr.data()),
                            const_cast<int*>(pattern.row_idx.data()), &common_);
    if (!symbolic_) throw SingularMatrix(fmt::format("KLU analyze failed (status {})", common_.status), -1);
  }

  void factor(std::span<const double> values) override {
    int* ap = const_cast<int*>(pattern_->col_ptr.data());
    int* ai = const_cast<int*>(pattern_->row_idx.data());
    double* ax = const_cast<double*>(values.data());
    if (numeric_ && klu_refactor(ap, ai, ax, symbolic_, numeric_, &common_) &&
        klu_rgrowth(ap, ai, ax, symbolic_, numeric_, &common_) && common_.rgrowth > 1e-12)
      return;
    if (numeric_) klu_free_numeric(&numeric_, &common_);
    numeric_ = klu_factor(ap, ai, ax, symbolic_, &common_);
    if (!numeric_ || common_.status == KLU_SINGULAR)
      throw SingularMatrix(fmt::format("KLU: singular matrix (status {})", common_.status),
                           common_.singular_col < pattern_->n ? common_.singular_col : -1);
    if (klu_rcond(symbolic_, numeric_, &common_) && common_.rcond < 1e-300)
      throw SingularMatrix("KLU: matrix is numerically singular", -1);
  }

  void solve(std::span<double> rhs) override {
    klu_solve(symbolic_, numeric_, pattern_->n, 1, rhs.data(), &common_);
  }

  std::string name() const override { return "klu"; }

 private:
  void release() {
    if (numeric_) klu_free_numeric(&numeric_, &common_);
    if (symbolic_) klu_free_symbolic(&symbolic_, &common_);
  }

  klu_common common_{};
  klu_symbolic* symbolic_ = nullptr;
  klu_numeric* numeric_ = nullptr;
  const CscPattern* pattern_ = nullptr;
};

}  // namespace

std::unique_ptr<LinearSolver> make_klu_solver() { return std::make_unique<KluSolver>(); }

}  // namespace xbar::solver
