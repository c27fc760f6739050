// ekv_current_batch: the EKV law of ekv.cpp over arrays of transistors, in SIMD (Google
// Highway), the same equations with the same roundings outside exp and log1p:
//
//   V_P  = (V_G - V_T + eta (V_D - V_S)) / n
//   v_f  = (V_P - V_S) / U_T,   v_r = (V_P - V_D) / U_T
//   F(v) = softplus(v/2)^2,     dF/dv = softplus(v/2) sigmoid(v/2)
//   I_DS = I_S [F(v_f) - F(v_r)]
//   dI/dV_G = D / n,  dI/dV_D = D eta / n + (I_S/U_T) F'(v_r),  dI/dV_S = -D eta / n - (I_S/U_T) F'(v_f)
//   with D = (I_S/U_T) [F'(v_f) - F'(v_r)].
//
// softplus and sigmoid share one exponential that never overflows: with h = v/2, e = exp(-|h|),
//   softplus(h) = max(h, 0) + log1p(e),   sigmoid(h) = (h > 0 ? 1 : e) / (1 + e).
// As in ekv.cpp, every division but the sigmoids' is a multiplication by a reciprocal computed once per
// batch: 1/n, eta/n, I_S/U_T and 1/(2 U_T), the last one folding the halving of v into it.
// Callers whose gates are fixed (the grid Newton) pass no dI/dV_G and do not pay for it.
//
// This file is compiled once per instruction set: AVX-512 (Highway's AVX3), AVX2, SSE4, SSSE3 and
// the x86-64 baseline (SSE2; Highway's one-lane SCALAR target under GCC < 12.3, EMU128 otherwise).
// Highway's foreach_target.h includes it again for each, every function lands in a namespace of
// its own (no inline function is shared between instruction sets, no -mavx2 on the command
// line). Only Highway's headers are used: the choice among the variants is ours (the end of the
// file), not HWY_DYNAMIC_DISPATCH, which needs libhwy.so, whose load-time initialiser alone
// (a timer calibration) costs a few ms of every xbar run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "devices/ekv.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "devices/ekv_batch.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace xbar::devices::HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<double>;
using V = hn::Vec<D>;

struct InterpolationLanes {
  V f;        ///< F(v) = softplus(v/2)^2
  V df_dv;    ///< softplus(v/2) sigmoid(v/2)
  V d2f_dv2;  ///< (sigmoid^2 + softplus sigmoid (1 - sigmoid)) / 2, where asked for (else unset)
};

// log1p(e) for 0 <= e <= 2^-8 in every lane: e (1 - e/2 + e^2/3 - ... + e^6/7), whose first
// omitted term is below 2^-59 of the sum (under half an ulp), for a fraction of Log1p's cost.
// Devices far from threshold, off or fully on (every select FET of a crossbar), take this path.
constexpr double k_series_limit = 1.0 / 256;
HWY_INLINE V log1p_small(D d, V e) {
  V sum = hn::Set(d, 1.0 / 7);
  for (double k : {6.0, 5.0, 4.0, 3.0, 2.0, 1.0})
    sum = hn::NegMulAdd(e, sum, hn::Set(d, 1.0 / k));  // 1/k - e sum
  return hn::Mul(e, sum);
}

// The integer v from v + shifter, v an integer and shifter 2^52 or 1.5 * 2^52 (so that the sum
// holds v in its low mantissa bits): the two bit patterns' difference.
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> shifted_integer(D d, V v_plus_shifter, V shifter) {
  const hn::RebindToSigned<D> di;
  return hn::Sub(hn::BitCast(di, v_plus_shifter), hn::BitCast(di, shifter));
}

