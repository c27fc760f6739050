// The batched EKV law (ekv_current_batch, SIMD through Google Highway) against the scalar law it
// vectorises, ekv_current: the same equations, so the same numbers up to the few ulp by which
// the vectorised exp and log1p differ from the C library's. Run on every instruction set this
// CPU supports (Highway lets a test force the target that dispatch picks).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <hwy/targets.h>

#include "devices/ekv.hpp"

using namespace xbar::devices;

namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
/// Batch sizes around the vector widths (2, 4, 8 doubles) and the nodal assembly's block (256).
const std::vector<std::size_t> k_batch_sizes = {0, 1, 3, 7, 8, 9, 255, 256, 257, 1000};

/// Transistors of one law: V_T per instance and the terminal voltages (V).
struct Biases {
  std::vector<double> vt, v_g, v_d, v_s;
  void add(double t, double g, double d, double s) { vt.push_back(t), v_g.push_back(g), v_d.push_back(d), v_s.push_back(s); }
  std::size_t size() const { return vt.size(); }
};

/// Subthreshold to strong inversion: V_G from -0.5 to 2 V in 25 mV steps, for each threshold;
/// drain and source from 0 to 0.5 V either way round, so V_DS from 0 through 1 mV to +-0.5 V.
Biases bias_grid(const std::vector<double>& thresholds) {
  Biases b;
  const double lines[] = {0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5};
  for (double vt : thresholds)
    for (int g = 0; g <= 100; ++g)
      for (double v_d : lines)
        for (double v_s : {0.0, 0.002, 0.05, 0.3}) b.add(vt, -0.5 + 0.025 * g, v_d, v_s);
  return b;
}

/// The batch's results, one vector per EkvCurrent member.
struct Results {
  std::vector<double> i_ds, di_dvg, di_dvd, di_dvs;
  explicit Results(std::size_t n, double fill = k_nan) : i_ds(n, fill), di_dvg(n, fill), di_dvd(n, fill), di_dvs(n, fill) {}
  EkvBatch batch(const Biases& b, std::size_t start, std::size_t count) {
    auto in = [&](const std::vector<double>& x) { return std::span<const double>(x).subspan(start, count); };
    auto out = [&](std::vector<double>& x) { return std::span<double>(x).subspan(start, count); };
    return {in(b.vt), in(b.v_g), in(b.v_d), in(b.v_s), out(i_ds), out(di_dvg), out(di_dvd), out(di_dvs)};
  }
};

/// ekv_current_batch over all of `b`, cut into consecutive batches of k_batch_sizes in turn (so
/// batches start anywhere in a vector and end in every kind of tail).
Results run_in_batches(const EkvParams& law, const Biases& b) {
  Results r(b.size());
  for (std::size_t start = 0, turn = 0; start < b.size(); ++turn) {
    const std::size_t count = std::min(k_batch_sizes[turn % k_batch_sizes.size()], b.size() - start);
    ekv_current_batch(law, r.batch(b, start, count));
    start += count;
  }
  return r;
}

EkvCurrent scalar_law(EkvParams law, const Biases& b, std::size_t k) {
  law.vt = b.vt[k];
  return ekv_current(law, b.v_g[k], b.v_d[k], b.v_s[k]);
}

/// The largest |batch - scalar| / (|scalar| + floor) over the instances and the four outputs;
/// floors I_S 1e-30 for the current and I_S/U_T 1e-30 for the partials. A NaN counts as infinite.
struct Mismatch {
  double relative = 0.0;
  std::string where;
};

Mismatch worst_mismatch(const EkvParams& law, const Biases& b, const Results& r) {
  Mismatch worst;
  const double floor_i = law.i_s * 1e-30, floor_g = law.i_s / k_thermal_voltage * 1e-30;
  auto compare = [&](const char* name, std::size_t k, double batch, double scalar, double floor) {
    double rel = std::abs(batch - scalar) / (std::abs(scalar) + floor);
    if (std::isnan(rel)) rel = std::numeric_limits<double>::infinity();
    if (rel <= worst.relative) return;
    worst.relative = rel;
    std::ostringstream where;
    where << std::setprecision(17) << name << " at V_T " << b.vt[k] << ", V_G " << b.v_g[k] << ", V_D " << b.v_d[k]
          << ", V_S " << b.v_s[k] << ": batch " << batch << ", scalar " << scalar;
    worst.where = where.str();
  };
  for (std::size_t k = 0; k < b.size(); ++k) {
    const EkvCurrent e = scalar_law(law, b, k);
    compare("I_DS", k, r.i_ds[k], e.i_ds, floor_i);
    compare("dI/dV_G", k, r.di_dvg[k], e.di_dvg, floor_g);
    compare("dI/dV_D", k, r.di_dvd[k], e.di_dvd, floor_g);
    compare("dI/dV_S", k, r.di_dvs[k], e.di_dvs, floor_g);
  }
  return worst;
}

