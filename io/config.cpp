#include "io/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>
#include <system_error>

#include <unistd.h>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "io/device_file.hpp"

namespace xbar::io {

namespace {

// Sections whose keys are free-form (validated by the command that uses them).
const std::vector<std::string> k_free_sections = {"sweep"};

const std::vector<std::string> k_keys = {
    "array.rows", "array.cols", "array.cell", "array.r_row", "array.r_col", "array.r_driver",
    "array.r_sense", "array.v_sense", "array.r_hat_p",
    "bias.v_read", "bias.v_on", "bias.v_off", "bias.v_wl",
    "sonos.n", "sonos.i_s", "sonos.eta", "sonos.levels", "sonos.i_max", "sonos.on_off",
    "select.model", "select.n", "select.beta", "select.eta", "select.vt", "select.file",
    "resistor.g_max", "resistor.on_off", "resistor.levels", "resistor.law", "resistor.v0",
    "weights.source", "weights.seed", "weights.distribution", "weights.clip_quantile",
    "weights.file", "weights.dataset", "weights.kind",
    "inputs.source", "inputs.count", "inputs.activity", "inputs.seed", "inputs.file",
    "inputs.dataset",
    "mapping.scheme",
    "variation.vt_sigma", "variation.g_sigma", "variation.seed",
    "network.input_bits", "network.adc_bits",
    "solver.method", "solver.max_iterations", "solver.vntol", "solver.reltol", "solver.abstol",
    "solver.residual_reltol", "solver.max_step", "solver.gmin_stepping", "solver.source_stepping",
    "check.tolerance", "check.max_cells", "check.vectors",
    "table.samples", "table.vectors", "table.threads", "table.row_bins", "table.col_bins",
    "table.load_bins", "table.v_bl_points", "table.v_sup_points", "table.v_bl_min",
    "table.v_bl_max", "table.v_sup_min", "table.v_sup_max",
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(const std::string& key) {
  const std::string* best = nullptr;
  std::size_t best_distance = std::max<std::size_t>(3, key.size() / 3) + 1;
  for (const std::string& known : k_keys) {
    const std::size_t d = edit_distance(key, known);
    if (d < best_distance) best_distance = d, best = &known;
  }
  return best ? fmt::format(" (did you mean '{}'?)", *best) : "";
}

// Keys given as overrides and the text after '='; errors name where they came from ("--set",
// or the sweep's file), not the config file.
struct Overrides {
  std::map<std::string, std::string> values;
  std::string origin;
  bool from_command_line() const { return origin == k_command_line; }
};

std::string origin(const Overrides& overrides, const std::string& key, const std::string& path) {
  return overrides.values.count(key) ? overrides.origin : path;
}

bool is_free_section(std::string_view name) {
  return std::find(k_free_sections.begin(), k_free_sections.end(), name) != k_free_sections.end();
}

// Unknown keys are reported before anything else is checked.
void check_known_keys(const toml::table& root, const std::string& path, const Overrides& overrides) {
  for (const auto& [section, node] : root) {
    const std::string name(section.str());
    if (is_free_section(name)) continue;
    const toml::table* table = node.as_table();
    if (!table) {
      const bool is_section = std::any_of(k_keys.begin(), k_keys.end(), [&](const std::string& k) {
        return k.rfind(name + ".", 0) == 0;
      });
      throw InputError(is_section
                           ? fmt::format("{}: '{}' must be a table [{}]", path, name, name)
                           : fmt::format("{}: unknown key '{}'{}", path, shorten(name), did_you_mean(name)));
    }
    for (const auto& [key, value] : *table) {
      const std::string full = name + "." + std::string(key.str());
      if (std::find(k_keys.begin(), k_keys.end(), full) == k_keys.end())
        throw InputError(fmt::format("{}: unknown key '{}'{}", origin(overrides, full, path), shorten(full),
                                     did_you_mean(full)));
    }
  }
}

std::string describe(const toml::node& node) {
  std::ostringstream os;
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (const auto d = node.value_exact<double>()) return fmt::format("{}", *d);  // shortest round trip
  node.visit([&os](const auto& value) { os << value; });
  return shorten(os.str());
}

// Typed, range-checked access to "section.key" with defaults.
class Reader {
 public:
  Reader(const toml::table& root, std::string path, const Overrides& overrides)
      : root_(root), path_(std::move(path)), overrides_(overrides) {}

  const toml::node* find(const std::string& key) const { return root_.at_path(key).node(); }

  [[noreturn]] void fail(const std::string& key, const toml::node* node, std::string_view allowed) const {
    throw InputError(fmt::format("{}: key '{}' = {}: {}", origin(overrides_, key, path_), key,
                                 node ? describe(*node) : std::string("(missing)"), allowed));
  }

  double number(const std::string& key, double fallback,
                const std::function<bool(double)>& ok = {}, std::string_view allowed = "must be a finite number") const {
    const toml::node* node = find(key);
    if (!node) return fallback;
    double value;
    if (auto i = node->value_exact<std::int64_t>()) value = static_cast<double>(*i);
    else if (auto d = node->value_exact<double>()) value = *d;
    else fail(key, node, allowed);
    if (!std::isfinite(value) || (ok && !ok(value))) fail(key, node, allowed);
    // A subnormal (|x| < 2.2e-308) loses its precision and overflows when inverted.
    if (value != 0 && std::abs(value) < std::numeric_limits<double>::min())
      fail(key, node, fmt::format("{}; subnormal numbers (0 < |x| < {:.3g}) are refused", allowed,
                                  std::numeric_limits<double>::min()));
    return value;
  }

  long integer(const std::string& key, long fallback, long lo, long hi) const {
    const toml::node* node = find(key);
    if (!node) return fallback;
    const auto i = node->value_exact<std::int64_t>();
    if (!i || *i < lo || *i > hi) fail(key, node, fmt::format("must be an integer in [{}, {}]", lo, hi));
    return static_cast<long>(*i);
  }

  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& allowed) const {
    const toml::node* node = find(key);
    if (!node) return fallback;
    const auto s = node->value_exact<std::string>();
    if (!s || std::find(allowed.begin(), allowed.end(), *s) == allowed.end())
      fail(key, node, fmt::format("must be one of \"{}\"", fmt::join(allowed, "\", \"")));
    return *s;
  }

  // A name from --set stays the text typed, even where it reads as TOML ("nan", "123").
  std::string text(const std::string& key) const {
    const toml::node* node = find(key);
    if (!node) return {};
    const auto typed = overrides_.values.find(key);
    if (!node->is_string() && typed != overrides_.values.end() && !typed->second.empty()) return typed->second;
    const auto s = node->value_exact<std::string>();
    if (!s || s->empty()) fail(key, node, "must be a non-empty string");
    return *s;
  }

  // A file name: relative to the config file's folder when the config file gave it.
  std::string file(const std::string& key) const {
    const std::string name = text(key);
    namespace fs = std::filesystem;
    if (name.empty() || fs::path(name).is_absolute()) return name;
    if (overrides_.values.count(key) && overrides_.from_command_line()) return name;
    std::error_code ec;
    const fs::path folder = fs::path(path_).parent_path();
    if (folder.empty() || !fs::is_regular_file(path_, ec)) return name;
    return (folder / name).string();
  }

  bool flag(const std::string& key, bool fallback) const {
    const toml::node* node = find(key);
    if (!node) return fallback;
    const auto b = node->value_exact<bool>();
    if (!b) fail(key, node, "must be true or false");
    return *b;
  }

  double non_negative(const std::string& key, double fallback) const {
    return number(key, fallback, [](double x) { return x >= 0; }, "must be a finite number >= 0");
  }
  double positive(const std::string& key, double fallback) const {
    return number(key, fallback, [](double x) { return x > 0; }, "must be a finite number > 0");
  }

  const std::string& path() const { return path_; }

 private:
  const toml::table& root_;
  std::string path_;
  const Overrides& overrides_;
};

// Largest array accepted: 4096 x 4096 cells (the largest benchmark case) times 4.
constexpr long k_max_cells = 4L * 4096 * 4096;
constexpr double k_bytes_per_cell = 600;  // KLU path, 2t-sonos: pattern, factors, state

// The whole run must fit the machine even at the optimistic per-cell figure above (the KLU
// path measures several times more): better one line now than the kernel's OOM killer later.
void check_memory(const Reader& r, const RunConfig& c) {
  const double cells = static_cast<double>(c.rows) * c.cols;
  const double count = c.inputs.source == "file" ? 1 : c.inputs.count;  // a file is sized when read
  const double bytes = cells * k_bytes_per_cell + count * (c.rows + 2.0 * c.cols) * sizeof(double);
  const double machine = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (machine > 0 && bytes > machine)
    throw InputError(fmt::format("{}: array.rows x array.cols = {} x {} with inputs.count = {} would need at "
                                 "least {:.1f} GiB; this machine has {:.1f} GiB",
                                 r.path(), c.rows, c.cols, c.inputs.count, bytes / (1 << 30), machine / (1 << 30)));
}

void read_array(const Reader& r, RunConfig& c) {
  c.rows = static_cast<int>(r.integer("array.rows", c.rows, 1, 1 << 20));
  c.cols = static_cast<int>(r.integer("array.cols", c.cols, 1, 1 << 20));
  const long cells = static_cast<long>(c.rows) * c.cols;
  if (cells > k_max_cells)
    throw InputError(fmt::format(
        "{}: array.rows x array.cols = {} x {} = {} cells would need about {:.0f} GiB; at most {} cells",
        r.path(), c.rows, c.cols, cells, cells * k_bytes_per_cell / (1 << 30), k_max_cells));
  const std::string cell = r.choice("array.cell", "2t-sonos", {"1r", "1t1r", "2t-sonos"});
  c.cell.kind = cell == "1r" ? devices::CellKind::resistor_1r
                : cell == "1t1r" ? devices::CellKind::select_resistor_1t1r
                                 : devices::CellKind::select_sonos_2t;
  c.lines.r_row = r.non_negative("array.r_row", 0);
  c.lines.r_col = r.non_negative("array.r_col", 0);
  c.lines.r_driver = r.non_negative("array.r_driver", 0);
  c.lines.r_sense = r.non_negative("array.r_sense", 0);
  c.v_sense = r.number("array.v_sense", 0);
  if (r.find("array.r_hat_p")) {
    c.r_hat_p = r.positive("array.r_hat_p", 0);
    if (r.find("array.r_col"))
      throw InputError(fmt::format("{}: keys 'array.r_col' and 'array.r_hat_p' both set: give one",
                                   r.path()));
  }
}

// [select] model = "table": the law of DEVICE.h5 from `xbar characterize`; the EKV keys do not
// apply to it.
void read_select_table(const Reader& r, RunConfig& c) {
  for (const char* key : {"select.n", "select.beta", "select.eta", "select.vt"})
    if (r.find(key)) r.fail(key, r.find(key), "is an EKV parameter: not used with select.model = \"table\"");
  const std::string file = r.file("select.file");
  if (file.empty()) r.fail("select.file", nullptr, "required when select.model = \"table\" (DEVICE.h5 of xbar characterize)");
  c.select_file = file;
  try {
    c.cell.select_table = load_tabulated_transistor(file);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: key 'select.file' = \"{}\": {}", r.path(), file, e.what()));
  }
  // The array's biases must lie on the table, not in its extrapolation.
  const devices::TableGrid& grid = c.cell.select_table->law.grid();
  auto inside = [](const std::vector<double>& axis, double v) { return v >= axis.front() && v <= axis.back(); };
  for (auto [name, v, axis] : {std::tuple{"bias.v_on", c.cell.v_on, &grid.v_g}, {"bias.v_off", c.cell.v_off, &grid.v_g},
                               {"bias.v_read", c.v_read, &grid.v_s}, {"array.v_sense", c.v_sense, &grid.v_s}})
    if (!inside(*axis, v))
      throw InputError(fmt::format("{}: key '{}' = {} V is outside the table of '{}' ([{}, {}] V): run xbar "
                                   "characterize with this config (-c)", r.path(), name, v, file, axis->front(), axis->back()));
}

