// ekv_bench [TRANSISTORS]
//
// Nanoseconds per transistor evaluation (I_DS and its three partials) of the EKV law, on
// TRANSISTORS (default 1M) SONOS instances in blocks of 256 as the nodal assembly calls it:
// the scalar ekv_current loop, the former Eigen batch kernel (kept here, and only here, as the
// reference), and ekv_current_batch (Highway) on the instruction set dispatch picks and on every
// other one this CPU runs. Best of several passes. Never a test.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "devices/ekv.hpp"

using namespace xbar::devices;

namespace eigen_reference {

// The Eigen kernel ekv_current_batch used before Highway (devices/ekv.cpp up to d5a862a).
constexpr int k_max_block = 256;
using Block = Eigen::Array<double, Eigen::Dynamic, 1, Eigen::ColMajor, k_max_block, 1>;
using ConstMap = Eigen::Map<const Block>;
using Map = Eigen::Map<Block>;

void interpolation_batch(const Block& v, Block& f, Block& df_dv) {
  const Block h = 0.5 * v;
  const Block e = (-h.abs()).exp();
  const Block u = 1.0 + e;
  const Block log1p_e = u.log() - ((u - 1.0) - e) / u;
  const Block sp = h.max(0.0) + log1p_e;
  const Block sig = (h > 0).select(1.0 / u, e / u);
  f = sp * sp;
  df_dv = sp * sig;
}

void ekv_block(const EkvParams& p, const EkvBatch& b) {
  const auto n = static_cast<Eigen::Index>(b.vt.size());
  const ConstMap vt(b.vt.data(), n), vg(b.v_g.data(), n), vd(b.v_d.data(), n), vs(b.v_s.data(), n);
  const double ut = k_thermal_voltage, scale = p.i_s / ut;
  const Block v_p = (vg - vt + p.eta * (vd - vs)) / p.n;
  Block f_fwd(n), d_fwd(n), f_rev(n), d_rev(n);
  interpolation_batch((v_p - vs) / ut, f_fwd, d_fwd);
  interpolation_batch((v_p - vd) / ut, f_rev, d_rev);
  const Block d_vp = scale * (d_fwd - d_rev);
  Map(b.i_ds.data(), n) = p.i_s * (f_fwd - f_rev);
  Map(b.di_dvg.data(), n) = d_vp / p.n;
  Map(b.di_dvd.data(), n) = d_vp * p.eta / p.n + scale * d_rev;
  Map(b.di_dvs.data(), n) = -d_vp * p.eta / p.n - scale * d_fwd;
}

}  // namespace eigen_reference

namespace {

constexpr std::size_t k_block = 256;  // as solver/nodal_system.cpp

/// Biases of a crossbar mid-solve: V_T over the SONOS window, gates from off to on, small V_DS.
struct Instances {
  std::vector<double> vt, v_g, v_d, v_s, i_ds, di_dvg, di_dvd, di_dvs;
  explicit Instances(std::size_t count) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> level(-0.3, 0.6), gate(-0.5, 1.5), line(0.0, 0.2);
    for (std::size_t k = 0; k < count; ++k) {
      vt.push_back(level(rng)), v_g.push_back(gate(rng)), v_d.push_back(line(rng)), v_s.push_back(line(rng) / 4);
    }
    for (auto* out : {&i_ds, &di_dvg, &di_dvd, &di_dvs}) out->assign(count, 0.0);
  }
  EkvBatch block(std::size_t start) {
    const std::size_t m = std::min(k_block, vt.size() - start);
    auto in = [&](const std::vector<double>& x) { return std::span<const double>(x).subspan(start, m); };
    auto out = [&](std::vector<double>& x) { return std::span<double>(x).subspan(start, m); };
    return {in(vt), in(v_g), in(v_d), in(v_s), out(i_ds), out(di_dvg), out(di_dvd), out(di_dvs)};
  }
};

