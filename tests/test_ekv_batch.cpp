// The batched EKV law (ekv_current_batch, SIMD through Google Highway) against the scalar law it
// vectorises, ekv_current: the same equations, so the same numbers up to the few ulp by which
// the vectorised exp and log1p differ from the C library's. Run on every instruction set the law
// is compiled for that this CPU supports (ekv_batch_targets(): each one's kernel, called directly).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

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

/// The batched law on one instruction set over all of `b`, cut into consecutive batches of
/// k_batch_sizes in turn (so batches start anywhere in a vector and end in every kind of tail).
Results run_in_batches(const EkvSimdTarget& target, const EkvParams& law, const Biases& b) {
  Results r(b.size());
  for (std::size_t start = 0, turn = 0; start < b.size(); ++turn) {
    const std::size_t count = std::min(k_batch_sizes[turn % k_batch_sizes.size()], b.size() - start);
    target.run(law, r.batch(b, start, count));
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

/// Runs `check` once per instruction set compiled in and supported here.
void on_every_target(const std::function<void(const EkvSimdTarget&)>& check) {
  for (const EkvSimdTarget& target : ekv_batch_targets()) {
    INFO("instruction set " << target.name);
    check(target);
  }
}

void check_agrees_with_scalar(const EkvSimdTarget& target, const EkvParams& law, const Biases& b,
                              double tolerance = 1e-13) {
  const Mismatch worst = worst_mismatch(law, b, run_in_batches(target, law, b));
  INFO("worst relative mismatch " << worst.relative << ": " << worst.where);
  CHECK(worst.relative <= tolerance);
}

}  // namespace

/// The CPU's extensions as the kernel lists them ("flags" of /proc/cpuinfo); empty elsewhere.
std::set<std::string> cpuinfo_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; flags.empty() && std::getline(cpuinfo, line);) {
    if (!line.starts_with("flags")) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string flag; words >> flag;) flags.insert(flag);
  }
  return flags;
}

TEST_CASE("dispatch runs the batched EKV law on the widest instruction set the CPU has", "[devices][ekv-batch]") {
  const auto targets = ekv_batch_targets();
  REQUIRE(!targets.empty());
  CHECK(std::string(ekv_batch_target()) == targets.front().name);
  const std::string baseline = targets.back().name;  // plain x86-64: Highway's one-lane or emulated target
  if (baseline != "SCALAR" && baseline != "EMU128") {
    WARN("built for a newer baseline than x86-64 (" << baseline << "): the list of instruction sets is not checked");
    return;
  }

  // Independently of libgcc's detection: Linux's own list of the CPU's extensions, and the ones
  // each instruction set's code is compiled with (each includes the one below it).
  const std::set<std::string> flags = cpuinfo_flags();
  if (flags.empty()) {
    WARN("no flags in /proc/cpuinfo: the list of instruction sets is not checked");
    return;
  }
  auto has = [&](std::initializer_list<const char*> names) {
    return std::all_of(names.begin(), names.end(), [&](const char* name) { return flags.count(name) > 0; });
  };
  const bool ssse3 = has({"sse2", "ssse3"});
  const bool sse4 = ssse3 && has({"sse4_1", "sse4_2", "pclmulqdq", "aes"});
  const bool avx2 = sse4 && has({"avx", "avx2", "bmi1", "bmi2", "fma", "f16c"});
  const bool avx3 = avx2 && has({"avx512f", "avx512vl", "avx512dq", "avx512bw"});
  std::vector<std::string> expected;
  for (const auto& [name, supported] : {std::pair{"AVX3", avx3}, {"AVX2", avx2}, {"SSE4", sse4}, {"SSSE3", ssse3}})
    if (supported) expected.push_back(name);
  expected.push_back(baseline);
  std::vector<std::string> listed;
  for (const EkvSimdTarget& target : targets) listed.push_back(target.name);
  CHECK(listed == expected);
}

TEST_CASE("ekv_current_batch gives the numbers of the best instruction set's kernel, bit for bit", "[devices][ekv-batch]") {
  const Biases b = bias_grid({-0.3, 0.2, 0.6});
  Results dispatched(b.size()), best(b.size());
  ekv_current_batch(sonos_defaults(), dispatched.batch(b, 0, b.size()));
  ekv_batch_targets().front().run(sonos_defaults(), best.batch(b, 0, b.size()));
  CHECK(dispatched.i_ds == best.i_ds);
  CHECK(dispatched.di_dvg == best.di_dvg);
  CHECK(dispatched.di_dvd == best.di_dvd);
  CHECK(dispatched.di_dvs == best.di_dvs);
}

