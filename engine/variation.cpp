#include "engine/variation.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

namespace xbar::engine {

namespace {

constexpr double k_fit_a = 0.00188704e9;  // /A   (0.00188704 /nA)
constexpr double k_fit_b = 39.5656e-9;    // A    (39.5656 nA)

// Standard normal draws, portable (the same seed gives the same numbers with any standard
// library): Box-Muller on 53-bit uniforms, both numbers of each pair used.
class NormalDraws {
 public:
  explicit NormalDraws(std::uint64_t seed) : engine_(seed) {}
  double next() {
    if (spare_) {
      spare_ = false;
      return second_;
    }
    const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]
    const double radius = std::sqrt(-2 * std::log(u1));
    second_ = radius * std::sin(2 * M_PI * u2);
    spare_ = true;
    return radius * std::cos(2 * M_PI * u2);
  }

 private:
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::mt19937_64 engine_;
  double second_ = 0;
  bool spare_ = false;
};

}  // namespace

double sonos_fit_sigma_current(double i) { return k_fit_b * -std::expm1(-k_fit_a * i); }

double weight_sigma(const VariationSpec& spec, const CellContext& ctx, double nominal) {
  const VariationSigma& sigma = spec.for_cell(ctx.cell);
  if (!sigma.sonos_fit) return ctx.cell.is_sonos() ? sigma.value : sigma.value * (ctx.levels.max - ctx.levels.min());
  const double i_cell = devices::isolated_cell(ctx.cell, nominal, ctx.v_read, ctx.v_sense).current;
  if (!ctx.cell.is_sonos()) return sonos_fit_sigma_current(i_cell) / std::abs(ctx.v_read - ctx.v_sense);
  return sonos_fit_sigma_current(i_cell) /
         devices::sonos_cell_transconductance(ctx.cell, nominal, ctx.v_read, ctx.v_sense);
}

std::vector<double> programmed_weights(const VariationSpec& spec, const CellContext& ctx,
                                       std::span<const double> nominal) {
  std::vector<double> programmed(nominal.begin(), nominal.end());
  const VariationSigma& sigma = spec.for_cell(ctx.cell);
  if (!sigma.active()) return programmed;
  // Arrays hold a few distinct nominal weights (levels): one sigma each.
  std::unordered_map<double, double> sigma_of;
  NormalDraws draws(spec.seed);
  const bool sonos = ctx.cell.is_sonos();
  const double g_low = sigma.sonos_fit ? ctx.levels.min() / 1000 : ctx.levels.min();
  const double g_high = sigma.sonos_fit ? HUGE_VAL : ctx.levels.max;
  for (double& w : programmed) {
    auto [it, fresh] = sigma_of.try_emplace(w);
    if (fresh) it->second = weight_sigma(spec, ctx, w);
    w += it->second * draws.next();
    if (!sonos) w = std::clamp(w, g_low, g_high);
  }
  return programmed;
}

}  // namespace xbar::engine
