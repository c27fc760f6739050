#include "io/config_toml.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "io/config_schema.hpp"

namespace xbar::io {

namespace {

// Keys given as overrides and the text after '='; errors name where they came from ("--set",
// or the sweep's file), not the config file.
struct Overrides {
  std::map<std::string, std::string> values;
  std::string origin;
};

std::string describe(const toml::node& node) {
  std::ostringstream os;
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (const auto d = node.value_exact<double>()) return fmt::format("{}", *d);  // shortest round trip
  node.visit([&os](const auto& value) { os << value; });
  return shorten(os.str());
}

bool is_derived_key(const std::string& name) {
  for (const DerivedKey& d : derived_keys())
    if (d.name == name) return true;
  return false;
}

// Unknown keys are reported before anything else is checked.
void check_known_keys(const toml::table& root, const std::string& path, const Overrides& overrides) {
  for (const auto& [section, node] : root) {
    const std::string name(section.str());
    if (name == "sweep") continue;  // its keys are axes (studies/sweep_spec.hpp)
    const toml::table* table = node.as_table();
    if (!table) {
      const bool is_section = is_schema_section(name) || name == k_derived_section;
      throw InputError(is_section ? fmt::format("{}: '{}' must be a table [{}]", path, name, name)
                                  : fmt::format("{}: unknown key '{}'{}", path, shorten(name), key_suggestion(name)));
    }
    for (const auto& [key, value] : *table) {
      const std::string full = name + "." + std::string(key.str());
      const bool known = name == k_derived_section ? is_derived_key(std::string(key.str())) : find_key(full) != nullptr;
      if (!known)
        throw InputError(fmt::format("{}: unknown key '{}'{}", overrides.values.count(full) ? overrides.origin : path,
                                     shorten(full), key_suggestion(full)));
    }
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

std::string file_folder(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return "";
  return fs::path(path).parent_path().string();
}

SetValue set_value(const std::string& key, const toml::node& node, const std::string& origin, const std::string& folder) {
  SetValue set{.value = false, .origin = origin, .shown = describe(node), .typed = {}, .file_folder = folder};
  if (const auto b = node.value_exact<bool>()) set.value = *b;
  else if (const auto i = node.value_exact<std::int64_t>()) set.value = *i;
  else if (const auto d = node.value_exact<double>()) set.value = *d;
  else if (const auto s = node.value_exact<std::string>()) set.value = *s;
  else {
    const KeySpec* spec = find_key(key);
    throw InputError(fmt::format("{}: key '{}' = {}: {}", origin, key, set.shown,
                                 spec ? spec->allowed() : "must be a number, string or boolean"));
  }
  return set;
}

ConfigDocument read_config_document(const std::string& text, const std::string& path,
                                    const std::vector<std::string>& overrides, const std::string& override_origin) {
  ConfigDocument doc;
  try {
    doc.root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  Overrides typed{{}, override_origin};
  for (const std::string& o : overrides) apply_override(doc.root, o, path, typed);
  // An override of array.r_hat_p replaces the file's array.r_col, and the other way round.
  for (const auto& [key, text] : typed.values)
    if (const KeySpec* spec = find_key(key); spec && !spec->same_quantity.empty() && !typed.values.count(spec->same_quantity))
      if (toml::table* section = doc.root[spec->same_quantity.substr(0, spec->same_quantity.find('.'))].as_table())
        section->erase(spec->same_quantity.substr(spec->same_quantity.find('.') + 1));
  check_known_keys(doc.root, path, typed);
  const std::string folder = file_folder(path);
  const bool command_line = override_origin == k_command_line;
  for (const KeySpec& spec : config_schema()) {
    const toml::node* node = doc.root.at_path(spec.key).node();
    if (!node) continue;
    const auto typed_text = typed.values.find(spec.key);
    if (typed_text == typed.values.end()) {
      doc.values[spec.key] = set_value(spec.key, *node, path, folder);
    } else {  // file names given on the command line are taken from the working folder
      SetValue v = set_value(spec.key, *node, override_origin, command_line ? "" : folder);
      v.typed = typed_text->second;
      doc.values[spec.key] = std::move(v);
    }
  }
  return doc;
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

}  // namespace xbar::io