// log1p(e) for 0 <= e <= 1 in every lane, without Log1p's two divisions: with k = round(8 e)
// (at most 7), 1 + e = c_k (1 + r), c_k = 1 + k/8, r = (e - k/8) / c_k, |r| <= 1/15, and
//   log1p(e) = log(c_k) + log1p(r),   log1p(r) = r (1 - r/2 + r^2/3 - ... + r^12/13),
// whose first omitted term is below 2^-54 of |r|. e - k/8 is exact (e and k/8 are within a factor
// of 2, or k = 0), r within an ulp; log(c_k) and 1/c_k (correctly rounded) are tables of 8,
// looked up lanewise: one vector of 8 lanes (AVX-512). Narrower vectors take Log1p (on AVX2, two
// tables of 4 and a select measured no faster).
HWY_INLINE V log1p_unit(D d, V e) {
  if constexpr (hn::MaxLanes(D()) == 8) {
    alignas(64) static constexpr double k_log_c[8] = {0.0,
                                                      0.11778303565638346,
                                                      0.22314355131420976,
                                                      0.3184537311185346,
                                                      0.4054651081081644,
                                                      0.4855078157817008,
                                                      0.5596157879354227,
                                                      0.6286086594223741};
    alignas(64) static constexpr double k_inv_c[8] = {1.0,
                                                      0.8888888888888888,
                                                      0.8,
                                                      0.7272727272727273,
                                                      0.6666666666666666,
                                                      0.6153846153846154,
                                                      0.5714285714285714,
                                                      0.5333333333333333};
    const V k = hn::Min(hn::Floor(hn::MulAdd(e, hn::Set(d, 8.0), hn::Set(d, 0.5))), hn::Set(d, 7.0));
    // k as an integer: 2^52 + k holds k in its low bits (cheaper than a conversion). A NaN e gives
    // k = 7, an index in the table (AVX-512's min returns its second operand where the first is
    // NaN); interpolation() makes that lane's outputs NaN.
    const V shifter = hn::Set(d, 0x1p52);
    const auto index = hn::IndicesFromVec(d, shifted_integer(d, hn::Add(k, shifter), shifter));
    auto table = [&](const double* values) { return hn::TableLookupLanes(hn::Load(d, values), index); };
    const V r = hn::Mul(hn::NegMulAdd(k, hn::Set(d, 0.125), e), table(k_inv_c));
    V sum = hn::Set(d, 1.0 / 13);
    for (double n : {12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0})
      sum = hn::NegMulAdd(r, sum, hn::Set(d, 1.0 / n));  // 1/n - r sum
    return hn::MulAdd(r, sum, table(k_log_c));
  } else {
    return hn::Log1p(d, e);
  }
}

// e^x for x <= 0 in every lane: Highway's Exp (its reduction and polynomial), without its trips
// through 32-bit integers. n = round(x / ln 2) comes from the 1.5 * 2^52 shifter (whose low bits
// then hold n), r = x - n ln 2 in two parts, 2^n is written into the exponent bits, and
// e^x = 2^n + 2^n expm1(r). Below -708, where 2^n would be subnormal, it gives 0 (Exp: 0 below
// -1000); the law's outputs from there underflow either way. A NaN stays NaN.
// On AVX-512, n = round(8 x / ln 2) instead, and 2^(n/8) = 2^floor(n/8) 2^(j/8), j = n mod 8, from a
// table of one vector (correctly rounded, looked up lanewise, with a second one of its rounding
// errors, added to expm1): |r| <= ln 2 / 16, where expm1 needs terms to r^8 only (the first
// omitted, r^9/9!, below 2^-58).
HWY_INLINE V exp_nonpositive(D d, V x) {
  const hn::RebindToSigned<D> di;
  const V shifter = hn::Set(d, 0x1.8p52);
  if constexpr (hn::MaxLanes(D()) == 8) {
    alignas(64) static constexpr double k_pow2_eighths[8] = {1.0,
                                                             1.0905077326652577,
                                                             1.189207115002721,
                                                             1.2968395546510096,
                                                             1.4142135623730951,
                                                             1.5422108254079407,
                                                             1.681792830507429,
                                                             1.8340080864093424};
    alignas(64) static constexpr double k_pow2_eighths_error[8] = {0.0,  // (2^(j/8) - the table's) / the table's
                                                                   -2.7939114859515733e-17,
                                                                   3.3484623336251524e-17,
                                                                   1.9572585293112036e-17,
                                                                   -6.835808657661922e-17,
                                                                   5.1548301170786783e-17,
                                                                   4.875160526227062e-17,
                                                                   1.790126907604513e-17};
    const V kk = hn::MulAdd(x, hn::Set(d, 11.541560327111707), shifter);  // 8 / ln 2
    const V n = hn::Sub(kk, shifter);
    V r = hn::MulAdd(n, hn::Set(d, -0.08664339756999316), x);  // ln 2 / 8 in two parts
    r = hn::MulAdd(n, hn::Set(d, -2.8988085173078744e-18), r);
    const auto n_bits = shifted_integer(d, kk, shifter);
    const auto j = hn::IndicesFromVec(d, hn::And(n_bits, hn::Set(di, 7)));
    const V eighths = hn::TableLookupLanes(hn::Load(d, k_pow2_eighths), j);
    const V scale = hn::BitCast(d, hn::Add(hn::BitCast(di, eighths), hn::ShiftLeft<52>(hn::ShiftRight<3>(n_bits))));
    // expm1(r) = r + r^2 (1/2! + r/3! + ... + r^6/8!), by Estrin's scheme.
    const V r2 = hn::Mul(r, r), r4 = hn::Mul(r2, r2);
    auto pair = [&](double a, double b) { return hn::MulAdd(hn::Set(d, b), r, hn::Set(d, a)); };  // a + b r
    const V low = hn::MulAdd(pair(1.0 / 24, 1.0 / 120), r2, pair(0.5, 1.0 / 6));
    const V high = hn::MulAdd(hn::Set(d, 1.0 / 40320), r2, pair(1.0 / 720, 1.0 / 5040));
    const V expm1 = hn::MulAdd(hn::MulAdd(high, r4, low), r2,
                               hn::Add(r, hn::TableLookupLanes(hn::Load(d, k_pow2_eighths_error), j)));
    return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -708.0)), hn::MulAdd(scale, expm1, scale));
  }
  const V k = hn::MulAdd(x, hn::Set(d, 1.442695040888963407359924681), shifter);
  const V n = hn::Sub(k, shifter);
  V r = hn::MulAdd(n, hn::Set(d, -0.6931471805596629565116018), x);  // ln 2 in two parts, as Exp
  r = hn::MulAdd(n, hn::Set(d, -0.28235290563031577122588448175e-12), r);
  const V expm1 = hn::impl::ExpImpl<double>().ExpPoly(d, r);
  const auto n_bits = shifted_integer(d, k, shifter);  // n, exactly
  const V scale = hn::BitCast(d, hn::ShiftLeft<52>(hn::Add(n_bits, hn::Set(di, 1023))));
  return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -708.0)), hn::MulAdd(scale, expm1, scale));
}

