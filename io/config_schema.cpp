#include "io/config_schema.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace xbar::io {

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();
constexpr std::int64_t k_max_seed = std::numeric_limits<long>::max();
constexpr std::int64_t k_max_count = 1 << 20;
// The table's voltage grid spans circuit biases; beyond this its steps overflow.
constexpr double k_max_table_voltage = 1e3;
// resistor.v0 when resistor.law = "sinh" and v0 is not given (V).
constexpr double k_sinh_v0 = 0.25;

const NumberRange k_any{};
const NumberRange k_non_negative{0, k_inf};
const NumberRange k_positive{0, k_inf, true};

// A reference to a RunConfig member, for const and non-const configs alike.
#define XBAR_FIELD(member) [](auto& c) -> auto& { return c.member; }

template <class Field>
using FieldType = std::remove_cvref_t<decltype(std::declval<Field>()(std::declval<RunConfig&>()))>;

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

KeySpec spec(std::string key, KeyType type, std::string help) {
  KeySpec k;
  k.key = std::move(key), k.type = type, k.help = std::move(help);
  return k;
}

template <class Field>
KeySpec integer(std::string key, std::int64_t lo, std::int64_t hi, Field field, std::string help) {
  KeySpec k = spec(std::move(key), KeyType::integer, std::move(help));
  k.int_lo = lo, k.int_hi = hi;
  k.get = [field](const RunConfig& c) -> std::optional<ConfigValue> { return static_cast<std::int64_t>(field(c)); };
  k.set = [field](RunConfig& c, const ConfigValue& v) {
    field(c) = static_cast<FieldType<Field>>(std::get<std::int64_t>(v));
  };
  return k;
}

// A double, or an optional<double> that is unset by default.
template <class Field>
KeySpec number(std::string key, NumberRange range, Field field, std::string help) {
  KeySpec k = spec(std::move(key), KeyType::number, std::move(help));
  k.range = range;
  k.get = [field](const RunConfig& c) -> std::optional<ConfigValue> {
    if constexpr (IsOptional<FieldType<Field>>::value) {
      if (!field(c)) return std::nullopt;
      return *field(c);
    } else {
      return field(c);
    }
  };
  k.set = [field](RunConfig& c, const ConfigValue& v) { field(c) = std::get<double>(v); };
  return k;
}

template <class Field>
KeySpec boolean(std::string key, Field field, std::string help) {
  KeySpec k = spec(std::move(key), KeyType::boolean, std::move(help));
  k.get = [field](const RunConfig& c) -> std::optional<ConfigValue> { return field(c); };
  k.set = [field](RunConfig& c, const ConfigValue& v) { field(c) = std::get<bool>(v); };
  return k;
}

// A string member; an empty one is unset. type: choice, text or file.
template <class Field>
KeySpec string(std::string key, KeyType type, std::vector<std::string> choices, Field field, std::string help) {
  KeySpec k = spec(std::move(key), type, std::move(help));
  k.choices = std::move(choices);
  k.get = [field](const RunConfig& c) -> std::optional<ConfigValue> {
    if (field(c).empty()) return std::nullopt;
    return field(c);
  };
  k.set = [field](RunConfig& c, const ConfigValue& v) { field(c) = std::get<std::string>(v); };
  return k;
}

// An enum member and its config spellings (the one codec of each, devices/ and engine/).
template <class Field, class ToString, class Parse>
KeySpec spelled(std::string key, std::vector<std::string> choices, Field field, ToString to_string, Parse parse,
                std::string help) {
  KeySpec k = spec(std::move(key), KeyType::choice, std::move(help));
  k.choices = std::move(choices);
  k.get = [field, to_string](const RunConfig& c) -> std::optional<ConfigValue> {
    const std::string name(to_string(field(c)));
    if (name.empty()) return std::nullopt;
    return name;
  };
  k.set = [field, parse](RunConfig& c, const ConfigValue& v) { field(c) = *parse(std::get<std::string>(v)); };
  return k;
}

template <class Field>
KeySpec sigma(std::string key, Field field, std::string help) {
  KeySpec k = spec(std::move(key), KeyType::sigma, std::move(help));
  k.get = [field](const RunConfig& c) -> std::optional<ConfigValue> {
    const engine::VariationSigma& s = field(c);
    if (s.sonos_fit) return std::string("sonos-fit");
    return s.value;
  };
  k.set = [field](RunConfig& c, const ConfigValue& v) {
    field(c) = std::holds_alternative<std::string>(v) ? engine::VariationSigma{0, true}
                                                      : engine::VariationSigma{std::get<double>(v), false};
  };
  return k;
}

