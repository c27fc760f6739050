#pragma once
// A job's exception, carried from the rank that ran it to the root, which rethrows it as the same
// type, so that it ends the run with the exit status a serial run would have (2 bad input,
// 3 no solution, 4 internal error).
#include <exception>
#include <string>

#include "parallel/bytes.hpp"

namespace xbar::parallel {

/// Thrown on the ranks other than the root when the root ended the run with an error (exit
/// status `status`): the root reports it (one line on stderr); these ranks only stop.
struct StoppedByRoot {
  int status;
};

/// The exit status an exception ends a run with: 2 io::InputError, 3 engine::SolveFailure and
/// devices::ModelError, 2 std::bad_alloc (the array does not fit), 4 anything else.
int exit_status(const std::exception_ptr& error);

/// The exception's type and message, as bytes.
Bytes encode_error(const std::exception_ptr& error);
/// Throws the encoded exception as its own type, its message prefixed by `where`.
[[noreturn]] void rethrow_error(const Bytes& encoded, const std::string& where);
/// The same for an exception of this process.
[[noreturn]] void rethrow_error(const std::exception_ptr& error, const std::string& where);

}  // namespace xbar::parallel