void read_devices(const Reader& r, RunConfig& c) {
  c.v_read = r.number("bias.v_read", 0.1);
  c.cell.v_on = r.number("bias.v_on", 1.1);
  c.cell.v_off = r.number("bias.v_off", 0.0);
  c.cell.v_wl = r.number("bias.v_wl", 0.0);
  c.cell.sonos.n = r.positive("sonos.n", 1.40);
  c.cell.sonos.i_s = r.positive("sonos.i_s", 250e-9);
  c.cell.sonos.eta = r.number("sonos.eta", 0.04);
  c.sonos_levels.levels = static_cast<int>(r.integer("sonos.levels", 128, 2, 1 << 16));
  c.sonos_levels.max = r.positive("sonos.i_max", 1.6e-6);
  c.sonos_levels.on_off = r.number("sonos.on_off", 1e7, [](double x) { return x > 1; }, "must be a number > 1");
  const std::string model = r.choice("select.model", "ekv", {"ekv", "ideal", "table"});
  if (model == "table") read_select_table(r, c);
  else if (r.find("select.file")) r.fail("select.file", r.find("select.file"), "needs select.model = \"table\"");
  c.cell.select_model = model == "ideal" ? devices::SelectModel::ideal
                        : model == "table" ? devices::SelectModel::table
                                           : devices::SelectModel::ekv;
  c.cell.select.n = r.positive("select.n", 1.30);
  c.cell.select.i_s = devices::select_specific_current(c.cell.select.n, r.positive("select.beta", 200e-6));
  c.cell.select.eta = r.number("select.eta", 0.08);
  c.cell.select.vt = r.number("select.vt", 0.45);
  c.resistor_levels.levels = static_cast<int>(r.integer("resistor.levels", 128, 2, 1 << 16));
  c.resistor_levels.max = r.positive("resistor.g_max", 1e-4);
  c.resistor_levels.on_off = r.number("resistor.on_off", 100, [](double x) { return x >= 1; }, "must be a number >= 1");
  const std::string law = r.choice("resistor.law", "linear", {"linear", "sinh"});
  c.cell.resistor.v0 = law == "sinh" ? r.positive("resistor.v0", 0.25) : 0.0;
  if (law == "linear" && r.find("resistor.v0"))
    throw InputError(fmt::format("{}: key 'resistor.v0' needs resistor.law = \"sinh\"", r.path()));
  c.mapping = engine::parse_mapping(r.choice("mapping.scheme", "", {"differential", "offset"}));
}