TEST_CASE("the batched EKV law equals the scalar law to 1e-13 from subthreshold to strong inversion",
          "[devices][ekv-batch]") {
  std::vector<double> thresholds;  // the SONOS window, -0.3 to 0.6 V
  for (int k = 0; k <= 18; ++k) thresholds.push_back(-0.3 + 0.05 * k);
  const Biases sonos = bias_grid(thresholds), select = bias_grid({select_defaults().vt});
  on_every_target([&](const EkvSimdTarget& target) {
    INFO("SONOS law");
    check_agrees_with_scalar(target, sonos_defaults(), sonos);
  });
  on_every_target([&](const EkvSimdTarget& target) {
    INFO("select law");
    check_agrees_with_scalar(target, select_defaults(), select);
  });
}

TEST_CASE("the batched EKV law equals the scalar law to a few ulp on a fine gate sweep, regimes mixed in every vector",
          "[devices][ekv-batch]") {
  // V_G in 0.1 mV steps over 1.8 V: e = exp(-|h|) runs through every interval of the kernel's
  // log1p table and every range-reduction step of its exponential, on the table's boundaries
  // too; a prime stride shuffles the sweep, so that most vectors mix off, threshold and on lanes
  // (the full path, not the series of e <= 2^-8). With V_DS = 100 mV the two terms of I_DS do
  // not cancel: the law's own roundings show, and hold to 1e-14 (measured: ~1e-15). At 1 mV they
  // cancel by ~40x, and 1e-13 holds as on the grid of biases above.
  constexpr int k_steps = 18000;
  Biases wide, close;
  for (int k = 0; k < k_steps; ++k) {
    const double v_g = -0.6 + 1e-4 * ((k * 7919) % k_steps);
    wide.add(0.45, v_g, 0.1, 0.0);
    close.add(0.45, v_g, 0.051, 0.05);
  }
  on_every_target([&](const EkvSimdTarget& target) {
    for (const EkvParams& law : {sonos_defaults(), select_defaults()}) {
      INFO("law with n " << law.n);
      check_agrees_with_scalar(target, law, wide, 1e-14);
      check_agrees_with_scalar(target, law, close);
    }
  });
}