// The argument of F's softplus and sigmoid: h = v/2 = (V_P - V_x) / (2 U_T) and e = exp(-|h|), in [0, 1].
struct Halves {
  V h, e;
};
HWY_INLINE Halves halves(D d, V v_p, V v_x) {
  const V h = hn::Mul(hn::Sub(v_p, v_x), hn::Set(d, k_half_inverse_thermal_voltage));
  return {h, exp_nonpositive(d, hn::Neg(hn::Abs(h)))};
}

// F and dF/dv lanewise, as interpolation() in ekv.cpp; small: every e <= k_series_limit.
// SecondToo: also d2F/dv2.
template <bool SecondToo>
HWY_INLINE InterpolationLanes interpolation(D d, const Halves& x, bool small) {
  const V one = hn::Set(d, 1.0);
  const V h = x.h, e = x.e;
  const auto positive = hn::Gt(h, hn::Zero(d));
  const V softplus = hn::Add(hn::IfThenElseZero(positive, h), small ? log1p_small(d, e) : log1p_unit(d, e));
  const V sigmoid = hn::Div(hn::IfThenElse(positive, one, e), hn::Add(one, e));
  // A NaN bias must give a NaN current, as the scalar law does: the lanes take h itself, whatever
  // the selects and Log1p's bit operations above made of it.
  const auto nan = hn::IsNaN(h);
  InterpolationLanes out{hn::IfThenElse(nan, h, hn::Mul(softplus, softplus)),
                         hn::IfThenElse(nan, h, hn::Mul(softplus, sigmoid)), hn::Zero(d)};
  if constexpr (SecondToo) {  // a Newton correction's term: sigmoid (1 - sigmoid) needs no care
    const V curvature = hn::Mul(softplus, hn::Mul(sigmoid, hn::Sub(one, sigmoid)));
    out.d2f_dv2 = hn::IfThenElse(nan, h, hn::Mul(hn::Set(d, 0.5), hn::Add(hn::Mul(sigmoid, sigmoid), curvature)));
  }
  return out;
}

/// The law's constants, computed once per batch as ekv_terms computes them.
struct Law {
  double inv_n, eta, eta_n, i_s, scale, curvature;
  explicit Law(const EkvParams& p)
      : inv_n(1.0 / p.n), eta(p.eta), eta_n(p.eta * inv_n), i_s(p.i_s), scale(p.i_s * k_inverse_thermal_voltage),
        curvature(scale * k_inverse_thermal_voltage) {}
};

struct Terminals {
  V vt, v_g, v_d, v_s;
};
struct Currents {
  V i_ds, di_dvg, di_dvd, di_dvs;
  V d2i_forward, d2i_reverse;  ///< I_S/U_T^2 d2F/dv2 at v_f and v_r (SecondToo)
};