void read_sources(const Reader& r, RunConfig& c) {
  WeightsConfig& w = c.weights;
  w.source = r.choice("weights.source", "random", {"random", "file"});
  w.seed = static_cast<std::uint64_t>(r.integer("weights.seed", 1, 0, std::numeric_limits<long>::max()));
  w.distribution = r.choice("weights.distribution", "uniform", {"uniform", "laplace", "normal"});
  w.clip_quantile = r.number("weights.clip_quantile", 0.999, [](double q) { return q > 0 && q <= 1; },
                             "must be in (0, 1]");
  const bool mapped = c.mapping != engine::MappingScheme::none;
  w.kind = r.choice("weights.kind", mapped ? "real" : "level", {"level", "vt", "conductance", "real"});
  if (mapped != (w.kind == "real"))
    r.fail("weights.kind", r.find("weights.kind"),
           mapped ? "must be \"real\" with a [mapping] section" : "\"real\" needs a [mapping] section");
  if (w.source == "file") {
    w.file = r.file("weights.file");
    w.dataset = r.text("weights.dataset");
    if (w.file.empty() || w.dataset.empty())
      r.fail(w.file.empty() ? "weights.file" : "weights.dataset", nullptr,
             "required when weights.source = \"file\"");
    const bool sonos = c.cell.is_sonos();
    if ((w.kind == "vt" && !sonos) || (w.kind == "conductance" && sonos))
      r.fail("weights.kind", r.find("weights.kind"),
             sonos ? "must be \"level\" or \"vt\" for 2t-sonos" : "must be \"level\" or \"conductance\" for resistor cells");
  }
  InputsConfig& in = c.inputs;
  in.source = r.choice("inputs.source", "random", {"random", "file"});
  in.count = static_cast<int>(r.integer("inputs.count", 1, 1, 1 << 20));
  in.activity = r.number("inputs.activity", 0.5, [](double a) { return a >= 0 && a <= 1; }, "must be in [0, 1]");
  in.seed = static_cast<std::uint64_t>(r.integer("inputs.seed", 2, 0, std::numeric_limits<long>::max()));
  if (in.source == "file") {
    in.file = r.file("inputs.file");
    in.dataset = r.text("inputs.dataset");
    if (in.file.empty() || in.dataset.empty())
      r.fail(in.file.empty() ? "inputs.file" : "inputs.dataset", nullptr,
             "required when inputs.source = \"file\"");
  }
}

