#include "io/config.hpp"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include <unistd.h>

#include <fmt/format.h>

#include "io/config_schema.hpp"
#include "io/config_toml.hpp"
#include "io/device_file.hpp"

namespace xbar::io {

namespace {

constexpr double k_bytes_per_cell = 600;  // KLU path, 2t-sonos: pattern, factors, state

// The second step of parsing: the set keys checked one by one against the schema, in schema
// order, then the rules across keys. Messages name where a key was set (or the config, for a
// key left at its default).
class Resolver {
 public:
  Resolver(const ConfigValues& values, std::string path) : values_(values), path_(std::move(path)) {}

  const SetValue* find(const std::string& key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }

  [[noreturn]] void fail(const std::string& key, std::string_view allowed) const {
    const SetValue* v = find(key);
    throw InputError(fmt::format("{}: key '{}' = {}: {}", v ? v->origin : path_, key, v ? v->shown : "(missing)",
                                 allowed));
  }
  [[noreturn]] void fail_config(const std::string& what) const {
    throw InputError(fmt::format("{}: {}", path_, what));
  }

  // Every set key, checked and stored; keys that do not apply (given the keys before them) fail.
  void set_keys(RunConfig& c) const {
    for (const KeySpec& spec : config_schema()) {
      const SetValue* set = find(spec.key);
      if (!set) continue;
      if (spec.applies && !spec.applies(c)) fail(spec.key, spec.only_with);
      ConfigValue value = set->value;
      // A name from --set stays the text typed, even where it reads as TOML ("nan", "123").
      const bool name = spec.type == KeyType::text || spec.type == KeyType::file;
      if (name && !std::holds_alternative<std::string>(value) && !set->typed.empty()) value = set->typed;
      const std::optional<ConfigValue> checked = spec.check(value);
      if (!checked) fail(spec.key, spec.refusal(value));
      spec.set(c, spec.type == KeyType::file ? relative_to(set->file_folder, std::get<std::string>(*checked)) : *checked);
    }
  }

  const std::string& path() const { return path_; }

 private:
  static ConfigValue relative_to(const std::string& folder, const std::string& name) {
    namespace fs = std::filesystem;
    if (folder.empty() || fs::path(name).is_absolute()) return name;
    return (fs::path(folder) / name).string();
  }

  const ConfigValues& values_;
  std::string path_;
};

void check_size(const Resolver& r, const RunConfig& c) {
  const long cells = static_cast<long>(c.rows) * c.cols;
  if (cells > k_max_cells)
    r.fail_config(fmt::format("array.rows x array.cols = {} x {} = {} cells would need about {:.0f} GiB; at most {} cells",
                              c.rows, c.cols, cells, cells * k_bytes_per_cell / (1 << 30), k_max_cells));
  // The whole run must fit the machine even at the optimistic per-cell figure above (the KLU
  // path measures several times more): better one line now than the kernel's OOM killer later.
  const double count = c.inputs.source == "file" ? 1 : c.inputs.count;  // a file is sized when read
  const double bytes = static_cast<double>(cells) * k_bytes_per_cell + count * (c.rows + 2.0 * c.cols) * sizeof(double);
  const double machine = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (machine > 0 && bytes > machine)
    r.fail_config(fmt::format("array.rows x array.cols = {} x {} with inputs.count = {} would need at least {:.1f} GiB; "
                              "this machine has {:.1f} GiB",
                              c.rows, c.cols, c.inputs.count, bytes / (1 << 30), machine / (1 << 30)));
}

// [select] model = "table": the law of DEVICE.h5 from `xbar characterize`, loaded by `load`.
void load_select_table(const Resolver& r, RunConfig& c, const SelectTableLoader& load) {
  if (c.cell.select_model != devices::SelectModel::table) return;
  const std::string& file = c.select_file;
  if (file.empty()) r.fail("select.file", "required when select.model = \"table\" (DEVICE.h5 of xbar characterize)");
  try {
    c.cell.select_table = load ? load(file) : load_tabulated_transistor(file);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: key 'select.file' = \"{}\": {}", r.path(), file, e.what()));
  }
  // The array's biases must lie on the table, not in its extrapolation.
  const devices::TableGrid& grid = c.cell.select_table->law.grid();
  auto inside = [](const std::vector<double>& axis, double v) { return v >= axis.front() && v <= axis.back(); };
  for (auto [name, v, axis] : {std::tuple{"bias.v_on", c.cell.v_on, &grid.v_g}, {"bias.v_off", c.cell.v_off, &grid.v_g},
                               {"bias.v_read", c.v_read, &grid.v_s}, {"array.v_sense", c.v_sense, &grid.v_s}})
    if (!inside(*axis, v))
      r.fail_config(fmt::format("key '{}' = {} V is outside the table of '{}' ([{}, {}] V): run xbar characterize "
                                "with this config (-c)", name, v, file, axis->front(), axis->back()));
}

