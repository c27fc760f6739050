#pragma once
// A transistor law given as a table (from `xbar characterize`, which runs the user's SPICE model
// card over a grid of terminal voltages), bulk at 0 V like every device of xbar.
//
// The grid is a box in the coordinates (V_G, V_S, V_DS), V_DS = V_D - V_S: the plane V_DS = 0,
// where a channel current changes sign, is a grid plane, so the interpolant vanishes exactly
// there when the data do and its relative error stays bounded as V_DS -> 0.
//
// The current is factored into an analytic envelope and a smooth ratio:
//
//   I(V_G, V_D, V_S) = E(V_G, V_D, V_S) * Q(V_G, V_S, V_DS)
//   E = I_S [F(a) + F(b)],  a = (V_P - V_S)/U_T,  b = (V_P - V_D)/U_T,
//   V_P = (V_G - V_T + eta V_DS)/n,  F(v) = softplus(v/2)^2       (EKV parameters of the envelope)
//
// E > 0 carries the exponential dependence on all three voltages (e^{V_G/(n U_T)},
// e^{-V_S/U_T}); Q = I/E is then of order one (tanh(V_DS/2U_T) in weak inversion) and varies
// slowly, and Q is what gets interpolated: a tensor-product cubic spline (not-a-knot ends, C2)
// through q_ijk = I_ijk / E(node_ijk), evaluated in tricubic Hermite form from the node values
// and their spline partials dQ/dx, d2Q/dxdy, d3Q/dxdydz. Along V_DS the spline is split at 0
// and clamped there to the measured slope dI/dV_D (when given): it is C1 everywhere, C2 except
// across V_DS = 0, where device models themselves are usually only C1. The envelope's parameters need not fit
// the device: any smooth positive E gives an exact interpolant at the nodes; a good one makes Q
// flatter and the table more accurate between them.
//
// Derivatives are those of the interpolant itself (consistent with the current, so Newton sees
// the law it solves):
//   dI/dV_G = E_G Q + E Q_G,   dI/dV_D = E_D Q + E Q_DS,   dI/dV_S = E_S Q + E (Q_S - Q_DS)
// Outside the box Q's coordinates are clamped to the box (Q constant along the outward normal,
// so continuous) while E extrapolates analytically.
#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "devices/ekv.hpp"
#include "devices/model_card.hpp"

namespace xbar::devices {

/// Current and partials of a transistor (same fields as the EKV law's).
using TransistorCurrent = EkvCurrent;

/// Grid axes (V), each strictly increasing with at least 4 points. Samples are stored
/// row-major [n_g][n_s][n_ds], V_G slowest.
struct TableGrid {
  std::vector<double> v_g, v_s, v_ds;

  std::size_t size() const { return v_g.size() * v_s.size() * v_ds.size(); }
  std::size_t index(std::size_t ig, std::size_t is, std::size_t ids) const {
    return (ig * v_s.size() + is) * v_ds.size() + ids;
  }
};

/// What `xbar characterize` measures: the drain current at every grid node and, when fd_step > 0,
/// its partials by central differences of that step (all row-major as in TableGrid).
struct TableSamples {
  TableGrid grid;
  std::vector<double> i_ds;                  ///< A, current into the drain terminal
  std::vector<double> di_dvg, di_dvd, di_dvs;  ///< S; empty when fd_step = 0
  double fd_step = 0;                        ///< V
};

/// What a default grid must cover: V_G in [vg_lo, vg_hi] with the gate voltages `gate_nodes`
/// (v_off, v_on) as exact nodes, V_S in [v_lo, v_hi], and every V_D in [v_lo, v_hi], i.e.
/// V_DS in [-(v_hi - v_lo), v_hi - v_lo]. Steps are upper bounds (V).
struct TableGridSpec {
  double vg_lo = -0.1, vg_hi = 1.2, vg_step = 0.02;
  double v_lo = -0.05, v_hi = 0.15, v_step = 0.0075;
  std::vector<double> gate_nodes;
};

/// Uniform axes for the spec: V_G spaced so that every gate node is a node (uniform between the
/// lowest and highest gate node, extended by whole steps); V_S from v_lo to v_hi; V_DS symmetric
/// about 0 with the V_S step, so that V_D = V_S + V_DS lies on the V_S lattice.
/// Refuses (std::invalid_argument) a grid of more than k_max_table_axis_points on an axis or
/// k_max_table_points in all: the spline of an axis is set up densely (n^2), ngspice runs every point.
TableGrid make_table_grid(const TableGridSpec& spec);
inline constexpr double k_max_table_axis_points = 2001, k_max_table_points = 4e6;

/// The points on each axis of make_table_grid(spec), (n_g, n_s, n_ds), computed without building
/// it (finite however fine the steps): a caller can refuse a grid too large in its own words.
std::array<double, 3> table_grid_shape(const TableGridSpec& spec);

/// The envelope E and its partials (see the header comment).
TransistorCurrent table_envelope(const EkvParams& envelope, double v_g, double v_d, double v_s);

class TableDevice {
 public:
  /// From the samples of `xbar characterize`: i_ds at every node and, if present, di_dvd, whose
  /// values at V_DS = 0 give the V_DS slope there (see split_operator in the .cpp: device models
  /// are often only C1 across V_DS = 0, and the table then splits its V_DS spline at 0).
  /// Throws std::invalid_argument on bad axes, a size mismatch, non-finite samples, or an
  /// envelope that is not positive and finite at every node.
  TableDevice(const TableSamples& samples, EkvParams envelope);

  /// Drain -> source current and its partials (no leak shunt).
  TransistorCurrent current(double v_g, double v_d, double v_s) const;
  /// Whether the bias point lies inside the grid box (where the table interpolates).
  bool covers(double v_g, double v_d, double v_s) const;

  const TableGrid& grid() const { return grid_; }
  const std::vector<double>& samples() const { return i_ds_; }
  const EkvParams& envelope() const { return envelope_; }

 private:
  /// Q and its spline partials at one node, indexed by a bit mask of the differentiated axes:
  /// bit 0 = V_G, bit 1 = V_S, bit 2 = V_DS (so [0] = Q, [7] = d3Q/dV_G dV_S dV_DS).
  using NodePartials = std::array<double, 8>;

  TableGrid grid_;
  std::vector<double> i_ds_;
  EkvParams envelope_;
  std::vector<NodePartials> nodes_;
};

/// A tabulated transistor as a whole: the law, and the card it came from (so that SPICE decks
/// instantiate the original model and a cross-check measures the tabulation error).
struct TabulatedTransistor {
  ModelCard card;
  TableDevice law;
};

}  // namespace xbar::devices
