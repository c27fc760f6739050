#pragma once
// Errors a user can act on. Every one is reported as a single line and exits with status 2
// (README); the message names the file, key or dataset, the value and what is
// allowed.
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace xbar::io {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What std::bad_alloc means to a user: the work asked for is beyond this machine.
inline constexpr const char* k_out_of_memory =
    "out of memory: the array or the input batch is too large for this machine "
    "(reduce array.rows, array.cols or inputs.count)";

/// File names, TOML strings and library messages may hold line breaks; a reported error is one
/// line (the command line and the Python package both report through this).
inline std::string one_line(std::string_view what) {
  std::string line(what);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

/// Values and paths are echoed in messages; a pasted megabyte (or a 4,096-character path) must
/// not become an error line as long: the first 60 characters and the length.
inline std::string shorten(std::string_view text) {
  constexpr std::size_t k_shown = 60;
  if (text.size() <= k_shown + 20) return std::string(text);
  return fmt::format("{}... ({} characters)", text.substr(0, k_shown), text.size());
}

}  // namespace xbar::io
