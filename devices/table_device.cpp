#include "devices/table_device.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace xbar::devices {

namespace {

// ---- grid ------------------------------------------------------------------------------------

// Number of whole steps of at most `step` that cover `span` (a hair of slack for rounding), as
// a double: finite however small the step, so that a grid too large is refused, not wrapped.
double intervals(double span, double step) { return std::max(1.0, std::ceil(span / step - 1e-9)); }

std::vector<double> uniform_axis(double first, double h, double count) {
  std::vector<double> axis(static_cast<std::size_t>(count));
  for (std::size_t k = 0; k < axis.size(); ++k) axis[k] = first + static_cast<double>(k) * h;
  return axis;
}

// Gate axis: uniform, with the lowest and highest gate node exactly on it.
struct GateAxis {
  double first, h, count;
};

GateAxis gate_axis(const TableGridSpec& s) {
  std::vector<double> anchors = s.gate_nodes;
  std::sort(anchors.begin(), anchors.end());
  const double anchor = anchors.empty() ? s.vg_lo : anchors.front();
  const double span = anchors.empty() ? 0.0 : anchors.back() - anchor;
  const double h = span > 0 ? span / intervals(span, s.vg_step) : s.vg_step;
  const double steps_below = anchor > s.vg_lo ? intervals(anchor - s.vg_lo, h) : 0;
  const double first = anchor - steps_below * h;
  return {first, h, std::max(4.0, intervals(s.vg_hi - first, h) + 1)};
}

// V_S steps: at least 3, so that V_S has the 4 points a spline axis needs.
double terminal_intervals(const TableGridSpec& s) { return std::max(3.0, intervals(s.v_hi - s.v_lo, s.v_step)); }

// ---- cubic spline along one axis -------------------------------------------------------------

// Right-hand side of the not-a-knot spline's slope equations A m = r(f) (de Boor; MATLAB's
// spline): interior rows h_i m_{i-1} + 2(h_{i-1}+h_i) m_i + h_{i-1} m_{i+1} = 3(h_i d_{i-1} +
// h_{i-1} d_i) with d_i = (f_{i+1}-f_i)/h_i; end rows make the third derivative continuous at
// the second and second-last nodes.
Eigen::VectorXd slope_rhs(const std::vector<double>& x, const Eigen::VectorXd& f) {
  const int n = static_cast<int>(x.size());
  std::vector<double> h(n - 1), d(n - 1);
  for (int i = 0; i + 1 < n; ++i) h[i] = x[i + 1] - x[i], d[i] = (f[i + 1] - f[i]) / h[i];
  Eigen::VectorXd r(n);
  r[0] = ((h[0] + 2 * (h[0] + h[1])) * h[1] * d[0] + h[0] * h[0] * d[1]) / (h[0] + h[1]);
  for (int i = 1; i + 1 < n; ++i) r[i] = 3 * (h[i] * d[i - 1] + h[i - 1] * d[i]);
  r[n - 1] = (h[n - 2] * h[n - 2] * d[n - 3] + (2 * (h[n - 3] + h[n - 2]) + h[n - 2]) * h[n - 3] * d[n - 2]) /
             (h[n - 3] + h[n - 2]);
  return r;
}

Eigen::MatrixXd slope_matrix(const std::vector<double>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<double> h(n - 1);
  for (int i = 0; i + 1 < n; ++i) h[i] = x[i + 1] - x[i];
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
  a(0, 0) = h[1], a(0, 1) = h[0] + h[1];
  for (int i = 1; i + 1 < n; ++i) a(i, i - 1) = h[i], a(i, i) = 2 * (h[i - 1] + h[i]), a(i, i + 1) = h[i - 1];
  a(n - 1, n - 2) = h[n - 3] + h[n - 2], a(n - 1, n - 1) = h[n - 3];
  return a;
}

/// The spline's node slopes as an affine map of the node values f and, on a clamped axis, of
/// the slope m_c given at one node: m = values f + clamp m_c (dense; axes are short).
struct SlopeOperator {
  Eigen::MatrixXd values;
  Eigen::VectorXd clamp;  ///< empty: no node is clamped
  std::ptrdiff_t clamped = -1;
};

/// Not-a-knot spline; with clamped >= 0 that node's equation becomes m_c = given slope.
SlopeOperator spline_operator(const std::vector<double>& x, std::ptrdiff_t clamped = -1) {
  const int n = static_cast<int>(x.size());
  Eigen::MatrixXd a = slope_matrix(x), rhs(n, n);
  for (int k = 0; k < n; ++k) rhs.col(k) = slope_rhs(x, Eigen::VectorXd::Unit(n, k));
  if (clamped >= 0) a.row(clamped) = Eigen::RowVectorXd::Unit(n, clamped), rhs.row(clamped).setZero();
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu = a.partialPivLu();
  SlopeOperator op{lu.solve(rhs), {}, clamped};
  if (clamped >= 0) op.clamp = lu.solve(Eigen::VectorXd::Unit(n, clamped));
  return op;
}

/// The V_DS axis with the measured slope at V_DS = 0: one spline on each side, both clamped to
/// that slope there. A device model is typically only C1 at V_DS = 0 (BSIM4 swaps source and
/// drain there, so d2I/dV_DS2 jumps: the Gummel symmetry test); one spline across the plane
/// smears the jump into an O(h) slope error, i.e. an O(h) relative current error as V_DS -> 0.
/// Split and clamped, each side keeps the spline's accuracy and the slope stays single-valued
/// (C1). Falls back to one spline when 0 is not a node with 4 nodes on each side.
SlopeOperator split_operator(const std::vector<double>& x) {
  const auto zero = std::find_if(x.begin(), x.end(), [](double v) { return std::abs(v) < 1e-12; });
  const std::ptrdiff_t z = zero - x.begin(), n = static_cast<std::ptrdiff_t>(x.size());
  if (zero == x.end() || z < 3 || n - z < 4) return spline_operator(x);
  const SlopeOperator left = spline_operator({x.begin(), zero + 1}, z);
  const SlopeOperator right = spline_operator({zero, x.end()}, 0);
  SlopeOperator op{Eigen::MatrixXd::Zero(n, n), Eigen::VectorXd::Zero(n), z};
  op.values.topLeftCorner(z + 1, z + 1) = left.values;
  op.values.bottomRightCorner(n - z, n - z) = right.values;  // row z: both halves give m_z = m_c
  op.clamp.head(z + 1) = left.clamp;
  op.clamp.tail(n - z) = right.clamp;
  return op;
}

// Applies a slope operator along one axis of a [n0][n1][n2] array: out = S f on every line; a
// clamped axis reads each line's given slope from `slopes` at the line's clamped node.
std::vector<double> differentiate_along(const std::vector<double>& data, const std::array<std::size_t, 3>& dims,
                                        int axis, const SlopeOperator& op, const std::vector<double>& slopes) {
  std::array<std::size_t, 3> stride{dims[1] * dims[2], dims[2], 1};
  std::vector<double> out(data.size());
  const std::size_t n = dims[axis];
  Eigen::VectorXd line(n);
  for (std::size_t base = 0; base < data.size(); ++base) {
    if ((base / stride[axis]) % n != 0) continue;  // visit each line once, from its first node
    for (std::size_t k = 0; k < n; ++k) line[k] = data[base + k * stride[axis]];
    Eigen::VectorXd slope = op.values * line;
    if (op.clamped >= 0) slope += op.clamp * slopes[base + op.clamped * stride[axis]];
    for (std::size_t k = 0; k < n; ++k) out[base + k * stride[axis]] = slope[k];
  }
  return out;
}

// ---- evaluation ------------------------------------------------------------------------------

/// Hermite weights of one axis at x: index 2*corner + order (value, slope) for w, and their
/// x-derivatives for dw. Clamped outside the axis (dw = 0 there).
struct AxisWeights {
  std::size_t cell;
  std::array<double, 4> w, dw;
};

AxisWeights axis_weights(const std::vector<double>& axis, double x) {
  const std::size_t last = axis.size() - 1;
  const bool outside = x < axis.front() || x > axis.back();
  x = std::clamp(x, axis.front(), axis.back());
  const auto above = std::upper_bound(axis.begin(), axis.end(), x);
  const std::size_t i = std::min<std::size_t>(std::max<std::ptrdiff_t>(above - axis.begin() - 1, 0), last - 1);
  const double h = axis[i + 1] - axis[i];
  const double t = (x - axis[i]) / h, t2 = t * t, t3 = t2 * t;
  AxisWeights a{i, {2 * t3 - 3 * t2 + 1, h * (t3 - 2 * t2 + t), -2 * t3 + 3 * t2, h * (t3 - t2)},
                {(6 * t2 - 6 * t) / h, 3 * t2 - 4 * t + 1, (-6 * t2 + 6 * t) / h, 3 * t2 - 2 * t}};
  if (outside) a.dw.fill(0.0);
  return a;
}

void check_axis(const std::vector<double>& axis, const char* name) {
  if (axis.size() < 4)
    throw std::invalid_argument(fmt::format("table device: axis {} has {} points, at least 4 needed", name, axis.size()));
  for (std::size_t k = 0; k < axis.size(); ++k)
    if (!std::isfinite(axis[k]) || (k > 0 && !(axis[k] > axis[k - 1])))
      throw std::invalid_argument(fmt::format("table device: axis {} must be finite and strictly increasing (point {})",
                                              name, k));
}

}  // namespace

