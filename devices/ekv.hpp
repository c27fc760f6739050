#pragma once
// EKV transistor law, bulk-referenced (bulk = 0 V), as fixed in docs/conventions.md:
//
//   V_P  = (V_G - V_T + eta (V_D - V_S)) / n
//   F(v) = softplus(v/2)^2,        softplus(x) = ln(1 + e^x)
//   I_DS = I_S [ F((V_P - V_S)/U_T) - F((V_P - V_D)/U_T) ]      (drain -> source)
//
// dF/dv = softplus(v/2) sigmoid(v/2). U_T is a fixed constant, never a temperature.
// The SPICE text that computes the same law sits next to the C++ (ekv_spice_*), and a test
// checks one against the other through ngspice.
#include <span>
#include <string>

namespace xbar::devices {

inline constexpr double k_thermal_voltage = 0.025852;  ///< U_T (V), fixed
/// 1/U_T and 1/(2 U_T) (1/V): the law multiplies by them, in the scalar and the batched code alike.
inline constexpr double k_inverse_thermal_voltage = 1.0 / k_thermal_voltage;
inline constexpr double k_half_inverse_thermal_voltage = 0.5 / k_thermal_voltage;
inline constexpr double k_transistor_leak = 1e-15;     ///< G_leak drain-source shunt (S)

struct EkvParams {
  double n = 1.0;     ///< slope factor
  double i_s = 0.0;   ///< specific current (A)
  double eta = 0.0;   ///< DIBL coefficient
  double vt = 0.0;    ///< threshold voltage (V)
};

/// Current and partial derivatives of one transistor at one bias point.
struct EkvCurrent {
  double i_ds;    ///< drain -> source current (A)
  double di_dvg;  ///< dI/dV_G (S)
  double di_dvd;  ///< dI/dV_D (S)
  double di_dvs;  ///< dI/dV_S (S)
};

/// softplus(x) = ln(1 + e^x), exact and overflow-free over all finite x.
double softplus(double x);

/// EKV drain -> source current and its three partial derivatives (no leak shunt).
EkvCurrent ekv_current(const EkvParams& p, double v_g, double v_d, double v_s);

/// I_S [F((V_P - V_S)/U_T) + reverse_sign F((V_P - V_D)/U_T)] and its partials: the EKV current
/// for reverse_sign = -1, the (positive, symmetric) EKV envelope of tabulated devices for +1.
EkvCurrent ekv_terms(const EkvParams& p, double v_g, double v_d, double v_s, double reverse_sign);

/// Terminal voltages of a batch of transistors of one law (V_T per instance), and the results.
struct EkvBatch {
  std::span<const double> vt, v_g, v_d, v_s;  ///< inputs, one per instance
  std::span<double> i_ds, di_dvg, di_dvd, di_dvs;  ///< outputs, as EkvCurrent; di_dvg may be empty (not computed)
  /// I_S/U_T^2 d2F/dv2 at v_f = (V_P - V_S)/U_T and at v_r = (V_P - V_D)/U_T (A/V^2), from which a
  /// second directional derivative of I_DS follows (with dv_f, dv_r the arguments' moves in volts,
  /// d2I = d2i_forward dv_f^2 - d2i_reverse dv_r^2); both empty or both the batch's size. To a
  /// relative accuracy of ~1e-15 per term (a Newton correction's, not the law's own last bit).
  std::span<double> d2i_forward = {}, d2i_reverse = {};
};

/// ekv_current over a batch, vectorised (exp and log1p in SIMD, a few ulp from the scalar law;
/// the same equations, the same roundings elsewhere). Every span has the batch's size, any size,
/// but di_dvg, which may also be empty when the gates are fixed (then not computed).
/// Runs on the best instruction set of ekv_batch_targets(), picked once, at the first call.
void ekv_current_batch(const EkvParams& law, const EkvBatch& batch);

/// One instruction set the batched law is compiled for (ekv_batch.cpp), and its kernel.
struct EkvSimdTarget {
  using Kernel = void(const EkvParams& law, const EkvBatch& batch);
  const char* name;  ///< in Highway's words: AVX3 (AVX-512), AVX2, SSE4, SSSE3, or SCALAR / EMU128 (x86-64)
  Kernel* run;       ///< ekv_current_batch on this instruction set only
};

/// The instruction sets the batched law is compiled for that this CPU runs, best first (the
/// first is the one ekv_current_batch uses; the x86-64 baseline is always last). Detected once.
/// For tests and benchmarks that run the law on each of them: calling the kernel of a target
/// not in this list would be an illegal instruction.
std::span<const EkvSimdTarget> ekv_batch_targets();

/// The instruction set ekv_current_batch runs on: ekv_batch_targets().front().name.
const char* ekv_batch_target();

/// SONOS defaults (docs/conventions.md): n = 1.40, I_S = 250 nA, eta = 0.04 (V_T from the level).
EkvParams sonos_defaults();
/// Select-FET defaults: n = 1.30, I_S = 2 n beta U_T^2 (beta = 200 uA/V^2), eta = 0.08, V_T = 0.45.
EkvParams select_defaults();
/// The select FET's default transconductance parameter beta (A/V^2), from which I_S follows.
inline constexpr double k_select_beta = 200e-6;
/// I_S of the select FET from its transconductance parameter beta (A/V^2).
double select_specific_current(double n, double beta);
/// Its inverse: beta = I_S / (2 n U_T^2), the config's parameter for a fitted I_S.
double select_beta(double n, double i_s);

/// `.param`/`.func` lines defining the law for ngspice: `ekv_h` = 1/(2 U_T) and `ekvsp(x)`
/// (softplus in ngspice's safe form, docs/conventions.md). Emit once per deck.
std::string ekv_spice_functions();

/// B-source current expression for one transistor, given the name of the node that carries
/// V_P (see ekv_spice_pinchoff) and the drain/source node names and I_S.
std::string ekv_spice_current(const std::string& node_p, const std::string& node_d,
                              const std::string& node_s, double i_s);

/// Expression of V_P for the auxiliary pinch-off node (volts). Carrying V_P on its own node keeps
/// the expression tree small: ngspice expands `.func` calls textually, and the naive form
/// repeats V_P's sub-expression 24 times per device (~120 kB each).
std::string ekv_spice_pinchoff(const std::string& node_g, const std::string& node_d,
                               const std::string& node_s, const EkvParams& p);

}  // namespace xbar::devices