KeySpec only(KeySpec k, std::function<bool(const RunConfig&)> applies, std::string why) {
  k.applies = std::move(applies), k.only_with = std::move(why);
  return k;
}

KeySpec noted(KeySpec k, std::string default_note) {
  k.default_note = std::move(default_note);
  return k;
}

bool select_ekv_keys_apply(const RunConfig& c) { return c.cell.select_model != devices::SelectModel::table; }
KeySpec select_ekv(KeySpec k) {
  return only(std::move(k), select_ekv_keys_apply, "is an EKV parameter: not used with select.model = \"table\"");
}

KeySpec source_file_key(KeySpec k, const std::string& section) {
  const bool weights = section == "weights";
  std::string why = fmt::format("is only used with {}.source = \"file\" (set it, or remove {})", section, k.key);
  return only(std::move(k), [weights](const RunConfig& c) { return (weights ? c.weights.source : c.inputs.source) == "file"; },
              std::move(why));
}

std::vector<KeySpec> array_and_device_keys() {
  KeySpec r_col = number("array.r_col", k_non_negative, XBAR_FIELD(lines.r_col),
                         "bit-line resistance per segment (ohm); 0 merges the nodes");
  r_col.same_quantity = "array.r_hat_p";
  r_col = only(std::move(r_col), [](const RunConfig& c) { return !c.r_hat_p; },
               "array.r_hat_p sets it too (r_col = r_hat_p / G_max): give one");
  KeySpec r_hat_p = number("array.r_hat_p", k_positive, XBAR_FIELD(r_hat_p),
                           "normalised bit-line resistance R_p G_max: sets r_col = r_hat_p / G_max");
  r_hat_p.same_quantity = "array.r_col";
  KeySpec law = spec("resistor.law", KeyType::choice, "resistor law: I = G V, or I = G v0 sinh(V / v0)");
  law.choices = {"linear", "sinh"};
  law.get = [](const RunConfig& c) -> std::optional<ConfigValue> {
    return std::string(c.cell.resistor.is_linear() ? "linear" : "sinh");
  };
  law.set = [](RunConfig& c, const ConfigValue& v) {
    const bool sinh = std::get<std::string>(v) == "sinh";
    c.cell.resistor.v0 = sinh ? (c.cell.resistor.is_linear() ? k_sinh_v0 : c.cell.resistor.v0) : 0.0;
  };
  KeySpec beta = number("select.beta", k_positive, XBAR_FIELD(select_beta), "select FET beta (A/V^2): I_S = 2 n beta U_T^2");
  return {
      integer("array.rows", 1, k_max_count, XBAR_FIELD(rows), "rows (word lines)"),
      integer("array.cols", 1, k_max_count, XBAR_FIELD(cols),
              "columns: logical outputs with [mapping], else bit lines"),
      spelled("array.cell", devices::cell_kind_names(), XBAR_FIELD(cell.kind),
              [](devices::CellKind k) { return devices::to_string(k); }, devices::parse_cell_kind,
              "cell kind: resistor, select FET + resistor, select FET + SONOS"),
      number("array.r_row", k_non_negative, XBAR_FIELD(lines.r_row), "row-line resistance per segment (ohm)"),
      std::move(r_hat_p),
      std::move(r_col),
      number("array.r_driver", k_non_negative, XBAR_FIELD(lines.r_driver), "row driver resistance (ohm)"),
      number("array.r_sense", k_non_negative, XBAR_FIELD(lines.r_sense), "sense-amplifier input resistance (ohm)"),
      number("array.v_sense", k_any, XBAR_FIELD(v_sense), "virtual ground of the sense amplifiers (V)"),
      number("bias.v_read", k_any, XBAR_FIELD(v_read), "row drive of select cells, full-scale input of 1r cells (V)"),
      number("bias.v_on", k_any, XBAR_FIELD(cell.v_on), "select gate when the input bit is 1 (V)"),
      number("bias.v_off", k_any, XBAR_FIELD(cell.v_off), "select gate when the input bit is 0 (V)"),
      number("bias.v_wl", k_any, XBAR_FIELD(cell.v_wl), "SONOS control gate (V)"),
      number("sonos.n", k_positive, XBAR_FIELD(cell.sonos.n), "SONOS EKV slope factor"),
      number("sonos.i_s", k_positive, XBAR_FIELD(cell.sonos.i_s), "SONOS EKV specific current (A)"),
      number("sonos.eta", k_any, XBAR_FIELD(cell.sonos.eta), "SONOS DIBL coefficient, in [0, sonos.n)"),
      integer("sonos.levels", 2, 1 << 16, XBAR_FIELD(sonos_levels.levels), "SONOS weight levels L"),
      number("sonos.i_max", k_positive, XBAR_FIELD(sonos_levels.max), "current of the top level (A)"),
      number("sonos.on_off", {1, k_inf, true}, XBAR_FIELD(sonos_levels.on_off), "i_max / current of level 0"),
      spelled("select.model", devices::select_model_names(), XBAR_FIELD(cell.select_model),
              [](devices::SelectModel m) { return devices::to_string(m); }, devices::parse_select_model,
              "select FET law: EKV, an ideal switch, or the table of select.file"),
      select_ekv(number("select.n", k_positive, XBAR_FIELD(cell.select.n), "select FET EKV slope factor")),
      select_ekv(std::move(beta)),
      select_ekv(number("select.eta", k_any, XBAR_FIELD(cell.select.eta), "select FET DIBL coefficient, in [0, select.n)")),
      select_ekv(number("select.vt", k_any, XBAR_FIELD(cell.select.vt), "select FET threshold voltage (V)")),
      only(noted(string("select.file", KeyType::file, {}, XBAR_FIELD(select_file), "DEVICE.h5 of xbar characterize"),
                 "(none; required with model = \"table\")"),
           [](const RunConfig& c) { return c.cell.select_model == devices::SelectModel::table; },
           "needs select.model = \"table\""),
      number("resistor.g_max", k_positive, XBAR_FIELD(resistor_levels.max), "conductance of the top level (S)"),
      number("resistor.on_off", {1, k_inf}, XBAR_FIELD(resistor_levels.on_off), "g_max / conductance of level 0"),
      integer("resistor.levels", 2, 1 << 16, XBAR_FIELD(resistor_levels.levels), "resistor weight levels L"),
      std::move(law),
      only(noted(number("resistor.v0", k_positive, XBAR_FIELD(cell.resistor.v0), "sinh law scale voltage (V)"),
                 fmt::format("{} with law = \"sinh\"", k_sinh_v0)),
           [](const RunConfig& c) { return !c.cell.resistor.is_linear(); }, "needs resistor.law = \"sinh\""),
      noted(spelled("mapping.scheme", {"differential", "offset"}, XBAR_FIELD(mapping),
                    [](engine::MappingScheme m) { return engine::to_string(m); },
                    [](const std::string& s) { return std::optional(engine::parse_mapping(s)); },
                    "signed weights: two columns per output, or one plus a reference column"),
            "(none: weights are levels or physical)"),
  };
}