// [variation]: a sigma >= 0, or "sonos-fit" (the measured SONOS fit, engine/variation.hpp); and
// [network], the network stage's quantisation.
void read_variation_and_network(const Reader& r, RunConfig& c) {
  auto sigma = [&](const std::string& key) {
    constexpr std::string_view allowed = "must be a finite number >= 0 or \"sonos-fit\"";
    const toml::node* node = r.find(key);
    if (node && node->is_string()) {
      if (node->value_exact<std::string>() != "sonos-fit") r.fail(key, node, allowed);
      return engine::VariationSigma{0, true};
    }
    return engine::VariationSigma{r.number(key, 0, [](double x) { return x >= 0; }, allowed), false};
  };
  c.variation.vt = sigma("variation.vt_sigma");
  c.variation.g = sigma("variation.g_sigma");
  c.variation.seed = static_cast<std::uint64_t>(r.integer("variation.seed", 3, 0, std::numeric_limits<long>::max()));
  c.network.input_bits = static_cast<int>(r.integer("network.input_bits", c.network.input_bits, 1, 24));
  c.network.adc_bits = static_cast<int>(r.integer("network.adc_bits", c.network.adc_bits, 0, 24));
}

void read_solver(const Reader& r, RunConfig& c) {
  solver::NewtonOptions& n = c.newton;
  n.method = r.choice("solver.method", "auto", {"auto", "grid", "klu", "lines"});
  n.max_iterations = static_cast<int>(r.integer("solver.max_iterations", n.max_iterations, 1, 100000));
  n.vntol = r.positive("solver.vntol", n.vntol);
  n.reltol = r.non_negative("solver.reltol", n.reltol);
  n.abstol = r.positive("solver.abstol", n.abstol);
  n.residual_reltol = r.non_negative("solver.residual_reltol", n.residual_reltol);
  n.max_step = r.positive("solver.max_step", n.max_step);
  n.gmin_stepping = r.flag("solver.gmin_stepping", n.gmin_stepping);
  n.source_stepping = r.flag("solver.source_stepping", n.source_stepping);
  c.check.tolerance = r.positive("check.tolerance", c.check.tolerance);
  c.check.max_cells = r.integer("check.max_cells", c.check.max_cells, 1, k_max_cells);
  c.check.vectors = static_cast<int>(r.integer("check.vectors", c.check.vectors, 0, 1 << 20));
}