// The law on one vector of instances, operation for operation as ekv_terms(.., -1) (no FMA:
// this file is compiled with -ffp-contract=off). GateToo: also dI/dV_G; SecondToo: also the
// terms' second derivatives.
template <bool GateToo, bool SecondToo>
HWY_INLINE Currents ekv_lanes(D d, const Law& law, const Terminals& t) {
  const V inv_n = hn::Set(d, law.inv_n), eta = hn::Set(d, law.eta), eta_n = hn::Set(d, law.eta_n);
  const V i_s = hn::Set(d, law.i_s), scale = hn::Set(d, law.scale);
  const V v_p = hn::Mul(hn::Add(hn::Sub(t.v_g, t.vt), hn::Mul(eta, hn::Sub(t.v_d, t.v_s))), inv_n);
  const Halves h_f = halves(d, v_p, t.v_s), h_r = halves(d, v_p, t.v_d);
  // One log1p for both terms of every lane, so that V_D = V_S gives F(v_f) - F(v_r) = 0 exactly.
  const V limit = hn::Set(d, k_series_limit);
  const bool small = hn::AllTrue(d, hn::And(hn::Le(h_f.e, limit), hn::Le(h_r.e, limit)));
  const InterpolationLanes fwd = interpolation<SecondToo>(d, h_f, small);
  const InterpolationLanes rev = interpolation<SecondToo>(d, h_r, small);
  const V d_vp = hn::Mul(scale, hn::Sub(fwd.df_dv, rev.df_dv));
  const V d_dibl = hn::Mul(d_vp, eta_n);  // (-D) (eta/n) = -(D (eta/n)) exactly
  return {
      .i_ds = hn::Mul(i_s, hn::Sub(fwd.f, rev.f)),
      .di_dvg = GateToo ? hn::Mul(d_vp, inv_n) : hn::Zero(d),
      .di_dvd = hn::Add(d_dibl, hn::Mul(scale, rev.df_dv)),
      .di_dvs = hn::Sub(hn::Neg(d_dibl), hn::Mul(scale, fwd.df_dv)),
      .d2i_forward = SecondToo ? hn::Mul(hn::Set(d, law.curvature), fwd.d2f_dv2) : hn::Zero(d),
      .d2i_reverse = SecondToo ? hn::Mul(hn::Set(d, law.curvature), rev.d2f_dv2) : hn::Zero(d),
  };
}

/// Pointers to one vector's worth of instances: inputs vt, v_g, v_d, v_s and outputs as EkvCurrent
/// (out[1], dI/dV_G, unused unless GateToo).
struct Lanes {
  const double* in[4];
  double* out[6];
};

template <bool GateToo, bool SecondToo>
HWY_INLINE void ekv_vector(D d, const Law& law, const Lanes& at) {
  const Currents c = ekv_lanes<GateToo, SecondToo>(d, law, {hn::LoadU(d, at.in[0]), hn::LoadU(d, at.in[1]),
                                                            hn::LoadU(d, at.in[2]), hn::LoadU(d, at.in[3])});
  hn::StoreU(c.i_ds, d, at.out[0]);
  if constexpr (GateToo) hn::StoreU(c.di_dvg, d, at.out[1]);
  hn::StoreU(c.di_dvd, d, at.out[2]);
  hn::StoreU(c.di_dvs, d, at.out[3]);
  if constexpr (SecondToo) hn::StoreU(c.d2i_forward, d, at.out[4]), hn::StoreU(c.d2i_reverse, d, at.out[5]);
}

// The last count < Lanes(d) instances, through a zero-padded local vector (no load or store
// past the caller's arrays; a zero bias is finite).
template <bool GateToo, bool SecondToo>
void ekv_tail(D d, const Law& law, const Lanes& at, std::size_t count) {
  constexpr std::size_t k_max = hn::MaxLanes(D());
  double in[4][k_max] = {}, out[6][k_max];
  for (int a = 0; a < 4; ++a) std::copy_n(at.in[a], count, in[a]);
  ekv_vector<GateToo, SecondToo>(d, law, {{in[0], in[1], in[2], in[3]}, {out[0], out[1], out[2], out[3], out[4], out[5]}});
  for (int a = 0; a < 6; ++a)
    if (at.out[a]) std::copy_n(out[a], count, at.out[a]);
}

