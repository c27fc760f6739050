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

}  // namespace xbar::io
