#include "validation/characterize.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
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

std::string tag(std::size_t node_s, std::size_t variant) { return fmt::format("xc{}_{}", node_s, variant); }

// Step of a uniform axis, after checking that it is uniform (the deck applies first + h k).
double uniform_step(const std::vector<double>& axis, const char* name) {
  const double h = (axis.back() - axis.front()) / static_cast<double>(axis.size() - 1);
  for (std::size_t k = 0; k < axis.size(); ++k)
    if (std::abs(axis[k] - (axis.front() + h * k)) > 1e-12)
      throw std::invalid_argument(fmt::format("characterize: the {} axis is not uniform", name));
  return h;
}

// Integer counter source `vk<name>` (lower case: ngspice matches command arguments as typed) and the node `<name>` = first + h k.
std::string swept_voltage(const std::string& name, double first, double h) {
  return fmt::format("VK{0} xck{0} 0 DC 0\nE{0} xcx{0} 0 xck{0} 0 {1:.17g}\nV0{0} xc{0} xcx{0} DC {2:.17g}\n", name, h,
                     first);
}

std::string instance_lines(const devices::ModelCard& card, const std::string& t, double v_s, const Variant& o) {
  std::string out = fmt::format("VS{0} s{0} 0 DC {1:.17g}\nED{0} dd{0} s{0} xcds 0 1\nVA{0} d{0} dd{0} DC {2:.17g}\n", t,
                                v_s + o.source, o.drain - o.source);
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
  deck += swept_voltage("g", grid.v_g.front(), uniform_step(grid.v_g, "V_G"));
  deck += swept_voltage("ds", grid.v_ds.front(), uniform_step(grid.v_ds, "V_DS"));
  for (std::size_t is = 0; is < grid.v_s.size(); ++is)
    for (std::size_t o = 0; o < vars.size(); ++o) deck += instance_lines(card, tag(is, o), grid.v_s[is], vars[o]);
  return deck + ".save v(xcg) v(xcds)\n.end\n";
}

// The sweep must have applied the grid's voltages (inner index V_DS, outer V_G).
void check_sweep(const SpicePlot& plot, const devices::TableGrid& grid) {
  const std::vector<double>& v_g = plot.vector("xcg");
  const std::vector<double>& v_ds = plot.vector("xcds");
  const std::size_t n_ds = grid.v_ds.size(), count = grid.v_g.size() * n_ds;
  if (v_g.size() != count || v_ds.size() != count)
    throw SpiceError(fmt::format("ngspice: the dc sweep made {} points, expected {}", v_g.size(), count));
  for (std::size_t k = 0; k < count; ++k)
    if (std::abs(v_g[k] - grid.v_g[k / n_ds]) > 1e-9 || std::abs(v_ds[k] - grid.v_ds[k % n_ds]) > 1e-9)
      throw SpiceError(fmt::format("ngspice: dc sweep point {} is at V_G = {} V, V_DS = {} V, expected {} V, {} V", k,
                                   v_g[k], v_ds[k], grid.v_g[k / n_ds], grid.v_ds[k % n_ds]));
}

// Drain current (into the drain) of one instance at every grid point of its V_S node: the
// ammeter's + node is the drain, so I_D = -i(VA).
void gather(const SpicePlot& plot, const devices::TableGrid& grid, std::size_t is, std::size_t variant,
            std::vector<double>& out) {
  const std::vector<double>& branch = plot.vector(fmt::format("va{}#branch", tag(is, variant)));
  const std::size_t n_ds = grid.v_ds.size();
  for (std::size_t ig = 0; ig < grid.v_g.size(); ++ig)
    for (std::size_t id = 0; id < n_ds; ++id) out[grid.index(ig, is, id)] = -branch[ig * n_ds + id];
}

}  // namespace

devices::TableSamples characterize(const devices::ModelCard& card, const devices::TableGridSpec& spec, double fd_step) {
  devices::TableSamples out{devices::make_table_grid(spec), {}, {}, {}, {}, fd_step};
  const devices::TableGrid& grid = out.grid;
  const std::vector<Variant> vars = variants(fd_step);
  const SpicePlot plot = NgspiceSession::instance().run_analysis(
      sweep_deck(card, grid, vars),
      fmt::format("dc vkds 0 {} 1 vkg 0 {} 1", grid.v_ds.size() - 1, grid.v_g.size() - 1));
  check_sweep(plot, grid);
  std::vector<std::vector<double>> current(vars.size(), std::vector<double>(grid.size()));
  for (std::size_t is = 0; is < grid.v_s.size(); ++is)
    for (std::size_t o = 0; o < vars.size(); ++o) gather(plot, grid, is, o, current[o]);
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

std::vector<double> card_currents(const devices::ModelCard& card, std::span<const BiasPoint> points) {
  std::string deck = fmt::format("* xbar: {} at {} bias points\n{}\n", card.device, points.size(), netlists::k_spice_options);
  deck += devices::card_spice_definitions(card);
  for (std::size_t k = 0; k < points.size(); ++k) {
    const BiasPoint& p = points[k];
    deck += fmt::format("VG{0} g{0} 0 DC {1:.17g}\nVD{0} d{0} 0 DC {2:.17g}\nVS{0} s{0} 0 DC {3:.17g}\n", k, p.v_g,
                        p.v_d, p.v_s);
    deck += devices::card_spice_instance(card, fmt::format("xc{}", k), fmt::format("d{}", k), fmt::format("g{}", k),
                                         fmt::format("s{}", k), "0");
  }
  const SpiceOperatingPoint op = NgspiceSession::instance().run_operating_point(deck + ".end\n");
  std::vector<double> current(points.size());
  for (std::size_t k = 0; k < points.size(); ++k) current[k] = -op.source_current(fmt::format("VD{}", k));
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
                                   std::span<const BiasPoint> points) {
  const std::vector<double> reference = card_currents(card, points);
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
