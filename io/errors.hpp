#pragma once
// Errors a user can act on. Every one is reported as a single line and exits with status 2
// (design brief section 4); the message names the file, key or dataset, the value and what is
// allowed.
#include <stdexcept>
#include <string>
#include <string_view>

namespace xbar::io {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// File names, TOML strings and library messages may hold line breaks; a reported error is one
/// line (the command line and the Python package both report through this).
inline std::string one_line(std::string_view what) {
  std::string line(what);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

}  // namespace xbar::io