/// Best wall time over `passes` runs of `pass`, in ns per transistor.
template <class Pass>
double ns_per_eval(std::size_t count, int passes, Pass&& pass) {
  double best = 1e300;
  for (int r = 0; r < passes; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / double(count));
  }
  return best;
}

/// All instances, block after block (inputs streamed from memory, as the nodal assembly's V_T).
template <class Kernel>
double time_blocks(Instances& x, const EkvParams& law, Kernel&& kernel) {
  return ns_per_eval(x.vt.size(), 15, [&] {
    for (std::size_t start = 0; start < x.vt.size(); start += k_block) kernel(law, x.block(start));
  });
}

/// The first block, as many times as there are instances (everything in L1: the law's own cost).
template <class Kernel>
double time_cached(Instances& x, const EkvParams& law, Kernel&& kernel) {
  return ns_per_eval(x.vt.size(), 15, [&] {
    for (std::size_t start = 0; start < x.vt.size(); start += k_block) kernel(law, x.block(0));
  });
}

void scalar_block(const EkvParams& law, const EkvBatch& b) {
  for (std::size_t k = 0; k < b.vt.size(); ++k) {
    EkvParams p = law;
    p.vt = b.vt[k];
    const EkvCurrent e = ekv_current(p, b.v_g[k], b.v_d[k], b.v_s[k]);
    b.i_ds[k] = e.i_ds, b.di_dvg[k] = e.di_dvg, b.di_dvd[k] = e.di_dvd, b.di_dvs[k] = e.di_dvs;
  }
}

}  // namespace

/// One line of the table: ns per evaluation streamed and in L1.
template <class Kernel>
std::pair<double, double> report(const char* name, Instances& x, const EkvParams& law, Kernel&& kernel) {
  const std::pair<double, double> t{time_blocks(x, law, kernel), time_cached(x, law, kernel)};
  std::printf("  %-34s %8.2f %8.2f\n", name, t.first, t.second);
  return t;
}

// The transistor count from the command line: a whole number >= 1, nothing else.
bool parse_count(const char* text, std::size_t& count) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || value < 1 || text[0] == '-') return false;
  count = static_cast<std::size_t>(value);
  return true;
}

int main(int argc, char** argv) {
  std::size_t count = 1000000;
  const char* usage = "usage: ekv_bench [TRANSISTORS]   (a whole number >= 1; default 1000000)\n";
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (argc > 2) {
    std::fprintf(stderr, "ekv_bench: %d arguments given, one at most is allowed\n%s", argc - 1, usage);
    return 2;
  }
  if (argc == 2 && !parse_count(argv[1], count)) {
    std::fprintf(stderr, "ekv_bench: bad TRANSISTORS '%s': a whole number >= 1 is allowed\n%s", argv[1], usage);
    return 2;
  }
  Instances x(count);
  const EkvParams law = sonos_defaults();
  std::printf("EKV law (I_DS and 3 partials), %zu SONOS transistors in blocks of %zu, best of 15.\n", count, k_block);
  std::printf("ns per evaluation: all instances streamed from memory | one block of %zu in L1\n", k_block);
  std::printf("  %-34s %8s %8s\n", "kernel", "streamed", "in L1");
  report("scalar ekv_current loop", x, law, scalar_block);
  const auto eigen = report("Eigen batch (former kernel)", x, law, eigen_reference::ekv_block);
  const std::string chosen_name = std::string("Highway, dispatched to ") + ekv_batch_target();
  const auto chosen = report(chosen_name.c_str(), x, law, ekv_current_batch);
  for (const EkvSimdTarget& target : ekv_batch_targets())
    report((std::string("Highway, forced to ") + target.name).c_str(), x, law, target.run);
  std::printf("speed-up of the dispatched Highway kernel over the Eigen one: %.1fx streamed, %.1fx in L1\n",
              eigen.first / chosen.first, eigen.second / chosen.second);
  return 0;
}
