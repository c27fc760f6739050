#include "devices/ekv_fit.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace xbar::devices {

namespace {

using Theta = Eigen::Vector4d;  // V_T, n, ln I_S, eta

EkvParams params_of(const Theta& t) { return {.n = t[1], .i_s = std::exp(t[2]), .eta = t[3], .vt = t[0]}; }

// The projection of a step onto k_fit_bounds (n below 0.3 is not a transistor; eta is >= 0).
Theta within_bounds(Theta t) {
  EkvParams p = params_of(t);
  for (const FitBound& b : k_fit_bounds) p.*b.value = std::clamp(p.*b.value, b.lo, b.hi);
  return {t[0], p.n, t[2], p.eta};
}

double log_ratio(const EkvParams& p, const IvSample& s) {
  return std::log(ekv_current(p, s.v_g, s.v_d, s.v_s).i_ds / s.i_ds);
}

double cost(const Theta& t, std::span<const IvSample> samples) {
  const EkvParams p = params_of(t);
  double sum = 0;
  for (const IvSample& s : samples) sum += std::pow(log_ratio(p, s), 2);
  return std::isfinite(sum) ? sum : std::numeric_limits<double>::infinity();
}

// Normal equations J^T J and J^T r of the log residuals at t.
struct Normal {
  Eigen::Matrix4d jtj = Eigen::Matrix4d::Zero();
  Eigen::Vector4d jtr = Eigen::Vector4d::Zero();
};

Normal normal_equations(const Theta& t, std::span<const IvSample> samples) {
  const EkvParams p = params_of(t);
  Normal ne;
  for (const IvSample& s : samples) {
    const EkvCurrent c = ekv_current(p, s.v_g, s.v_d, s.v_s);
    const double v_ds = s.v_d - s.v_s;
    const double v_p = (s.v_g - p.vt + p.eta * v_ds) / p.n;
    const Eigen::Vector4d row(-c.di_dvg / c.i_ds, -v_p * c.di_dvg / c.i_ds, 1.0, v_ds * c.di_dvg / c.i_ds);
    ne.jtj += row * row.transpose();
    ne.jtr += row * std::log(c.i_ds / s.i_ds);
  }
  return ne;
}

// For fixed V_T, n, eta the best ln I_S is the one that zeroes the mean log residual.
Theta with_best_scale(Theta t, std::span<const IvSample> samples) {
  t[2] = 0.0;
  const EkvParams unit = params_of(t);
  double mean = 0;
  for (const IvSample& s : samples) mean += log_ratio(unit, s);
  t[2] = -mean / static_cast<double>(samples.size());
  return t;
}

// Coarse start: V_T over the gate range and beyond, a few slope factors, on a subsample.
Theta initial_guess(std::span<const IvSample> samples) {
  std::vector<IvSample> subsample;
  const std::size_t stride = std::max<std::size_t>(1, samples.size() / 2000);
  for (std::size_t k = 0; k < samples.size(); k += stride) subsample.push_back(samples[k]);
  const auto [lo, hi] = std::minmax_element(samples.begin(), samples.end(),
                                            [](const IvSample& a, const IvSample& b) { return a.v_g < b.v_g; });
  Theta best(0, 1.3, 0, 0);
  double best_cost = std::numeric_limits<double>::infinity();
  for (double n : {1.05, 1.3, 1.6, 2.0})
    for (double vt = lo->v_g - 0.5; vt <= hi->v_g + 0.5; vt += 0.02) {
      const Theta t = with_best_scale(Theta(vt, n, 0, 0), subsample);
      const double c = cost(t, subsample);
      if (c < best_cost) best_cost = c, best = t;
    }
  return best;
}

std::vector<IvSample> usable(std::span<const IvSample> samples) {
  std::vector<IvSample> out;
  std::copy_if(samples.begin(), samples.end(), std::back_inserter(out), ekv_can_match);
  return out;
}

}  // namespace

bool ekv_can_match(const IvSample& s) {
  const double v_ds = s.v_d - s.v_s;
  return std::isfinite(s.i_ds) && s.i_ds != 0 && v_ds != 0 && (s.i_ds > 0) == (v_ds > 0);
}

RelativeError ekv_relative_error(const EkvParams& p, std::span<const IvSample> samples, double i_ref) {
  RelativeError e;
  double sum = 0;
  for (const IvSample& s : samples) {
    if (!ekv_can_match(s)) continue;
    const double i_ekv = ekv_current(p, s.v_g, s.v_d, s.v_s).i_ds;
    const double rel = i_ref > 0 ? std::abs(i_ekv - s.i_ds) / i_ref : std::abs(i_ekv / s.i_ds - 1);
    sum += rel * rel;
    ++e.points;
    if (rel >= e.max) e.max = rel, e.worst = s;
  }
  e.rms = e.points ? std::sqrt(sum / e.points) : 0.0;
  return e;
}

EkvFitResult fit_ekv(std::span<const IvSample> all) {
  const std::vector<IvSample> samples = usable(all);
  if (samples.size() < 4)
    throw std::invalid_argument(fmt::format(
        "EKV fit: {} of {} samples are usable (non-zero current with the sign of V_DS); at least 4 needed",
        samples.size(), all.size()));
  EkvFitResult result;
  result.excluded = all.size() - samples.size();
  Theta t = initial_guess(samples);
  double c = cost(t, samples), lambda = 1e-3;
  for (result.iterations = 1; result.iterations <= 500; ++result.iterations) {
    const Normal ne = normal_equations(t, samples);
    Eigen::Matrix4d a = ne.jtj;
    a.diagonal() *= 1 + lambda;
    const Theta trial = within_bounds(t + a.ldlt().solve(-ne.jtr));
    const Theta step = trial - t;
    const double trial_cost = cost(trial, samples);
    if (trial_cost < c) {
      const bool settled = c - trial_cost <= 1e-15 * c + 1e-30 && step.norm() < 1e-10;
      t = trial, c = trial_cost, lambda = std::max(lambda / 3, 1e-12);
      if (settled) { result.converged = true; break; }
    } else {
      lambda *= 4;
      if (lambda > 1e12) { result.converged = step.norm() < 1e-9; break; }
    }
  }
  result.params = params_of(t);
  result.error = ekv_relative_error(result.params, samples);
  for (const FitBound& b : k_fit_bounds)
    if (std::min(result.params.*b.value - b.lo, b.hi - result.params.*b.value) <= 1e-6) result.at_bound.push_back(&b);
  return result;
}

namespace {

std::vector<IvSample> at_gate(std::span<const IvSample> samples, double v_g) {
  std::vector<IvSample> out;
  std::copy_if(samples.begin(), samples.end(), std::back_inserter(out),
               [v_g](const IvSample& s) { return std::abs(s.v_g - v_g) < 1e-9; });
  return out;
}

}  // namespace

OnCurrentErrors ekv_on_current_errors(const EkvParams& params, std::span<const IvSample> samples, double v_on,
                                      double v_off) {
  OnCurrentErrors out;
  const std::vector<IvSample> on = at_gate(samples, v_on);
  for (const IvSample& s : on.empty() ? std::vector<IvSample>(samples.begin(), samples.end()) : on)
    out.i_on = std::max(out.i_on, std::abs(s.i_ds));
  out.on = ekv_relative_error(params, on, out.i_on);
  out.read = ekv_relative_error(params, samples, out.i_on);
  out.off = ekv_relative_error(params, at_gate(samples, v_off), out.i_on);
  return out;
}

}  // namespace xbar::devices