TEST_CASE("a batch of any size writes its own instances and nothing past them", "[devices][ekv-batch]") {
  on_every_target([](const EkvSimdTarget& target) {
    const Biases b = bias_grid({0.2});
    for (const std::size_t count : k_batch_sizes) {
      CAPTURE(count);
      Results r(count + 16, -1.0);  // -1 marks untouched slots
      target.run(sonos_defaults(), r.batch(b, 0, count));
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
  on_every_target([](const EkvSimdTarget& target) {
    Biases b;
    for (double big : {50.0, -50.0, 250.0, -250.0}) {  // |v / U_T| up to ~1e4
      b.add(0.2, big, 0.0, 0.0), b.add(0.2, 0.0, big, 0.0), b.add(0.2, big, -big, 0.0);
      b.add(0.2, 0.0, 0.1, big), b.add(0.2, big, 0.1, 0.0), b.add(-0.3, big, big, big);
    }
    const Results r = run_in_batches(target, sonos_defaults(), b);
    for (std::size_t k = 0; k < b.size(); ++k) {
      CAPTURE(b.v_g[k], b.v_d[k], b.v_s[k]);
      CHECK(std::isfinite(r.i_ds[k]));
      CHECK(std::isfinite(r.di_dvg[k]));
      CHECK(std::isfinite(r.di_dvd[k]));
      CHECK(std::isfinite(r.di_dvs[k]));
    }
    check_agrees_with_scalar(target, sonos_defaults(), b);
  });
}

TEST_CASE("a NaN terminal voltage gives a NaN current and NaN partials, for its own instance only",
          "[devices][ekv-batch]") {
  on_every_target([](const EkvSimdTarget& target) {
    for (int terminal = 0; terminal < 4; ++terminal)  // V_T, V_G, V_D, V_S
      for (std::size_t at : {0, 4, 8}) {             // first vector, middle, tail of a batch of 9
        CAPTURE(terminal, at);
        Biases b;
        for (int k = 0; k < 9; ++k) b.add(0.2, 0.4 + 0.1 * k, 0.1, 0.0);
        std::vector<double>* inputs[] = {&b.vt, &b.v_g, &b.v_d, &b.v_s};
        (*inputs[terminal])[at] = k_nan;
        Results r(9, 0.0);
        target.run(sonos_defaults(), r.batch(b, 0, 9));
        for (std::size_t k = 0; k < 9; ++k) {
          for (double out : {r.i_ds[k], r.di_dvg[k], r.di_dvd[k], r.di_dvs[k]}) {
            CHECK(std::isnan(out) == (k == at));
          }
        }
      }
  });
}

TEST_CASE("without dI/dV_G the batch gives the other outputs bit for bit and writes no gate partial",
          "[devices][ekv-batch]") {
  on_every_target([](const EkvSimdTarget& target) {
    const Biases b = bias_grid({-0.3, 0.2, 0.6});
    for (const std::size_t count : k_batch_sizes) {
      CAPTURE(count);
      const std::size_t n = std::min(count, b.size());
      Results full(n), partial(n, -1.0);
      target.run(sonos_defaults(), full.batch(b, 0, n));
      EkvBatch without = partial.batch(b, 0, n);
      without.di_dvg = {};
      target.run(sonos_defaults(), without);
      CHECK(partial.i_ds == full.i_ds);
      CHECK(partial.di_dvd == full.di_dvd);
      CHECK(partial.di_dvs == full.di_dvs);
      CHECK(std::all_of(partial.di_dvg.begin(), partial.di_dvg.end(), [](double x) { return x == -1.0; }));
    }
  });
}

TEST_CASE("the batch's second derivatives are those of the scalar law's partials, and leave the rest bit for bit",
          "[devices][ekv-batch]") {
  // d2I along (dV_D, dV_S): the arguments move by dv_f = eta/n (dV_D - dV_S) - dV_S and
  // dv_r = eta/n (dV_D - dV_S) - dV_D, and d2I = d2i_forward dv_f^2 - d2i_reverse dv_r^2. Against
  // central differences (1 uV) of the scalar dI/dV_D and dI/dV_S, over subthreshold to strong
  // inversion: the differences' own error is ~(1 uV / U_T)^2 and their rounding ~1e-10 of the
  // partials, so 1e-6 of the largest term (or a floor where the terms cancel) is a real check.
  for (const EkvParams& law : {sonos_defaults(), select_defaults()}) {
    const Biases b = bias_grid({-0.3, 0.2, 0.6});
    const double eta_n = law.eta / law.n, h = 1e-6;
    on_every_target([&](const EkvSimdTarget& target) {
      const std::size_t n = b.size();
      Results plain(n), second(n);
      std::vector<double> d2f(n), d2r(n);
      target.run(law, plain.batch(b, 0, n));
      EkvBatch with = second.batch(b, 0, n);
      with.d2i_forward = d2f, with.d2i_reverse = d2r;
      target.run(law, with);
      CHECK(second.i_ds == plain.i_ds);
      CHECK(second.di_dvd == plain.di_dvd);
      CHECK(second.di_dvs == plain.di_dvs);
      for (std::size_t k = 0; k < n; ++k) {
        EkvParams at = law;
        at.vt = b.vt[k];
        auto partials = [&](double dd, double ds) { return ekv_current(at, b.v_g[k], b.v_d[k] + dd, b.v_s[k] + ds); };
        // Rows of the Hessian by differences: d/dV_D and d/dV_S of (dI/dV_D, dI/dV_S).
        const EkvCurrent dp = partials(h, 0), dm = partials(-h, 0), sp = partials(0, h), sm = partials(0, -h);
        const double fd_dd = (dp.di_dvd - dm.di_dvd) / (2 * h), fd_ss = (sp.di_dvs - sm.di_dvs) / (2 * h);
        const double fd_ds = (sp.di_dvd - sm.di_dvd) / (2 * h);
        auto along = [&](double move_d, double move_s) {
          const double vp = eta_n * (move_d - move_s), f = vp - move_s, r = vp - move_d;
          return std::pair{d2f[k] * f * f - d2r[k] * r * r, std::abs(d2f[k] * f * f) + std::abs(d2r[k] * r * r)};
        };
        const auto [dd, scale_dd] = along(1, 0);
        const auto [ss, scale_ss] = along(0, 1);
        const auto [both, scale_both] = along(1, 1);  // d2I along (1, 1) = dd + 2 ds + ss
        const double ds = (both - dd - ss) / 2, floor = law.i_s / (k_thermal_voltage * k_thermal_voltage) * 1e-9;
        INFO("V_T " << b.vt[k] << ", V_G " << b.v_g[k] << ", V_D " << b.v_d[k] << ", V_S " << b.v_s[k]);
        CHECK(std::abs(dd - fd_dd) <= 1e-6 * scale_dd + floor);
        CHECK(std::abs(ss - fd_ss) <= 1e-6 * scale_ss + floor);
        CHECK(std::abs(ds - fd_ds) <= 1e-6 * (scale_dd + scale_ss + scale_both) + floor);
      }
    });
  }
}