std::array<double, 3> table_grid_shape(const TableGridSpec& s) {
  if (!(s.vg_hi > s.vg_lo) || !(s.v_hi > s.v_lo) || !(s.vg_step > 0) || !(s.v_step > 0))
    throw std::invalid_argument("table grid: ranges must be non-empty (lo < hi) and steps > 0");
  const double k = terminal_intervals(s);
  return {gate_axis(s).count, k + 1, 2 * k + 1};
}

TableGrid make_table_grid(const TableGridSpec& s) {
  const std::array<double, 3> shape = table_grid_shape(s);
  const double points = shape[0] * shape[1] * shape[2];
  if (!(std::max({shape[0], shape[1], shape[2]}) <= k_max_table_axis_points) || !(points <= k_max_table_points))
    throw std::invalid_argument(fmt::format("table grid: {:.4g} x {:.4g} x {:.4g} points, at most {} per axis and {} "
                                            "in all",
                                            shape[0], shape[1], shape[2], k_max_table_axis_points, k_max_table_points));
  const GateAxis g = gate_axis(s);
  const double k = terminal_intervals(s), h = (s.v_hi - s.v_lo) / k;
  return {uniform_axis(g.first, g.h, g.count), uniform_axis(s.v_lo, h, k + 1), uniform_axis(-k * h, h, 2 * k + 1)};
}

