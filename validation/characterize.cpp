#include "validation/characterize.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <span>
#include <random>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "netlists/spice_deck.hpp"
#include "validation/ngspice_session.hpp"

namespace xbar::validation {

namespace {

// Offsets of one instance from its grid point (V); the drain offset is relative to V_S + V_DS
// of the grid point, so a source offset keeps V_D where it was.
struct Variant {
  double gate, drain, source;
};

// base, then +/- delta on V_G, V_D, V_S: partial x is (I[2x+1] - I[2x+2]) / (2 delta).
std::vector<Variant> variants(double delta) {
  if (delta <= 0) return {{0, 0, 0}};
  return {{0, 0, 0}, {delta, 0, 0}, {-delta, 0, 0}, {0, delta, 0}, {0, -delta, 0}, {0, 0, delta}, {0, 0, -delta}};
}

std::string tag(std::size_t variant) { return fmt::format("xc{}", variant); }

// Step of a uniform axis, after checking that it is uniform (the deck applies first + h k).
double uniform_step(const std::vector<double>& axis, const char* name) {
  if (axis.size() < 2) return 0.0;
  const double h = (axis.back() - axis.front()) / static_cast<double>(axis.size() - 1);
  for (std::size_t k = 0; k < axis.size(); ++k)
    if (std::abs(axis[k] - (axis.front() + h * k)) > 1e-12)
      throw std::invalid_argument(fmt::format("characterize: the {} axis is not uniform", name));
  return h;
}

// Integer counter sources, lower case (ngspice matches command arguments as typed): `vkds`
// counts V_DS nodes, `vko` counts (V_S node, V_G node) pairs, k_o = n_g k_s + k_g. Nodes xcds,
// xcg, xcs carry the grid voltages; floor() of an integer quotient is exact.
std::string swept_voltages(const devices::TableGrid& grid) {
  const double h_ds = uniform_step(grid.v_ds, "V_DS"), h_g = uniform_step(grid.v_g, "V_G"),
               h_s = uniform_step(grid.v_s, "V_S");
  const std::size_t n_g = grid.v_g.size();
  return fmt::format("VKds xckds 0 DC 0\nEds xcxds 0 xckds 0 {0:.17g}\nV0ds xcds xcxds DC {1:.17g}\n"
                     "VKo xcko 0 DC 0\n"
                     "Bg xcg 0 V={2:.17g}+{3:.17g}*(v(xcko)-{4}*floor(v(xcko)/{4}))\n"
                     "Bs xcs 0 V={5:.17g}+{6:.17g}*floor(v(xcko)/{4})\n",
                     h_ds, grid.v_ds.front(), grid.v_g.front(), h_g, n_g, grid.v_s.front(), h_s);
}

// One instance at the grid point plus the variant's offsets: V_S = xcs + source offset,
// V_D = V_S + V_DS + (drain - source offset) through the ammeter VA<tag>.
std::string instance_lines(const devices::ModelCard& card, const std::string& t, const Variant& o) {
  std::string out = fmt::format("ES{0} s{0} so{0} xcs 0 1\nVO{0} so{0} 0 DC {1:.17g}\nED{0} dd{0} s{0} xcds 0 1\n"
                                "VA{0} d{0} dd{0} DC {2:.17g}\n",
                                t, o.source, o.drain - o.source);
  std::string gate = "xcg";
  if (o.gate != 0) {
    gate = "g" + t;
    out += fmt::format("VG{} {} xcg DC {:.17g}\n", t, gate, o.gate);
  }
  out += devices::card_spice_instance(card, t, "d" + t, gate, "s" + t, "0");
  return out + fmt::format(".save i(VA{})\n", t);
}

std::string sweep_deck(const devices::ModelCard& card, const devices::TableGrid& grid,
                       const std::vector<Variant>& vars) {
  std::string deck = fmt::format("* xbar characterize: {}\n{}\n", card.device, netlists::k_spice_options);
  deck += devices::card_spice_definitions(card);
  deck += swept_voltages(grid);
  for (std::size_t o = 0; o < vars.size(); ++o) deck += instance_lines(card, tag(o), vars[o]);
  return deck + ".save v(xcg) v(xcs) v(xcds)\n.end\n";
}

// The sweep of V_S node `is` must have applied the grid's voltages (inner index V_DS, outer V_G).
void check_sweep(const SpicePlot& plot, const devices::TableGrid& grid, std::size_t is) {
  const std::vector<double>& v_g = plot.vector("xcg");
  const std::vector<double>& v_s = plot.vector("xcs");
  const std::vector<double>& v_ds = plot.vector("xcds");
  const std::size_t n_ds = grid.v_ds.size(), count = grid.v_g.size() * n_ds;
  if (v_g.size() != count || v_s.size() != count || v_ds.size() != count)
    throw SpiceError(fmt::format("ngspice: the dc sweep made {} points, expected {}", v_g.size(), count));
  for (std::size_t k = 0; k < count; ++k)
    if (std::abs(v_g[k] - grid.v_g[k / n_ds]) > 1e-9 || std::abs(v_ds[k] - grid.v_ds[k % n_ds]) > 1e-9 ||
        std::abs(v_s[k] - grid.v_s[is]) > 1e-9)
      throw SpiceError(fmt::format(
          "ngspice: dc sweep point {} is at V_G = {} V, V_S = {} V, V_DS = {} V, expected {} V, {} V, {} V", k, v_g[k],
          v_s[k], v_ds[k], grid.v_g[k / n_ds], grid.v_s[is], grid.v_ds[k % n_ds]));
}

// Drain current (into the drain) of one instance at every grid point of V_S node is: the
// ammeter's + node is the drain, so I_D = -i(VA).
void gather(const SpicePlot& plot, const devices::TableGrid& grid, std::size_t is, std::size_t variant,
            std::vector<double>& out) {
  const std::vector<double>& branch = plot.vector(fmt::format("va{}#branch", tag(variant)));
  const std::size_t n_ds = grid.v_ds.size();
  for (std::size_t ig = 0; ig < grid.v_g.size(); ++ig)
    for (std::size_t id = 0; id < n_ds; ++id) out[grid.index(ig, is, id)] = -branch[ig * n_ds + id];
}

// The bias points as counter-driven sources: the node follows pwl(k) through (k, v_k); one more
// node after the last keeps every point an interior node of the pwl (ngspice then returns v_k
// to an ulp or two).
std::string point_source(const std::string& name, const std::string& node, std::span<const BiasPoint> points,
                         double BiasPoint::*terminal) {
  std::string line = fmt::format("B{} {} 0 V=pwl(v(xckp)", name, node);
  for (std::size_t k = 0; k <= points.size(); ++k)
    line += fmt::format(",{},{:.17g}", k, points[std::min(k, points.size() - 1)].*terminal);
  return line + ")\n";
}

}  // namespace

devices::TableSamples characterize(const devices::ModelCard& card, const devices::TableGridSpec& spec, double fd_step,
                                   const Progress& progress) {
  devices::TableSamples out{devices::make_table_grid(spec), {}, {}, {}, {}, fd_step};
  const devices::TableGrid& grid = out.grid;
  const std::vector<Variant> vars = variants(fd_step);
  // One dc sweep per V_S node: V_DS inner, V_G outer, on the one loaded deck.
  std::vector<std::string> sweeps;
  const std::size_t n_g = grid.v_g.size();
  for (std::size_t is = 0; is < grid.v_s.size(); ++is)
    sweeps.push_back(fmt::format("dc vkds 0 {} 1 vko {} {} 1", grid.v_ds.size() - 1, is * n_g, is * n_g + n_g - 1));
  std::vector<std::vector<double>> current(vars.size(), std::vector<double>(grid.size()));
  NgspiceSession::instance().run_analyses(sweep_deck(card, grid, vars), sweeps, [&](std::size_t is, SpicePlot&& plot) {
    check_sweep(plot, grid, is);
    for (std::size_t o = 0; o < vars.size(); ++o) gather(plot, grid, is, o, current[o]);
    if (progress) progress(is + 1, sweeps.size());
  });
  out.i_ds = std::move(current[0]);
  if (fd_step > 0) {
    for (auto [partial, x] : {std::pair{&out.di_dvg, 0}, {&out.di_dvd, 1}, {&out.di_dvs, 2}}) {
      partial->resize(grid.size());
      for (std::size_t k = 0; k < grid.size(); ++k)
        (*partial)[k] = (current[2 * x + 1][k] - current[2 * x + 2][k]) / (2 * fd_step);
    }
  }
  return out;
}

std::vector<double> card_currents(const devices::ModelCard& card, std::span<const BiasPoint> points,
                                  const Progress& progress) {
  if (points.empty()) return {};
  std::string deck = fmt::format("* xbar: {} at {} bias points\n{}\n", card.device, points.size(), netlists::k_spice_options);
  deck += devices::card_spice_definitions(card);
  deck += "VKp xckp 0 DC 0\n" + point_source("g", "g", points, &BiasPoint::v_g) +
          point_source("d", "dd", points, &BiasPoint::v_d) + point_source("s", "s", points, &BiasPoint::v_s);
  deck += "VA d dd DC 0\n" + devices::card_spice_instance(card, "xc", "d", "g", "s", "0");
  deck += ".save i(VA) v(g) v(d) v(s)\n.end\n";
  // Sweeps of about k_points_per_sweep points, so that progress can be told.
  constexpr std::size_t k_points_per_sweep = 50;
  std::vector<std::string> sweeps;
  for (std::size_t first = 0; first < points.size(); first += k_points_per_sweep)
    sweeps.push_back(fmt::format("dc vkp {} {} 1", first, std::min(points.size(), first + k_points_per_sweep) - 1));
  std::vector<double> current(points.size());
  NgspiceSession::instance().run_analyses(deck, sweeps, [&](std::size_t sweep, SpicePlot&& plot) {
    const std::size_t first = sweep * k_points_per_sweep;
    const std::size_t count = std::min(points.size() - first, k_points_per_sweep);
    const std::vector<double>* applied[3] = {&plot.vector("g"), &plot.vector("d"), &plot.vector("s")};
    const std::vector<double>& branch = plot.vector("va#branch");
    if (branch.size() != count || applied[0]->size() != count)
      throw SpiceError(fmt::format("ngspice: a dc sweep made {} points, expected {}", branch.size(), count));
    for (std::size_t k = 0; k < count; ++k) {
      const BiasPoint& p = points[first + k];
      const double expected[3] = {p.v_g, p.v_d, p.v_s};
      for (int x = 0; x < 3; ++x)
        if (!(std::abs((*applied[x])[k] - expected[x]) <= 1e-12))  // a few ulps from ngspice's pwl
          throw SpiceError(fmt::format("ngspice: bias point {} was applied at V_G = {} V, V_D = {} V, V_S = {} V, "
                                       "expected {} V, {} V, {} V",
                                       first + k, (*applied[0])[k], (*applied[1])[k], (*applied[2])[k], p.v_g,
                                       p.v_d, p.v_s));
      current[first + k] = -branch[k];  // the ammeter's + node is the drain
    }
    if (progress) progress(sweep + 1, sweeps.size());
  });
  return current;
}

std::vector<BiasPoint> random_bias_points(const devices::TableGridSpec& spec, int count) {
  std::mt19937_64 rng(20240917);
  std::uniform_real_distribution<double> gate(spec.vg_lo, spec.vg_hi), terminal(spec.v_lo, spec.v_hi);
  std::vector<BiasPoint> points;
  for (int k = 0; k < count; ++k) {
    const bool at_node = !spec.gate_nodes.empty() && k % 4 == 0;
    const double v_g = at_node ? spec.gate_nodes[(k / 4) % spec.gate_nodes.size()] : gate(rng);
    const double v_d = terminal(rng);
    points.push_back({v_g, v_d, terminal(rng)});
  }
  return points;
}

std::vector<devices::IvSample> samples_in_range(const devices::TableSamples& s, double vg_lo, double vg_hi,
                                                double v_lo, double v_hi) {
  const double slack = 1e-12;
  std::vector<devices::IvSample> out;
  for (std::size_t ig = 0; ig < s.grid.v_g.size(); ++ig) {
    const double v_g = s.grid.v_g[ig];
    if (v_g < vg_lo - slack || v_g > vg_hi + slack) continue;
    for (std::size_t is = 0; is < s.grid.v_s.size(); ++is)
      for (std::size_t id = 0; id < s.grid.v_ds.size(); ++id) {
        const double v_s = s.grid.v_s[is], v_d = v_s + s.grid.v_ds[id];
        if (v_d >= v_lo - slack && v_d <= v_hi + slack)
          out.push_back({v_g, v_d, v_s, s.i_ds[s.grid.index(ig, is, id)]});
      }
  }
  return out;
}

devices::EkvParams table_envelope_for(const devices::TableSamples& samples, const devices::TableGridSpec& spec) {
  try {
    const devices::EkvFitResult fit =
        devices::fit_ekv(samples_in_range(samples, spec.vg_lo, spec.vg_hi, spec.v_lo, spec.v_hi));
    if (fit.params.n > 0.5 && fit.params.n < 5 && std::isfinite(fit.params.i_s)) return fit.params;
  } catch (const std::invalid_argument&) {
  }
  return devices::select_defaults();
}

devices::RelativeError table_error(const devices::TableDevice& table, const devices::ModelCard& card,
                                   std::span<const BiasPoint> points, const Progress& progress) {
  const std::vector<double> reference = card_currents(card, points, progress);
  devices::RelativeError e;
  double sum = 0;
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (reference[k] == 0) continue;
    const BiasPoint& p = points[k];
    const double rel = std::abs(table.current(p.v_g, p.v_d, p.v_s).i_ds / reference[k] - 1);
    sum += rel * rel;
    ++e.points;
    if (rel >= e.max) e.max = rel, e.worst = {p.v_g, p.v_d, p.v_s, reference[k]};
  }
  e.rms = e.points ? std::sqrt(sum / e.points) : 0.0;
  return e;
}

}  // namespace xbar::validation