std::vector<KeySpec> source_keys() {
  return {
      string("weights.source", KeyType::choice, {"random", "file"}, XBAR_FIELD(weights.source), "where the weights come from"),
      integer("weights.seed", 0, k_max_seed, XBAR_FIELD(weights.seed), "seed of random weights"),
      string("weights.distribution", KeyType::choice, {"uniform", "laplace", "normal"}, XBAR_FIELD(weights.distribution),
             "random weights: uniform, or zero-peaked magnitudes"),
      number("weights.clip_quantile", {0, 1, true}, XBAR_FIELD(weights.clip_quantile),
             "laplace/normal: quantile of |w| that maps to full scale"),
      source_file_key(string("weights.file", KeyType::file, {}, XBAR_FIELD(weights.file), "HDF5 file of the weights"), "weights"),
      source_file_key(string("weights.dataset", KeyType::text, {}, XBAR_FIELD(weights.dataset), "dataset [rows, cols]"),
                      "weights"),
      noted(string("weights.kind", KeyType::choice, {"level", "vt", "conductance", "real"}, XBAR_FIELD(weights.kind),
                   "what the weights are: levels, V_T (V), G (S), or reals in [-1, 1] with [mapping]"),
            "\"level\"; \"real\" with [mapping]"),
      string("inputs.source", KeyType::choice, {"random", "file"}, XBAR_FIELD(inputs.source), "where the inputs come from"),
      integer("inputs.count", 1, k_max_count, XBAR_FIELD(inputs.count), "random input vectors"),
      number("inputs.activity", {0, 1}, XBAR_FIELD(inputs.activity),
             "fraction of 1 bits (select cells; 1r inputs are uniform in [0, 1])"),
      integer("inputs.seed", 0, k_max_seed, XBAR_FIELD(inputs.seed), "seed of random inputs"),
      source_file_key(string("inputs.file", KeyType::file, {}, XBAR_FIELD(inputs.file), "HDF5 file of the inputs"), "inputs"),
      source_file_key(string("inputs.dataset", KeyType::text, {}, XBAR_FIELD(inputs.dataset), "dataset [count, rows]"),
                      "inputs"),
      sigma("variation.vt_sigma", XBAR_FIELD(variation.vt), "programming error of 2t-sonos V_T (V), or \"sonos-fit\""),
      sigma("variation.g_sigma", XBAR_FIELD(variation.g),
            "programming error of resistor cells (fraction of G_max - G_min), or \"sonos-fit\""),
      integer("variation.seed", 0, k_max_seed, XBAR_FIELD(variation.seed), "seed of the programming error"),
      integer("network.input_bits", 1, 24, XBAR_FIELD(network.input_bits), "network stage: input bits B"),
      integer("network.adc_bits", 0, 24, XBAR_FIELD(network.adc_bits), "network stage: ADC bits (0: no ADC)"),
  };
}