TransistorCurrent table_envelope(const EkvParams& p, double v_g, double v_d, double v_s) {
  return ekv_terms(p, v_g, v_d, v_s, +1.0);  // E = I_S [F(a) + F(b)]
}

namespace {

/// Q = I/E at every node and, where dI/dV_D was measured, dQ/dV_DS = (dI/dV_D - Q dE/dV_D)/E
/// (at fixed V_S, d/dV_DS = d/dV_D).
struct RatioSamples {
  std::vector<double> q, dq_dvds;
};

RatioSamples ratio_samples(const TableGrid& grid, const TableSamples& samples, const EkvParams& envelope) {
  const bool measured = !samples.di_dvd.empty();
  RatioSamples r{std::vector<double>(grid.size()), std::vector<double>(measured ? grid.size() : 0)};
  for (std::size_t ig = 0; ig < grid.v_g.size(); ++ig)
    for (std::size_t is = 0; is < grid.v_s.size(); ++is)
      for (std::size_t id = 0; id < grid.v_ds.size(); ++id) {
        const std::size_t k = grid.index(ig, is, id);
        const double v_s = grid.v_s[is];
        const TransistorCurrent e = table_envelope(envelope, grid.v_g[ig], v_s + grid.v_ds[id], v_s);
        const double slope = measured ? samples.di_dvd[k] : 0.0;
        if (!std::isfinite(samples.i_ds[k]) || !std::isfinite(slope) || !(e.i_ds > 0) || !std::isfinite(e.i_ds))
          throw std::invalid_argument(fmt::format(
              "table device: at V_G = {} V, V_S = {} V, V_DS = {} V the sample ({} A, {} S) is not finite or "
              "the envelope ({} A) is not positive",
              grid.v_g[ig], v_s, grid.v_ds[id], samples.i_ds[k], slope, e.i_ds));
        r.q[k] = samples.i_ds[k] / e.i_ds;
        if (measured) r.dq_dvds[k] = (slope - r.q[k] * e.di_dvd) / e.i_ds;
      }
  return r;
}

}  // namespace

