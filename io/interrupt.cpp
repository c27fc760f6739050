#include "io/interrupt.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

namespace xbar::io {

namespace {

// Async-signal-safe registry: fixed slots of fixed-size paths, read by the handler with unlink().
constexpr std::size_t k_slots = 8, k_path = 4096;
std::array<std::array<char, k_path>, k_slots> g_paths{};
std::array<std::atomic<bool>, k_slots> g_used{};

extern "C" void on_signal(int signal) {
  for (std::size_t k = 0; k < k_slots; ++k)
    if (g_used[k].load()) unlink(g_paths[k].data());
  constexpr char msg[] = "xbar: interrupted; no output written\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(128 + signal);
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

void register_temporary(const std::string& path) {
  if (path.size() >= k_path) return;
  for (std::size_t k = 0; k < k_slots; ++k)
    if (!g_used[k].load()) {
      std::memcpy(g_paths[k].data(), path.c_str(), path.size() + 1);
      g_used[k].store(true);
      return;
    }
}

void unregister_temporary(const std::string& path) {
  for (std::size_t k = 0; k < k_slots; ++k)
    if (g_used[k].load() && path == g_paths[k].data()) g_used[k].store(false);
}

}  // namespace xbar::io
