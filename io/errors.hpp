#pragma once
// Errors a user can act on. Every one is reported as a single line and exits with status 2
// (README); the message names the file, key or dataset, the value and what is
// allowed.
#include <stdexcept>

namespace xbar::io {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace xbar::io