// The table's voltage grid spans circuit biases; beyond this its steps overflow.
constexpr double k_max_table_voltage = 1e3;

void read_table(const Reader& r, RunConfig& c) {
  TableConfig& t = c.table;
  t.samples = static_cast<int>(r.integer("table.samples", t.samples, 1, 1 << 20));
  t.vectors = static_cast<int>(r.integer("table.vectors", t.vectors, 1, 1 << 20));
  t.threads = static_cast<int>(r.integer("table.threads", t.threads, 0, 1024));
  t.row_bins = static_cast<int>(r.integer("table.row_bins", t.row_bins, 1, 1 << 16));
  t.col_bins = static_cast<int>(r.integer("table.col_bins", t.col_bins, 1, 1 << 16));
  t.load_bins = static_cast<int>(r.integer("table.load_bins", t.load_bins, 1, 1 << 16));
  t.v_bl_points = static_cast<int>(r.integer("table.v_bl_points", t.v_bl_points, 2, 1 << 14));
  t.v_sup_points = static_cast<int>(r.integer("table.v_sup_points", t.v_sup_points, 2, 1 << 14));
  for (auto [key, value] : {std::pair{"table.v_bl_min", &t.v_bl_min}, {"table.v_bl_max", &t.v_bl_max},
                            {"table.v_sup_min", &t.v_sup_min}, {"table.v_sup_max", &t.v_sup_max}})
    if (r.find(key))
      *value = r.number(key, 0, [](double v) { return std::abs(v) <= k_max_table_voltage; },
                        fmt::format("must be a voltage in [-{0:g}, {0:g}] V", k_max_table_voltage));
  for (auto [lo, hi, name] : {std::tuple{t.v_bl_min, t.v_bl_max, "table.v_bl"},
                              {t.v_sup_min, t.v_sup_max, "table.v_sup"}})
    if (lo && hi && !(*lo < *hi))
      r.fail(std::string(name) + "_min", r.find(std::string(name) + "_min"),
             fmt::format("must be below {}_max = {}", name, *hi));
}

