#pragma once
// The config schema: every key declared once, with its type, range, help and the RunConfig field
// it sets (like a command-line flag library: one definition per flag). A key's default is the
// value of that field in a default-constructed RunConfig, whose members take it from the device,
// solver and engine structs, so no default is typed twice. From this table come the per-key
// checks and their messages, the did-you-mean for unknown keys, `xbar config --list`, and the
// complete effective config written into every output, with its [derived] section.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/config.hpp"

namespace xbar::io {

enum class KeyType {
  boolean,
  integer,  ///< in [int_lo, int_hi]
  number,   ///< finite, in `range`, not subnormal
  choice,   ///< one of `choices`
  text,     ///< a non-empty string
  file,     ///< a non-empty string naming a file (relative to the config's folder)
  sigma,    ///< a number >= 0, or "sonos-fit"
};

struct NumberRange {
  double lo = -std::numeric_limits<double>::infinity();  ///< +-inf: no bound
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
};

struct KeySpec {
  std::string key;  ///< "section.name"
  KeyType type;
  std::string help;  ///< one line, with the unit
  std::int64_t int_lo = 0, int_hi = 0;
  NumberRange range;
  std::vector<std::string> choices;
  /// Shown instead of the default when it depends on other keys, or when there is none.
  std::string default_note;
  /// The key whose quantity this one also sets (array.r_col <-> array.r_hat_p): an override or
  /// a sweep axis of one drops the other from the config it applies to.
  std::string same_quantity;
  /// Whether the key may be set, given the keys before it (schema order); when not, `only_with`
  /// says why, and the effective config leaves the key out.
  std::function<bool(const RunConfig&)> applies;
  std::string only_with;
  /// The field's value (nullopt: unset), and the setter of a checked value.
  std::function<std::optional<ConfigValue>(const RunConfig&)> get;
  std::function<void(RunConfig&, const ConfigValue&)> set;

  /// What the key accepts: "must be an integer in [1, 1048576]".
  std::string allowed() const;
  /// The value in its checked form (an integer given for a number becomes a double), or nullopt
  /// when `value` is not allowed. Subnormal numbers are refused (see subnormal_note()).
  std::optional<ConfigValue> check(const ConfigValue& value) const;
  /// allowed(), and for a subnormal number why it is refused.
  std::string refusal(const ConfigValue& value) const;
};

/// Every key, in the order of the README's table (and of the effective config).
const std::vector<KeySpec>& config_schema();
/// The key's spec, or nullptr for an unknown key.
const KeySpec* find_key(const std::string& key);

/// Sections whose keys are not config keys: [sweep] (the axes, studies/sweep_spec.hpp) and
/// [derived] (written by xbar, recomputed when a config is read).
bool is_free_section(const std::string& section);
bool is_schema_section(const std::string& section);

/// A value derived from the keys, resolved once and written as `derived.<name>` into every
/// output, so that readers never derive it again.
struct DerivedKey {
  std::string name;
  std::string help;
  std::function<ConfigValue(const RunConfig&)> value;
};
const std::vector<DerivedKey>& derived_keys();
inline constexpr const char* k_derived_section = "derived";
/// The numeric derived value `derived.<name>` of c (the one definition, as every output writes
/// it). Throws std::logic_error for a name that is not a numeric derived key.
double derived_number(const RunConfig& c, std::string_view name);

/// " (did you mean 'array.r_col'?)" for the closest known key, or "" if none is close.
std::string key_suggestion(const std::string& key);
/// Every key the config accepts, "section.key".
std::vector<std::string> known_config_keys();

/// A value as TOML writes it ("1e-06", "\"2t-sonos\"", "true").
std::string toml_value_text(const ConfigValue& value);
/// The complete effective config of `c` as TOML: every key that has a value, in schema order,
/// then [derived]. A study leaves out its derived values and the keys its axes set (`omit`).
std::string effective_config_text(const RunConfig& c, bool with_derived = true,
                                  const std::set<std::string>& omit = {});
/// `xbar config --list`: every key with its type and range, default and help; then the
/// derived values.
std::string config_key_listing();

}  // namespace xbar::io
