#pragma once
// Ctrl-C (SIGINT), SIGTERM and SIGHUP during a long run: the temporary output files registered here are
// removed before the process exits with status 130, so no partial output is left behind.
#include <string>

namespace xbar::io {

/// Installs the handlers (idempotent).
void install_interrupt_handlers();
/// Throws InputError if the path cannot be registered (too long, too many at once).
void register_temporary(const std::string& path);
void unregister_temporary(const std::string& path);
/// What the run was doing, for the interrupt message: "xbar: interrupted (NOTE); no output
/// written" (truncated to 2 kB; empty: no note). Called from one thread at a time.
void set_interrupt_note(const std::string& note);

}  // namespace xbar::io