TableDevice::TableDevice(const TableSamples& samples, EkvParams envelope)
    : grid_(samples.grid), i_ds_(samples.i_ds), envelope_(envelope) {
  check_axis(grid_.v_g, "v_g");
  check_axis(grid_.v_s, "v_s");
  check_axis(grid_.v_ds, "v_ds");
  for (const std::vector<double>* data : {&samples.i_ds, &samples.di_dvd})
    if (data->size() != grid_.size() && !(data == &samples.di_dvd && data->empty()))
      throw std::invalid_argument(
          fmt::format("table device: {} samples for a grid of {} nodes", data->size(), grid_.size()));
  RatioSamples ratio = ratio_samples(grid_, samples, envelope_);
  // Partials of the tensor spline at the nodes: apply each axis's slope operator in turn, V_DS
  // first (its operator alone uses measured data), then V_S, then V_G.
  const std::array<std::size_t, 3> dims{grid_.v_g.size(), grid_.v_s.size(), grid_.v_ds.size()};
  const std::array<SlopeOperator, 3> slope{spline_operator(grid_.v_g), spline_operator(grid_.v_s),
                                           ratio.dq_dvds.empty() ? spline_operator(grid_.v_ds)
                                                                 : split_operator(grid_.v_ds)};
  std::array<std::vector<double>, 8> partial;
  partial[0] = std::move(ratio.q);
  for (int mask = 1; mask < 8; ++mask) {
    const int axis = mask & 1 ? 0 : (mask & 2 ? 1 : 2);  // lowest differentiated axis
    partial[mask] = differentiate_along(partial[mask & ~(1 << axis)], dims, axis, slope[axis], ratio.dq_dvds);
  }
  nodes_.resize(grid_.size());
  for (std::size_t k = 0; k < nodes_.size(); ++k)
    for (int mask = 0; mask < 8; ++mask) nodes_[k][mask] = partial[mask][k];
}

bool TableDevice::covers(double v_g, double v_d, double v_s) const {
  const double v_ds = v_d - v_s;
  auto inside = [](const std::vector<double>& axis, double x) { return x >= axis.front() && x <= axis.back(); };
  return inside(grid_.v_g, v_g) && inside(grid_.v_s, v_s) && inside(grid_.v_ds, v_ds);
}

TransistorCurrent TableDevice::current(double v_g, double v_d, double v_s) const {
  const AxisWeights g = axis_weights(grid_.v_g, v_g);
  const AxisWeights s = axis_weights(grid_.v_s, v_s);
  const AxisWeights d = axis_weights(grid_.v_ds, v_d - v_s);
  // Contract the 4x4x4 Hermite coefficients (corner, order per axis) one axis at a time:
  // V_DS first (u, u_ds), then V_S (v, v_s, v_ds), then V_G.
  double q = 0, q_g = 0, q_s = 0, q_ds = 0;
  for (int a = 0; a < 4; ++a) {
    double v = 0, v_s = 0, v_ds = 0;
    for (int b = 0; b < 4; ++b) {
      double u = 0, u_ds = 0;
      for (int c = 0; c < 4; ++c) {
        const std::size_t node = grid_.index(g.cell + (a >> 1), s.cell + (b >> 1), d.cell + (c >> 1));
        const double coefficient = nodes_[node][(a & 1) | (b & 1) << 1 | (c & 1) << 2];
        u += coefficient * d.w[c];
        u_ds += coefficient * d.dw[c];
      }
      v += u * s.w[b];
      v_s += u * s.dw[b];
      v_ds += u_ds * s.w[b];
    }
    q += v * g.w[a];
    q_g += v * g.dw[a];
    q_s += v_s * g.w[a];
    q_ds += v_ds * g.w[a];
  }
  const TransistorCurrent e = table_envelope(envelope_, v_g, v_d, v_s);
  return {.i_ds = e.i_ds * q,
          .di_dvg = e.di_dvg * q + e.i_ds * q_g,
          .di_dvd = e.di_dvd * q + e.i_ds * q_ds,
          .di_dvs = e.di_dvs * q + e.i_ds * (q_s - q_ds)};
}

}  // namespace xbar::devices
