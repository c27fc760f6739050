#pragma once
// One codec for the enums that have spellings in configs and files: a table of (value, name)
// pairs per enum, read both ways.
#include <optional>
#include <stdexcept>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

namespace xbar {

template <class Enum>
using NameTable = std::pair<Enum, std::string_view>;

/// The spelling of `value`; throws logic_error for an enumerator the table leaves out (a bug).
template <class Enum, std::size_t N>
std::string_view name_of(const NameTable<Enum> (&names)[N], Enum value) {
  for (const auto& [e, name] : names)
    if (e == value) return name;
  throw std::logic_error("an enumerator without a name");
}

/// Every spelling of the table, in its order (for "allowed values" in messages and the schema).
template <class Enum, std::size_t N>
std::vector<std::string> all_names(const NameTable<Enum> (&names)[N]) {
  std::vector<std::string> out;
  for (const auto& [e, name] : names) out.emplace_back(name);
  return out;
}

/// The value spelled `name`, or nullopt when no entry has that spelling.
template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const NameTable<Enum> (&names)[N], std::string_view name) {
  for (const auto& [e, spelling] : names)
    if (spelling == name) return e;
  return std::nullopt;
}

}  // namespace xbar
