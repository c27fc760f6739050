#include "studies/sweep_spec.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "io/config_schema.hpp"
#include "io/config_toml.hpp"
#include "io/device_file.hpp"

namespace xbar::studies {

namespace {

using io::InputError;

const char* const k_combined_help =
    "a key without a dot is a combined axis: an array of tables "
    "{ name = \"...\", \"section.key\" = value, ... }";

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& what) {
  throw InputError(fmt::format("{}: [sweep] '{}': {}", path, key, what));
}

bool is_config_key(const std::string& key) { return io::find_key(key) != nullptr; }

// Where a point's values come from: the [sweep] table of the study's file.
struct Origin {
  std::string path;    ///< the study's file, for messages about the [sweep] table itself
  std::string where;   ///< "FILE: [sweep]", for messages about a value
  std::string folder;  ///< relative file names are taken from the study file's folder
};

// The config's did-you-mean, or the one key that ends in ".key" ("rows" -> "array.rows").
std::string suggestion(const std::string& key) {
  const std::string close = io::key_suggestion(key);
  if (!close.empty()) return close;
  std::vector<std::string> matches;
  for (const std::string& known : io::known_config_keys())
    if (known.size() > key.size() && known.ends_with("." + key)) matches.push_back(known);
  return matches.size() == 1 ? fmt::format(" (did you mean '{}'?)", matches.front()) : "";
}

std::string toml_text(const toml::node& node) {
  std::ostringstream os;
  node.visit([&os](const auto& value) { os << value; });
  return os.str();
}

// One scalar value of `key`: its label, its number if it is one, and the value it sets.
AxisValue scalar_value(const Origin& o, const std::string& axis, const std::string& key, const toml::node& node) {
  AxisValue v;
  if (const auto i = node.value_exact<std::int64_t>()) {
    v.label = fmt::format("{}", *i);
    v.number = static_cast<double>(*i);
  } else if (const auto d = node.value_exact<double>()) {
    v.label = fmt::format("{}", *d);
    v.number = *d;
  } else if (const auto s = node.value_exact<std::string>()) {
    v.label = *s;
  } else if (const auto b = node.value_exact<bool>()) {
    v.label = *b ? "true" : "false";
  } else {
    fail(o.path, axis, fmt::format("value {} of '{}': must be a number, string or boolean", toml_text(node), key));
  }
  v.settings[key] = io::set_value(key, node, o.where, o.folder);
  return v;
}

const toml::array& values_of(const std::string& path, const std::string& key, const toml::node& node) {
  const toml::array* values = node.as_array();
  if (!values || values->empty()) fail(path, key, "must be a non-empty array of values");
  return *values;
}

Axis config_axis(const Origin& o, const std::string& key, const toml::node& node) {
  if (!is_config_key(key))
    fail(o.path, key, fmt::format("not a config key{}", suggestion(key)));
  Axis axis{key, {}};
  for (const toml::node& value : values_of(o.path, key, node))
    axis.values.push_back(scalar_value(o, key, key, value));
  return axis;
}

// A named set of config keys, one value of a combined axis.
AxisValue combined_value(const Origin& o, const std::string& axis, const toml::node& node) {
  const std::string& path = o.path;
  const toml::table* table = node.as_table();
  if (!table) fail(path, axis, k_combined_help);
  const auto name = (*table)["name"].value_exact<std::string>();
  if (!name || name->empty()) fail(path, axis, "every value needs a non-empty string 'name'");
  AxisValue value{*name, std::nullopt, {}};
  for (const auto& [k, v] : *table) {
    const std::string key(k.str());
    if (key == "name") continue;
    if (!is_config_key(key))
      fail(path, axis, fmt::format("value '{}': '{}' is not a config key{}", *name, key,
                                   suggestion(key)));
    value.settings.merge(scalar_value(o, axis, key, v).settings);
  }
  return value;
}

Axis combined_axis(const Origin& o, const std::string& label, const toml::node& node) {
  const std::string& path = o.path;
  const toml::array* values = node.as_array();
  if (!values || values->empty() || !values->front().is_table())
    fail(path, label, fmt::format("not a config key{}; {}", suggestion(label), k_combined_help));
  Axis axis{label, {}};
  std::set<std::string> names;
  for (const toml::node& value : *values) {
    axis.values.push_back(combined_value(o, label, value));
    if (!names.insert(axis.values.back().label).second)
      fail(path, label, fmt::format("name '{}' given twice", axis.values.back().label));
  }
  return axis;
}

// The [sweep] keys in file order (source position), then those only added by --set.
std::vector<std::string> axis_order(const toml::table& sweep, const std::string& original_text) {
  const toml::table original = toml::parse(original_text);
  const toml::table* in_file = original["sweep"].as_table();
  std::vector<std::pair<std::pair<long, long>, std::string>> keyed;
  for (const auto& [key, node] : sweep) {
    const toml::node* source = in_file ? in_file->get(key.str()) : nullptr;
    const auto position = source ? std::pair<long, long>(source->source().begin.line, source->source().begin.column)
                                 : std::pair<long, long>(1L << 40, 0);
    keyed.push_back({position, std::string(key.str())});
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> keys;
  for (auto& k : keyed) keys.push_back(std::move(k.second));
  return keys;
}

// [sweep] max_points: the largest number of points accepted (an integer, not an axis).
constexpr const char* k_max_points_key = "max_points";
constexpr std::int64_t k_default_max_points = 10000, k_max_points_limit = std::int64_t{1} << 30;

std::size_t max_points(const toml::table& sweep, const std::string& path) {
  const toml::node* node = sweep.get(k_max_points_key);
  if (!node) return k_default_max_points;
  const auto n = node->value_exact<std::int64_t>();
  if (!n || *n < 1 || *n > k_max_points_limit)
    throw InputError(fmt::format("{}: key 'sweep.max_points' = {}: must be an integer in [1, {}]", path,
                                 io::shorten(toml_text(*node)), k_max_points_limit));
  return static_cast<std::size_t>(*n);
}

// The product of the axes' lengths, refused above `limit` before any point is built (a product
// of long axes would otherwise wrap around or take forever).
std::size_t point_count(const std::vector<Axis>& axes, std::size_t limit, const std::string& path) {
  std::vector<std::size_t> lengths;
  double product = 1;  // exact enough to report, never wraps
  for (const Axis& axis : axes) {
    lengths.push_back(axis.values.size());
    product *= static_cast<double>(axis.values.size());
  }
  if (product > static_cast<double>(limit))
    throw InputError(fmt::format("{}: [sweep] axes of {} values make {:.4g} points, more than sweep.max_points = {} "
                                 "(to run them, set max_points = N in [sweep])",
                                 path, fmt::join(lengths, " x "), product, limit));
  return static_cast<std::size_t>(product);
}

std::vector<Axis> parse_axes(const toml::table& sweep, const std::string& original_text, const Origin& o) {
  std::vector<Axis> axes;
  std::set<std::string> swept;
  for (const std::string& key : axis_order(sweep, original_text)) {
    if (key == k_max_points_key) continue;
    const toml::node& node = *sweep.get(key);
    axes.push_back(key.find('.') == std::string::npos ? combined_axis(o, key, node) : config_axis(o, key, node));
    std::set<std::string> keys_of_axis;
    for (const AxisValue& v : axes.back().values)
      for (const auto& [k, value] : v.settings) keys_of_axis.insert(k);
    for (const std::string& k : keys_of_axis)
      if (!swept.insert(k).second) fail(o.path, key, fmt::format("'{}' is already set by another axis", k));
  }
  return axes;
}

// The values every point starts from: the study's, without a key that a swept key replaces
// (array.r_col and array.r_hat_p set the same resistance).
io::ConfigValues point_base(io::ConfigValues values, const std::vector<Axis>& axes) {
  for (const Axis& axis : axes)
    for (const AxisValue& v : axis.values)
      for (const auto& [key, value] : v.settings)
        if (const io::KeySpec* spec = io::find_key(key); spec && !spec->same_quantity.empty())
          values.erase(spec->same_quantity);
  return values;
}

// The study as written into SWEEP.h5: the points' common config, complete but for the keys
// that every value of an axis sets (and the keys of the same quantity), then the [sweep] table.
// Each point's derived values are datasets of their own (sweep_file.hpp).
std::string study_text(const io::RunConfig& base, const std::vector<Axis>& axes, const toml::table& sweep) {
  std::set<std::string> omit;
  for (const Axis& axis : axes)
    for (const auto& [key, value] : axis.values.front().settings)
      if (std::all_of(axis.values.begin(), axis.values.end(), [&](const AxisValue& v) { return v.settings.contains(key); })) {
        omit.insert(key);
        if (const io::KeySpec* spec = io::find_key(key)) omit.insert(spec->same_quantity);
      }
  toml::table only_sweep;
  only_sweep.insert("sweep", sweep);
  std::ostringstream os;
  os << only_sweep;
  return io::effective_config_text(base, false, omit) + "\n" + os.str() + "\n";
}

}  // namespace

bool Axis::numeric() const {
  return std::all_of(values.begin(), values.end(), [](const AxisValue& v) { return v.number.has_value(); });
}

std::vector<std::size_t> SweepSpec::shape() const {
  std::vector<std::size_t> extents;
  for (const Axis& a : axes) extents.push_back(a.values.size());
  return extents;
}

std::vector<std::size_t> SweepSpec::coordinates(std::size_t point) const {
  std::vector<std::size_t> index(axes.size());
  for (std::size_t k = axes.size(); k-- > 0;) {
    index[k] = point % axes[k].values.size();
    point /= axes[k].values.size();
  }
  return index;
}

std::string SweepSpec::describe(std::size_t point) const {
  const std::vector<std::size_t> index = coordinates(point);
  std::vector<std::string> parts;
  for (std::size_t k = 0; k < axes.size(); ++k)
    parts.push_back(fmt::format("{} = {}", axes[k].name, axes[k].values[index[k]].label));
  return fmt::format("{}", fmt::join(parts, ", "));
}

SweepSpec parse_sweep(const std::string& text, const std::string& path,
                      const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.path = path;
  const io::ConfigDocument document = io::read_config_document(text, path, overrides, io::k_command_line);
  // A select table is read once for the whole study, however many points use it.
  std::map<std::string, std::shared_ptr<const devices::TabulatedTransistor>> tables;
  const io::SelectTableLoader load = [&tables](const std::string& file) {
    std::shared_ptr<const devices::TabulatedTransistor>& table = tables[file];
    if (!table) table = io::load_tabulated_transistor(file);
    return table;
  };
  io::resolve(document.values, path, load);  // validates the base
  const toml::table* sweep = document.root["sweep"].as_table();
  if (!sweep || sweep->empty())
    throw InputError(fmt::format("{}: no [sweep] table (e.g. [sweep] \"array.r_hat_p\" = [1e-6, 1e-5])", path));
  spec.axes = parse_axes(*sweep, text, {path, path + ": [sweep]", io::file_folder(path)});
  if (spec.axes.empty())
    throw InputError(fmt::format("{}: [sweep] has no axis (e.g. [sweep] \"array.r_hat_p\" = [1e-6, 1e-5])", path));
  const std::size_t count = point_count(spec.axes, max_points(*sweep, path), path);
  const io::ConfigValues base = point_base(document.values, spec.axes);
  spec.config_text = study_text(io::resolve(base, path, load), spec.axes, *sweep);
  for (std::size_t p = 0; p < count; ++p) {
    io::ConfigValues values = base;
    const std::vector<std::size_t> index = spec.coordinates(p);
    for (std::size_t k = 0; k < spec.axes.size(); ++k)
      for (const auto& [key, value] : spec.axes[k].values[index[k]].settings) values[key] = value;
    try {
      spec.points.push_back(io::resolve(values, path, load));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} (sweep point {})", e.what(), spec.describe(p)));
    }
  }
  return spec;
}

}  // namespace xbar::studies
