#include "io/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

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
    "solver.method", "solver.max_iterations", "solver.vntol", "solver.reltol", "solver.abstol",
    "solver.residual_reltol", "solver.max_step", "solver.gmin_stepping", "solver.source_stepping",
    "check.tolerance", "check.max_cells",
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

bool is_free_section(std::string_view name) {
  return std::find(k_free_sections.begin(), k_free_sections.end(), name) != k_free_sections.end();
}

// Unknown keys are reported before anything else is checked.
void check_known_keys(const toml::table& root, const std::string& path) {
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
                           : fmt::format("{}: unknown key '{}'{}", path, name, did_you_mean(name)));
    }
    for (const auto& [key, value] : *table) {
      const std::string full = name + "." + std::string(key.str());
      if (std::find(k_keys.begin(), k_keys.end(), full) == k_keys.end())
        throw InputError(fmt::format("{}: unknown key '{}'{}", path, full, did_you_mean(full)));
    }
  }
}

std::string describe(const toml::node& node) {
  std::ostringstream os;
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  node.visit([&os](const auto& value) { os << value; });
  return os.str();
}

// Typed, range-checked access to "section.key" with defaults.
class Reader {
 public:
  Reader(const toml::table& root, std::string path) : root_(root), path_(std::move(path)) {}

  const toml::node* find(const std::string& key) const { return root_.at_path(key).node(); }

  [[noreturn]] void fail(const std::string& key, const toml::node* node, std::string_view allowed) const {
    throw InputError(fmt::format("{}: key '{}' = {}: {}", path_, key,
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

  std::string text(const std::string& key) const {
    const toml::node* node = find(key);
    if (!node) return {};
    const auto s = node->value_exact<std::string>();
    if (!s || s->empty()) fail(key, node, "must be a non-empty string");
    return *s;
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
};

// Largest array accepted: 4096 x 4096 cells (issue 6's largest case) times 4.
constexpr long k_max_cells = 4L * 4096 * 4096;
constexpr double k_bytes_per_cell = 600;  // KLU path, 2t-sonos: pattern, factors, state

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
  if (model != "ekv")
    throw InputError(fmt::format("{}: key 'select.model' = \"{}\": not implemented in this version "
                                 "(only \"ekv\")", r.path(), model));
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
  if (r.find("mapping.scheme"))
    throw InputError(fmt::format("{}: key 'mapping.scheme': signed mapping is not implemented in this version",
                                 r.path()));
}

void read_sources(const Reader& r, RunConfig& c) {
  WeightsConfig& w = c.weights;
  w.source = r.choice("weights.source", "random", {"random", "file"});
  w.seed = static_cast<std::uint64_t>(r.integer("weights.seed", 1, 0, std::numeric_limits<long>::max()));
  w.distribution = r.choice("weights.distribution", "uniform", {"uniform", "laplace", "normal"});
  w.clip_quantile = r.number("weights.clip_quantile", 0.999, [](double q) { return q > 0 && q <= 1; },
                             "must be in (0, 1]");
  w.kind = r.choice("weights.kind", "level", {"level", "vt", "conductance"});
  if (w.source == "file") {
    w.file = r.text("weights.file");
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
    in.file = r.text("inputs.file");
    in.dataset = r.text("inputs.dataset");
    if (in.file.empty() || in.dataset.empty())
      r.fail(in.file.empty() ? "inputs.file" : "inputs.dataset", nullptr,
             "required when inputs.source = \"file\"");
  }
}

void read_solver(const Reader& r, RunConfig& c) {
  solver::NewtonOptions& n = c.newton;
  n.method = r.choice("solver.method", "auto", {"auto", "klu", "lines"});
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
}

void apply_override(toml::table& root, const std::string& assignment, const std::string& path) {
  const auto eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  const auto dot = key.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == key.size())
    throw InputError(fmt::format("--set '{}': expected section.key=value", assignment));
  const std::string value = assignment.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", value}};  // a bare word is a string
  }
  toml::table* section = root[key.substr(0, dot)].as_table();
  if (!section) {
    if (root.contains(key.substr(0, dot)))
      throw InputError(fmt::format("{}: --set '{}': '{}' is not a table", path, assignment, key.substr(0, dot)));
    section = root.insert(key.substr(0, dot), toml::table{}).first->second.as_table();
  }
  section->insert_or_assign(key.substr(dot + 1), *parsed.get("v"));
}

}  // namespace

double RunConfig::g_max() const {
  return cell.is_sonos() ? sonos_levels.max / v_read : resistor_levels.max;
}

const std::vector<std::string>& known_config_keys() { return k_keys; }

RunConfig parse_config(const std::string& text, const std::string& path,
                       const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  for (const std::string& o : overrides) apply_override(root, o, path);
  check_known_keys(root, path);
  const Reader reader(root, path);
  RunConfig c;
  c.path = path;
  read_array(reader, c);
  read_devices(reader, c);
  read_sources(reader, c);
  read_solver(reader, c);
  if (c.v_read == 0 && c.cell.is_sonos())
    throw InputError(fmt::format("{}: key 'bias.v_read' = 0: must be non-zero for 2t-sonos (program-verify reads at v_read)", path));
  if (c.r_hat_p) c.lines.r_col = *c.r_hat_p / c.g_max();
  std::ostringstream os;
  os << root;
  c.text = os.str() + "\n";
  return c;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read config file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, overrides);
}

}  // namespace xbar::io
