#include "studies/sweep_spec.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace xbar::studies {

namespace {

using io::InputError;

// Keys that set the same quantity: sweeping one removes the other from the base config.
const std::vector<std::pair<std::string, std::string>> k_same_quantity = {
    {"array.r_col", "array.r_hat_p"}};

const char* const k_combined_help =
    "a key without a dot is a combined axis: an array of tables "
    "{ name = \"...\", \"section.key\" = value, ... }";

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& what) {
  throw InputError(fmt::format("{}: [sweep] '{}': {}", path, key, what));
}

bool is_config_key(const std::string& key) {
  const std::vector<std::string>& known = io::known_config_keys();
  return std::find(known.begin(), known.end(), key) != known.end();
}

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

// One scalar value of `key`: its label, its number if it is one, and the override.
AxisValue scalar_value(const std::string& path, const std::string& axis, const std::string& key,
                       const toml::node& node) {
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
    fail(path, axis, fmt::format("value {} of '{}': must be a number, string or boolean",
                                 toml_text(node), key));
  }
  v.overrides = {key + "=" + toml_text(node)};
  return v;
}

const toml::array& values_of(const std::string& path, const std::string& key, const toml::node& node) {
  const toml::array* values = node.as_array();
  if (!values || values->empty()) fail(path, key, "must be a non-empty array of values");
  return *values;
}

Axis config_axis(const std::string& path, const std::string& key, const toml::node& node) {
  if (!is_config_key(key))
    fail(path, key, fmt::format("not a config key{}", suggestion(key)));
  Axis axis{key, {}};
  for (const toml::node& value : values_of(path, key, node))
    axis.values.push_back(scalar_value(path, key, key, value));
  return axis;
}

// A named set of config keys, one value of a combined axis.
AxisValue combined_value(const std::string& path, const std::string& axis, const toml::node& node) {
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
    value.overrides.push_back(scalar_value(path, axis, key, v).overrides.front());
  }
  return value;
}

Axis combined_axis(const std::string& path, const std::string& label, const toml::node& node) {
  const toml::array* values = node.as_array();
  if (!values || values->empty() || !values->front().is_table())
    fail(path, label, fmt::format("not a config key{}; {}", suggestion(label), k_combined_help));
  Axis axis{label, {}};
  std::set<std::string> names;
  for (const toml::node& value : *values) {
    axis.values.push_back(combined_value(path, label, value));
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

std::vector<Axis> parse_axes(const toml::table& sweep, const std::string& original_text,
                             const std::string& path) {
  std::vector<Axis> axes;
  std::set<std::string> swept;
  for (const std::string& key : axis_order(sweep, original_text)) {
    if (key == k_max_points_key) continue;
    const toml::node& node = *sweep.get(key);
    axes.push_back(key.find('.') == std::string::npos ? combined_axis(path, key, node)
                                                      : config_axis(path, key, node));
    std::set<std::string> keys_of_axis;
    for (const AxisValue& v : axes.back().values)
      for (const std::string& o : v.overrides) keys_of_axis.insert(o.substr(0, o.find('=')));
    for (const std::string& k : keys_of_axis)
      if (!swept.insert(k).second) fail(path, key, fmt::format("'{}' is already set by another axis", k));
  }
  return axes;
}

void erase_key(toml::table& root, const std::string& dotted) {
  const auto dot = dotted.find('.');
  if (toml::table* section = root[dotted.substr(0, dot)].as_table()) section->erase(dotted.substr(dot + 1));
}

// The base config of every point: no [sweep] table, and no key that a swept key replaces.
std::string point_base_text(toml::table root, const std::vector<Axis>& axes) {
  root.erase("sweep");
  for (const Axis& axis : axes)
    for (const AxisValue& v : axis.values)
      for (const std::string& o : v.overrides) {
        const std::string key = o.substr(0, o.find('='));
        for (const auto& [a, b] : k_same_quantity) {
          if (key == a) erase_key(root, b);
          if (key == b) erase_key(root, a);
        }
      }
  std::ostringstream os;
  os << root;
  return os.str() + "\n";
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
  spec.config_text = io::parse_config(text, path, overrides).text;  // validates the base
  const toml::table effective = toml::parse(spec.config_text);
  const toml::table* sweep = effective["sweep"].as_table();
  if (!sweep || sweep->empty())
    throw InputError(fmt::format("{}: no [sweep] table (e.g. [sweep] \"array.r_hat_p\" = [1e-6, 1e-5])", path));
  spec.axes = parse_axes(*sweep, text, path);
  if (spec.axes.empty())
    throw InputError(fmt::format("{}: [sweep] has no axis (e.g. [sweep] \"array.r_hat_p\" = [1e-6, 1e-5])", path));
  const std::size_t count = point_count(spec.axes, max_points(*sweep, path), path);
  const std::string base = point_base_text(effective, spec.axes);
  for (std::size_t p = 0; p < count; ++p) {
    std::vector<std::string> point_overrides;
    const std::vector<std::size_t> index = spec.coordinates(p);
    for (std::size_t k = 0; k < spec.axes.size(); ++k)
      for (const std::string& o : spec.axes[k].values[index[k]].overrides) point_overrides.push_back(o);
    try {
      spec.points.push_back(io::parse_config(base, path, point_overrides, path + ": [sweep]"));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} (sweep point {})", e.what(), spec.describe(p)));
    }
  }
  return spec;
}

}  // namespace xbar::studies