std::vector<KeySpec> run_keys() {
  std::vector<KeySpec> keys = {
      spelled("solver.method", {"auto", "grid", "klu", "lines"}, XBAR_FIELD(newton.method),
              [](solver::Method m) { return solver::to_string(m); }, solver::parse_method,
              "linear backend (auto: chosen by the array)"),
      integer("solver.max_iterations", 1, 100000, XBAR_FIELD(newton.max_iterations), "per Newton run"),
      number("solver.vntol", k_positive, XBAR_FIELD(newton.vntol), "absolute update tolerance (V)"),
      number("solver.reltol", k_non_negative, XBAR_FIELD(newton.reltol), "relative update tolerance"),
      number("solver.abstol", k_positive, XBAR_FIELD(newton.abstol), "KCL tolerance (A)"),
      number("solver.residual_reltol", k_non_negative, XBAR_FIELD(newton.residual_reltol),
             "KCL tolerance relative to each node's rounding scale"),
      number("solver.max_step", k_positive, XBAR_FIELD(newton.max_step), "largest node update per iteration (V)"),
      boolean("solver.gmin_stepping", XBAR_FIELD(newton.gmin_stepping), "fall back to gmin stepping"),
      boolean("solver.source_stepping", XBAR_FIELD(newton.source_stepping), "fall back to source stepping"),
      number("check.tolerance", k_positive, XBAR_FIELD(check.tolerance), "xbar check: relative column-current tolerance"),
      integer("check.max_cells", 1, k_max_cells, XBAR_FIELD(check.max_cells), "xbar check: largest array given to ngspice"),
      integer("check.vectors", 0, k_max_count, XBAR_FIELD(check.vectors), "xbar check: first N input vectors (0: all)"),
      integer("table.samples", 1, k_max_count, XBAR_FIELD(table.samples), "xbar table: random arrays"),
      integer("table.vectors", 1, k_max_count, XBAR_FIELD(table.vectors), "xbar table: input vectors per array"),
      integer("table.threads", 0, 1024, XBAR_FIELD(table.threads), "xbar table: threads (0: every core)"),
      integer("table.row_bins", 1, 1 << 16, XBAR_FIELD(table.row_bins), "xbar table: row-position bins"),
      integer("table.col_bins", 1, 1 << 16, XBAR_FIELD(table.col_bins), "xbar table: column-position bins"),
      integer("table.load_bins", 1, 1 << 16, XBAR_FIELD(table.load_bins), "xbar table: column-load bins"),
      integer("table.v_bl_points", 2, 1 << 14, XBAR_FIELD(table.v_bl_points), "xbar table: bit-line voltages of /cell/current"),
      integer("table.v_sup_points", 2, 1 << 14, XBAR_FIELD(table.v_sup_points), "xbar table: row voltages of /cell/current"),
  };
  const NumberRange voltage{-k_max_table_voltage, k_max_table_voltage};
  for (auto [key, field] : {std::pair{"table.v_bl_min", &TableConfig::v_bl_min}, {"table.v_bl_max", &TableConfig::v_bl_max},
                            {"table.v_sup_min", &TableConfig::v_sup_min}, {"table.v_sup_max", &TableConfig::v_sup_max}})
    keys.push_back(noted(number(key, voltage, [field](auto& c) -> auto& { return c.table.*field; },
                                "xbar table: voltage range of /cell/current (V)"),
                         "(the array's bias range)"));
  return keys;
}

