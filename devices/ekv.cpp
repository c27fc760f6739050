#include "devices/ekv.hpp"

#include <cmath>

#include <fmt/format.h>

namespace xbar::devices {

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

namespace {

struct InterpolationValue {
  double f;      ///< F(v) = softplus(v/2)^2
  double df_dv;  ///< softplus(v/2) * sigmoid(v/2)
};

/// The softplus argument h = v/2 = (V_P - V_x) / (2 U_T) of one term and e = exp(-|h|), in [0, 1].
struct Half {
  double h, e;
};

Half half(double v_p, double v_x) {
  const double h = (v_p - v_x) * k_half_inverse_thermal_voltage;
  return {h, std::exp(-std::abs(h))};
}

// F and dF/dv share one exp: with h = v/2 and e = exp(-|h|),
//   softplus(h) = max(h,0) + log1p(e),  sigmoid(h) = (h > 0 ? 1 : e) / (1 + e).
// (The two terms' sigmoids could share one division, 1/((1 + e_f)(1 + e_r)), but its two more
// roundings double the batched law's distance from this one where dI/dV_S's terms cancel.)
InterpolationValue interpolation(const Half& x) {
  const double sp = (x.h > 0 ? x.h : 0.0) + std::log1p(x.e);
  const double sig = (x.h > 0 ? 1.0 : x.e) / (1.0 + x.e);
  return {sp * sp, sp * sig};
}

}  // namespace

EkvCurrent ekv_terms(const EkvParams& p, double v_g, double v_d, double v_s, double reverse_sign) {
  // Multiplications by 1/n and 1/U_T rather than divisions (ekv_batch.cpp: the same, in order).
  const double inv_n = 1.0 / p.n, eta_n = p.eta * inv_n;
  const double v_p = (v_g - p.vt + p.eta * (v_d - v_s)) * inv_n;
  const InterpolationValue fwd = interpolation(half(v_p, v_s));
  const InterpolationValue rev = interpolation(half(v_p, v_d));
  // dV_P/dV_G = 1/n, dV_P/dV_D = eta/n, dV_P/dV_S = -eta/n; d(arg)/dV_S = d(arg)/dV_D = -1/U_T.
  const double scale = p.i_s * k_inverse_thermal_voltage;
  const double d_vp = scale * (fwd.df_dv + reverse_sign * rev.df_dv);
  return {
      .i_ds = p.i_s * (fwd.f + reverse_sign * rev.f),
      .di_dvg = d_vp * inv_n,
      .di_dvd = d_vp * eta_n - reverse_sign * scale * rev.df_dv,
      .di_dvs = -d_vp * eta_n - scale * fwd.df_dv,
  };
}

EkvCurrent ekv_current(const EkvParams& p, double v_g, double v_d, double v_s) {
  return ekv_terms(p, v_g, v_d, v_s, -1.0);
}

double select_specific_current(double n, double beta) {
  return 2.0 * n * beta * k_thermal_voltage * k_thermal_voltage;
}

double select_beta(double n, double i_s) { return i_s / (2.0 * n * k_thermal_voltage * k_thermal_voltage); }

EkvParams sonos_defaults() { return {.n = 1.40, .i_s = 250e-9, .eta = 0.04, .vt = 0.0}; }

EkvParams select_defaults() {
  return {.n = 1.30, .i_s = select_specific_current(1.30, k_select_beta), .eta = 0.08, .vt = 0.45};
}

std::string ekv_spice_functions() {
  // ngspice: no ln of non-positive numbers; the three branches of ekvsp agree with log1p-based
  // softplus to < 3e-10 (docs/conventions.md). ekv_h = 1/(2 U_T) turns V_P - V_x into the
  // softplus argument h = v/2 with one multiplication.
  return fmt::format(
      ".param ekv_h={:.17g}\n"
      ".func ekvsp(x) {{x > 30 ? x + exp(-x) : (x < -15 ? exp(x)*(1-0.5*exp(x)) : ln(1+exp(x)))}}\n",
      k_half_inverse_thermal_voltage);
}

// I = I_S [softplus(h_f)^2 - softplus(h_r)^2], h_x = (V_P - V_x) / (2 U_T). ngspice expands each
// .func call textually (and differentiates the expanded tree), so softplus is written once per
// term: `**2` rather than a product of two calls halves the B-source's trees (memory and load
// time). ngspice's ** takes |base|, harmless here: softplus >= 0, and the derivative it builds,
// 2 |s| ds, is then exact too.
std::string ekv_spice_current(const std::string& node_p, const std::string& node_d,
                              const std::string& node_s, double i_s) {
  return fmt::format("{:.17g}*(ekvsp((V({})-V({}))*ekv_h)**2-ekvsp((V({})-V({}))*ekv_h)**2)", i_s,
                     node_p, node_s, node_p, node_d);
}

std::string ekv_spice_pinchoff(const std::string& node_g, const std::string& node_d,
                               const std::string& node_s, const EkvParams& p) {
  return fmt::format("(V({})-({:.17g})+{:.17g}*(V({})-V({})))/{:.17g}", node_g, p.vt, p.eta, node_d,
                     node_s, p.n);
}

}  // namespace xbar::devices