// weights.kind follows [mapping] unless set; file sources need their file and dataset.
void check_sources(const Resolver& r, RunConfig& c) {
  WeightsConfig& w = c.weights;
  const bool mapped = c.mapping != engine::MappingScheme::none;
  if (!r.has("weights.kind")) w.kind = mapped ? "real" : "level";
  if (mapped != (w.kind == "real"))
    r.fail("weights.kind", mapped ? "must be \"real\" with a [mapping] section" : "\"real\" needs a [mapping] section");
  auto require_file = [&](const char* section, const std::string& source, const std::string& file,
                          const std::string& dataset) {
    if (source == "file" && (file.empty() || dataset.empty()))
      r.fail(fmt::format("{}.{}", section, file.empty() ? "file" : "dataset"),
             fmt::format("required when {}.source = \"file\"", section));
  };
  require_file("weights", w.source, w.file, w.dataset);
  require_file("inputs", c.inputs.source, c.inputs.file, c.inputs.dataset);
  const bool sonos = c.cell.is_sonos();
  if (w.source == "file" && ((w.kind == "vt" && !sonos) || (w.kind == "conductance" && sonos)))
    r.fail("weights.kind", sonos ? "must be \"level\" or \"vt\" for 2t-sonos"
                                 : "must be \"level\" or \"conductance\" for resistor cells");
}

// Checks across keys, after every key has been read on its own.
void check_consistency(const Resolver& r, const RunConfig& c) {
  // With 0 <= eta < n the EKV current rises with V_D and falls with V_S, so the network has one
  // solution; outside, the law folds back and Newton may find any of several.
  auto eta_range = [&](const char* key, const devices::EkvParams& law, const char* n_key) {
    if (!(law.eta >= 0 && law.eta < law.n))
      r.fail(key, fmt::format("must be in [0, {} = {}) (the EKV law is monotone only there)", n_key, law.n));
  };
  eta_range("sonos.eta", c.cell.sonos, "sonos.n");
  eta_range("select.eta", c.cell.select, "select.n");
  if (c.cell.is_sonos() && !(c.v_read > 0))
    r.fail("bias.v_read", "must be > 0 for 2t-sonos (program-verify and G_max = sonos.i_max / v_read read at it)");
  const TableConfig& t = c.table;
  for (auto [lo, hi, name] : {std::tuple{t.v_bl_min, t.v_bl_max, "table.v_bl"}, {t.v_sup_min, t.v_sup_max, "table.v_sup"}})
    if (lo && hi && !(*lo < *hi)) r.fail(std::string(name) + "_min", fmt::format("must be below {}_max = {}", name, *hi));
}

}  // namespace

double RunConfig::g_max() const {
  return cell.is_sonos() ? sonos_levels.max / v_read : resistor_levels.max;
}

RunConfig resolve(const ConfigValues& values, const std::string& path, const SelectTableLoader& load_table) {
  const Resolver r(values, path);
  RunConfig c;
  c.path = path;
  c.values = values;
  r.set_keys(c);
  c.cell.select.i_s = devices::select_specific_current(c.cell.select.n, c.select_beta);
  check_size(r, c);
  load_select_table(r, c, load_table);
  check_sources(r, c);
  check_consistency(r, c);
  if (c.r_hat_p) c.lines.r_col = *c.r_hat_p / c.g_max();
  c.text = effective_config_text(c);
  return c;
}

RunConfig parse_config(const std::string& text, const std::string& path,
                       const std::vector<std::string>& overrides, const std::string& override_origin) {
  return resolve(read_config_document(text, path, overrides, override_origin).values, path);
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_config(read_config_text(path), path, overrides);
}

}  // namespace xbar::io