#undef XBAR_FIELD

std::vector<KeySpec> all_keys() {
  std::vector<KeySpec> keys;
  for (auto part : {array_and_device_keys, source_keys, run_keys})
    for (KeySpec& k : part()) keys.push_back(std::move(k));
  return keys;
}

// I_max of SONOS levels; G_max v_read of resistor cells (their full-scale input).
double top_level_current(const RunConfig& c) {
  return c.cell.is_sonos() ? c.sonos_levels.max : c.resistor_levels.max * c.v_read;
}

std::string bound(double x) { return fmt::format("{:g}", x); }

bool is_subnormal(double x) { return x != 0 && std::abs(x) < std::numeric_limits<double>::min(); }

std::optional<double> as_number(const ConfigValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

bool in_range(const NumberRange& r, double x) {
  return std::isfinite(x) && (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi);
}

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

// "[section]\nkey = value\n..." in the order given, a blank line between sections.
void append(std::string& out, std::string& section, const std::string& key, const ConfigValue& value) {
  const auto dot = key.find('.');
  if (key.compare(0, dot, section) != 0 || section.size() != dot) {
    section = key.substr(0, dot);
    out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
  }
  out += fmt::format("{} = {}\n", key.substr(dot + 1), toml_value_text(value));
}

}  // namespace

std::string KeySpec::allowed() const {
  switch (type) {
    case KeyType::boolean: return "must be true or false";
    case KeyType::integer: return fmt::format("must be an integer in [{}, {}]", int_lo, int_hi);
    case KeyType::choice: return fmt::format("must be one of \"{}\"", fmt::join(choices, "\", \""));
    case KeyType::text:
    case KeyType::file: return "must be a non-empty string";
    case KeyType::sigma: return "must be a finite number >= 0 or \"sonos-fit\"";
    case KeyType::number: break;
  }
  if (std::isinf(range.lo) && std::isinf(range.hi)) return "must be a finite number";
  if (std::isinf(range.hi)) return fmt::format("must be a finite number {} {}", range.lo_open ? ">" : ">=", bound(range.lo));
  return fmt::format("must be in {}{}, {}{}", range.lo_open ? "(" : "[", bound(range.lo), bound(range.hi),
                     range.hi_open ? ")" : "]");
}

std::optional<ConfigValue> KeySpec::check(const ConfigValue& value) const {
  const auto* text = std::get_if<std::string>(&value);
  switch (type) {
    case KeyType::boolean:
      if (std::holds_alternative<bool>(value)) return value;
      return std::nullopt;
    case KeyType::integer:
      if (const auto* i = std::get_if<std::int64_t>(&value); i && *i >= int_lo && *i <= int_hi) return value;
      return std::nullopt;
    case KeyType::choice:
      if (text && std::find(choices.begin(), choices.end(), *text) != choices.end()) return value;
      return std::nullopt;
    case KeyType::text:
    case KeyType::file:
      if (text && !text->empty()) return value;
      return std::nullopt;
    case KeyType::sigma:
      if (text) return *text == "sonos-fit" ? std::optional(value) : std::nullopt;
      if (const auto x = as_number(value); x && in_range(k_non_negative, *x) && !is_subnormal(*x)) return *x;
      return std::nullopt;
    case KeyType::number:
      if (const auto x = as_number(value); x && in_range(range, *x) && !is_subnormal(*x)) return *x;
      return std::nullopt;
  }
  return std::nullopt;
}

std::string KeySpec::refusal(const ConfigValue& value) const {
  const auto x = as_number(value);
  if (x && is_subnormal(*x) && (type == KeyType::number || type == KeyType::sigma))
    return fmt::format("{}; subnormal numbers (0 < |x| < {:.3g}) are refused", allowed(),
                       std::numeric_limits<double>::min());
  return allowed();
}

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> keys = all_keys();
  return keys;
}

const KeySpec* find_key(const std::string& key) {
  for (const KeySpec& k : config_schema())
    if (k.key == key) return &k;
  return nullptr;
}

bool is_free_section(const std::string& section) { return section == "sweep" || section == k_derived_section; }

bool is_schema_section(const std::string& section) {
  return std::any_of(config_schema().begin(), config_schema().end(),
                     [&](const KeySpec& k) { return k.key.starts_with(section + "."); });
}