template <bool GateToo, bool SecondToo>
void ekv_all(const EkvParams& p, const EkvBatch& b) {
  const D d;
  const Law law(p);  // in registers: the outputs' stores cannot alias it, unlike p
  const std::size_t lanes = hn::Lanes(d), count = b.vt.size();
  auto at = [&](std::size_t k) {
    return Lanes{{b.vt.data() + k, b.v_g.data() + k, b.v_d.data() + k, b.v_s.data() + k},
                 {b.i_ds.data() + k, GateToo ? b.di_dvg.data() + k : nullptr, b.di_dvd.data() + k,
                  b.di_dvs.data() + k, SecondToo ? b.d2i_forward.data() + k : nullptr,
                  SecondToo ? b.d2i_reverse.data() + k : nullptr}};
  };
  std::size_t k = 0;
  for (; k + lanes <= count; k += lanes) ekv_vector<GateToo, SecondToo>(d, law, at(k));
  if (k < count) ekv_tail<GateToo, SecondToo>(d, law, at(k), count - k);
}

}  // namespace

void EkvCurrentBatch(const EkvParams& p, const EkvBatch& b) {
  const bool gate = !b.di_dvg.empty(), second = !b.d2i_forward.empty();
  if (gate && second) ekv_all<true, true>(p, b);
  else if (gate) ekv_all<true, false>(p, b);
  else if (second) ekv_all<false, true>(p, b);
  else ekv_all<false, false>(p, b);
}

}  // namespace xbar::devices::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace xbar::devices {
namespace {

// A variant runs where the CPU has every extension its code is compiled with: Highway's
// HWY_TARGET_STR_* of hwy/ops/set_macros-inl.h (1.0.3), each target including the one below it.
// libgcc's __builtin_cpu_supports also checks that the OS saves the AVX and AVX-512 registers
// (XCR0), as Highway's own detection does.
[[maybe_unused]] bool cpu_has_ssse3() { return __builtin_cpu_supports("sse2") && __builtin_cpu_supports("ssse3"); }
[[maybe_unused]] bool cpu_has_sse4() {
  return cpu_has_ssse3() && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
         __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("aes");
}
[[maybe_unused]] bool cpu_has_avx2() {
  return cpu_has_sse4() && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
[[maybe_unused]] bool cpu_has_avx3() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

// The variants compiled in (HWY_TARGETS) that this CPU runs, best first; the baseline (the
// static target, plain x86-64) always runs. Detected once, thread-safely (function-local static).
std::vector<EkvSimdTarget> detect_targets() {
  __builtin_cpu_init();  // harmless if libgcc's constructor already ran; needed if it did not yet
  std::vector<EkvSimdTarget> targets;
  std::int64_t listed = 0;  // Highway's bits of the targets in the list
  auto add_if = [&](bool supported, std::int64_t target, EkvSimdTarget::Kernel* run) {
    if (!supported) return;
    targets.push_back({hwy::TargetName(target), run});
    listed |= target;
  };
#if HWY_TARGETS & HWY_AVX3
  add_if(cpu_has_avx3(), HWY_AVX3, &N_AVX3::EkvCurrentBatch);
#endif
#if HWY_TARGETS & HWY_AVX2
  add_if(cpu_has_avx2(), HWY_AVX2, &N_AVX2::EkvCurrentBatch);
#endif
#if HWY_TARGETS & HWY_SSE4
  add_if(cpu_has_sse4(), HWY_SSE4, &N_SSE4::EkvCurrentBatch);
#endif
#if HWY_TARGETS & HWY_SSSE3
  add_if(cpu_has_ssse3(), HWY_SSSE3, &N_SSSE3::EkvCurrentBatch);
#endif
  // The static target is the best one the compiler may assume everywhere: it needs no check.
  // Under -march=x86-64-v2 and up it is one of the above, and already listed.
  if ((listed & HWY_STATIC_TARGET) == 0)
    add_if(true, HWY_STATIC_TARGET, &HWY_STATIC_DISPATCH(EkvCurrentBatch));
  return targets;
}

}  // namespace

std::span<const EkvSimdTarget> ekv_batch_targets() {
  static const std::vector<EkvSimdTarget> targets = detect_targets();
  return targets;
}

void ekv_current_batch(const EkvParams& law, const EkvBatch& batch) {
  static EkvSimdTarget::Kernel* const best = ekv_batch_targets().front().run;
  best(law, batch);
}

const char* ekv_batch_target() { return ekv_batch_targets().front().name; }

}  // namespace xbar::devices
#endif