/// Runs `check` once per instruction set compiled in and supported here, with dispatch forced to it.
void on_every_target(const std::function<void()>& check) {
  struct Forced {
    explicit Forced(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }
    ~Forced() { hwy::SetSupportedTargetsForTest(0); }
  };
  for (const std::int64_t target : hwy::SupportedAndGeneratedTargets()) {
    const Forced forced(target);
    INFO("instruction set " << hwy::TargetName(target));
    REQUIRE(std::string(ekv_batch_target()) == hwy::TargetName(target));
    check();
  }
}

void check_agrees_with_scalar(const EkvParams& law, const Biases& b) {
  const Mismatch worst = worst_mismatch(law, b, run_in_batches(law, b));
  INFO("worst relative mismatch " << worst.relative << ": " << worst.where);
  CHECK(worst.relative <= 1e-13);
}

}  // namespace

TEST_CASE("dispatch runs the batched EKV law on the widest instruction set the CPU has", "[devices][ekv-batch]") {
  const std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
  REQUIRE(!targets.empty());
  CHECK(std::string(ekv_batch_target()) == hwy::TargetName(targets.front()));  // lowest bit = best
}

TEST_CASE("the batched EKV law equals the scalar law to 1e-13 from subthreshold to strong inversion",
          "[devices][ekv-batch]") {
  std::vector<double> thresholds;  // the SONOS window, -0.3 to 0.6 V
  for (int k = 0; k <= 18; ++k) thresholds.push_back(-0.3 + 0.05 * k);
  const Biases sonos = bias_grid(thresholds), select = bias_grid({select_defaults().vt});
  on_every_target([&] {
    INFO("SONOS law");
    check_agrees_with_scalar(sonos_defaults(), sonos);
  });
  on_every_target([&] {
    INFO("select law");
    check_agrees_with_scalar(select_defaults(), select);
  });
}

TEST_CASE("a batch of any size writes its own instances and nothing past them", "[devices][ekv-batch]") {
  on_every_target([] {
    const Biases b = bias_grid({0.2});
    for (const std::size_t count : k_batch_sizes) {
      CAPTURE(count);
      Results r(count + 16, -1.0);  // -1 marks untouched slots
      ekv_current_batch(sonos_defaults(), r.batch(b, 0, count));
      for (std::size_t k = 0; k < count; ++k) {
        const double i_scalar = scalar_law(sonos_defaults(), b, k).i_ds;
        REQUIRE(std::abs(r.i_ds[k] - i_scalar) <= 1e-13 * std::abs(i_scalar) + 1e-30 * sonos_defaults().i_s);
      }
      for (std::size_t k = count; k < count + 16; ++k) {
        REQUIRE(r.i_ds[k] == -1.0);
        REQUIRE(r.di_dvg[k] == -1.0);
        REQUIRE(r.di_dvd[k] == -1.0);
        REQUIRE(r.di_dvs[k] == -1.0);
      }
    }
  });
}

TEST_CASE("gate or drain 50 V and 250 V from the rest give the scalar law's finite values, not inf or NaN",
          "[devices][ekv-batch]") {
  on_every_target([] {
    Biases b;
    for (double big : {50.0, -50.0, 250.0, -250.0}) {  // |v / U_T| up to ~1e4
      b.add(0.2, big, 0.0, 0.0), b.add(0.2, 0.0, big, 0.0), b.add(0.2, big, -big, 0.0);
      b.add(0.2, 0.0, 0.1, big), b.add(0.2, big, 0.1, 0.0), b.add(-0.3, big, big, big);
    }
    const Results r = run_in_batches(sonos_defaults(), b);
    for (std::size_t k = 0; k < b.size(); ++k) {
      CAPTURE(b.v_g[k], b.v_d[k], b.v_s[k]);
      CHECK(std::isfinite(r.i_ds[k]));
      CHECK(std::isfinite(r.di_dvg[k]));
      CHECK(std::isfinite(r.di_dvd[k]));
      CHECK(std::isfinite(r.di_dvs[k]));
    }
    check_agrees_with_scalar(sonos_defaults(), b);
  });
}

TEST_CASE("a NaN terminal voltage gives a NaN current and NaN partials, for its own instance only",
          "[devices][ekv-batch]") {
  on_every_target([] {
    for (int terminal = 0; terminal < 4; ++terminal)  // V_T, V_G, V_D, V_S
      for (std::size_t at : {0, 4, 8}) {             // first vector, middle, tail of a batch of 9
        CAPTURE(terminal, at);
        Biases b;
        for (int k = 0; k < 9; ++k) b.add(0.2, 0.4 + 0.1 * k, 0.1, 0.0);
        std::vector<double>* inputs[] = {&b.vt, &b.v_g, &b.v_d, &b.v_s};
        (*inputs[terminal])[at] = k_nan;
        Results r(9, 0.0);
        ekv_current_batch(sonos_defaults(), r.batch(b, 0, 9));
        for (std::size_t k = 0; k < 9; ++k) {
          for (double out : {r.i_ds[k], r.di_dvg[k], r.di_dvd[k], r.di_dvs[k]}) {
            CHECK(std::isnan(out) == (k == at));
          }
        }
      }
  });
}