const std::vector<DerivedKey>& derived_keys() {
  static const std::vector<DerivedKey> keys = {
      {"physical_cols", "bit lines of the array (2 cols or cols + 1 with [mapping])",
       [](const RunConfig& c) -> ConfigValue { return std::int64_t{c.physical_cols()}; }},
      {"levels", "weight levels L of the cell kind (sonos.levels or resistor.levels)",
       [](const RunConfig& c) -> ConfigValue { return std::int64_t{c.levels().levels}; }},
      {"g_max", "G_max (S): sonos.i_max / bias.v_read for 2t-sonos, resistor.g_max for resistor cells",
       [](const RunConfig& c) -> ConfigValue { return c.g_max(); }},
      {"r_col", "bit-line resistance per segment solved (ohm): array.r_col, or array.r_hat_p / g_max",
       [](const RunConfig& c) -> ConfigValue { return c.lines.r_col; }},
      {"r_hat_p", "normalised bit-line resistance r_col * g_max",
       [](const RunConfig& c) -> ConfigValue { return c.r_hat_p.value_or(c.lines.r_col * c.g_max()); }},
      {"i_max", "isolated current of the top level at nominal bias (A): sonos.i_max, or g_max * v_read",
       [](const RunConfig& c) -> ConfigValue { return top_level_current(c); }},
      {"i_min", "isolated current of level 0 at nominal bias (A): i_max / on_off",
       [](const RunConfig& c) -> ConfigValue { return top_level_current(c) / c.levels().on_off; }},
  };
  return keys;
}

double derived_number(const RunConfig& c, std::string_view name) {
  for (const DerivedKey& key : derived_keys())
    if (key.name == name)
      if (const std::optional<double> number = as_number(key.value(c))) return *number;
  throw std::logic_error(fmt::format("derived_number: '{}' is not a numeric derived value", name));
}

std::string key_suggestion(const std::string& key) {
  const std::string* best = nullptr;
  std::size_t best_distance = std::max<std::size_t>(3, key.size() / 3) + 1;
  for (const KeySpec& known : config_schema()) {
    const std::size_t d = edit_distance(key, known.key);
    if (d < best_distance) best_distance = d, best = &known.key;
  }
  return best ? fmt::format(" (did you mean '{}'?)", *best) : "";
}

std::vector<std::string> known_config_keys() {
  std::vector<std::string> keys;
  for (const KeySpec& k : config_schema()) keys.push_back(k.key);
  return keys;
}

std::string toml_value_text(const ConfigValue& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&value)) {
    std::string text = fmt::format("{}", *d);  // the shortest text that reads back as the same double
    if (text.find_first_of(".en") == std::string::npos) text += ".0";  // a float, not an integer
    return text;
  }
  toml::table one;  // a string, quoted and escaped as TOML needs
  one.insert("v", std::get<std::string>(value));
  std::ostringstream os;
  os << one;
  return os.str().substr(4);  // after "v = "
}

std::string effective_config_text(const RunConfig& c, bool with_derived, const std::set<std::string>& omit) {
  std::string out, section;
  for (const KeySpec& k : config_schema()) {
    if ((k.applies && !k.applies(c)) || omit.contains(k.key)) continue;
    if (const std::optional<ConfigValue> v = k.get(c)) append(out, section, k.key, *v);
  }
  if (with_derived)
    for (const DerivedKey& d : derived_keys()) append(out, section, fmt::format("{}.{}", k_derived_section, d.name), d.value(c));
  return out;
}

std::string config_key_listing() {
  const RunConfig defaults;
  std::string out = fmt::format("{:<24} {:<42} {:<16} {}\n", "key", "type", "default", "meaning");
  for (const KeySpec& k : config_schema()) {
    std::string type = k.allowed();
    type.erase(0, type.starts_with("must be ") ? 8 : 0);
    const std::optional<ConfigValue> v = k.get(defaults);
    const std::string shown = !k.default_note.empty() ? k.default_note : v ? toml_value_text(*v) : "(unset)";
    out += fmt::format("{:<24} {:<42} {:<16} {}\n", k.key, type, shown, k.help);
  }
  out += fmt::format("\n[{}]: written by xbar into every output, recomputed when a config is read:\n", k_derived_section);
  for (const DerivedKey& d : derived_keys()) out += fmt::format("{}.{:<16} {}\n", k_derived_section, d.name, d.help);
  return out;
}

}  // namespace xbar::io