// Checks across keys, after every key has been read on its own.
void check_consistency(const Reader& r, const RunConfig& c) {
  // With 0 <= eta < n the EKV current rises with V_D and falls with V_S, so the network has one
  // solution; outside, the law folds back and Newton may find any of several.
  auto eta_range = [&](const char* key, const devices::EkvParams& law, const char* n_key) {
    if (!(law.eta >= 0 && law.eta < law.n))
      r.fail(key, r.find(key), fmt::format("must be in [0, {} = {}) (the EKV law is monotone only there)", n_key, law.n));
  };
  eta_range("sonos.eta", c.cell.sonos, "sonos.n");
  eta_range("select.eta", c.cell.select, "select.n");
  // A file named but not used would silently give random numbers instead of the user's.
  for (const char* section : {"weights", "inputs"})
    for (const char* key : {"file", "dataset"}) {
      const std::string full = fmt::format("{}.{}", section, key);
      const toml::node* source = r.find(fmt::format("{}.source", section));
      if (r.find(full) && !(source && source->value_exact<std::string>() == "file"))
        r.fail(full, r.find(full), fmt::format("is only used with {}.source = \"file\" (set it, or remove {})", section, full));
    }
}

void apply_override(toml::table& root, const std::string& assignment, const std::string& path,
                    Overrides& overrides) {
  const auto eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  const auto dot = key.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == key.size())
    throw InputError(fmt::format("--set '{}': expected section.key=value", shorten(assignment)));
  const std::string value = assignment.substr(eq + 1);
  overrides.values[key] = value;
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", value}};  // a bare word is a string
  }
  toml::table* section = root[key.substr(0, dot)].as_table();
  if (!section) {
    if (root.contains(key.substr(0, dot)))
      throw InputError(fmt::format("{}: --set '{}': '{}' is not a table", path, shorten(assignment), key.substr(0, dot)));
    section = root.insert(key.substr(0, dot), toml::table{}).first->second.as_table();
  }
  section->insert_or_assign(key.substr(dot + 1), *parsed.get("v"));
}

}  // namespace

double RunConfig::g_max() const {
  return cell.is_sonos() ? sonos_levels.max / v_read : resistor_levels.max;
}

const std::vector<std::string>& known_config_keys() { return k_keys; }

std::string key_suggestion(const std::string& key) { return did_you_mean(key); }

RunConfig parse_config(const std::string& text, const std::string& path,
                       const std::vector<std::string>& overrides, const std::string& override_origin) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  Overrides typed{{}, override_origin};
  for (const std::string& o : overrides) apply_override(root, o, path, typed);
  check_known_keys(root, path, typed);
  const Reader reader(root, path, typed);
  RunConfig c;
  c.path = path;
  read_array(reader, c);
  read_devices(reader, c);
  read_sources(reader, c);
  read_variation_and_network(reader, c);
  read_solver(reader, c);
  read_table(reader, c);
  if (c.cell.is_sonos() && !(c.v_read > 0))
    reader.fail("bias.v_read", reader.find("bias.v_read"),
                "must be > 0 for 2t-sonos (program-verify and G_max = sonos.i_max / v_read read at it)");
  check_consistency(reader, c);
  check_memory(reader, c);
  if (c.r_hat_p) c.lines.r_col = *c.r_hat_p / c.g_max();
  std::ostringstream os;
  os << root;
  c.text = os.str() + "\n";
  return c;
}

// A folder opens as an empty stream on Linux (and would run the defaults), /dev/zero never ends:
// both are refused. Pipes (`xbar solve <(...)`) are fine.
std::string read_config_text(const std::string& path) {
  constexpr std::size_t k_max_bytes = 16 << 20;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(fmt::format("{}: is a folder, expected a TOML config file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read config file: {}", path, std::strerror(errno)));
  std::string text;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > k_max_bytes)
      throw InputError(fmt::format("{}: config file larger than {} MiB", path, k_max_bytes >> 20));
  }
  if (in.bad()) throw InputError(fmt::format("{}: cannot read config file", path));
  return text;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_config(read_config_text(path), path, overrides);
}

}  // namespace xbar::io
