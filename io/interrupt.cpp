#include "io/interrupt.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "io/errors.hpp"

namespace xbar::io {

namespace {

// Async-signal-safe registry: fixed slots of fixed-size paths, read by the handler with unlink().
constexpr std::size_t k_slots = 8, k_path = 4096;
std::array<std::array<char, k_path>, k_slots> g_paths{};
std::array<std::atomic<bool>, k_slots> g_used{};

// The note, double-buffered: the writer fills the buffer that is not published, then publishes
// it (a handler reading while two updates race may print a garbled note, never past its end).
constexpr std::size_t k_note = 2048;
std::array<std::array<char, k_note>, 2> g_notes{};
std::atomic<int> g_note{-1};  // published buffer, -1: none

void say(const char* text) { (void)!write(STDERR_FILENO, text, std::strlen(text)); }

extern "C" void on_signal(int signal) {
  for (std::size_t k = 0; k < k_slots; ++k)
    if (g_used[k].load()) unlink(g_paths[k].data());
  const int note = g_note.load();
  say("xbar: interrupted");
  if (note >= 0) {
    say(" (");
    say(g_notes[note].data());
    say(")");
  }
  say("; no output written\n");
  _exit(128 + signal);
}

}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_signal);  // the terminal went away: same as Ctrl-C
}

// A temporary the handler could not remove must not be created at all.
void register_temporary(const std::string& path) {
  if (path.size() >= k_path)
    throw InputError(fmt::format("{}: output path too long ({} characters, at most {})", shorten(path),
                                 path.size(), k_path - 1));
  for (std::size_t k = 0; k < k_slots; ++k)
    if (!g_used[k].load()) {
      std::memcpy(g_paths[k].data(), path.c_str(), path.size() + 1);
      g_used[k].store(true);
      return;
    }
  throw InputError(fmt::format("{}: more than {} output files open at once", shorten(path), k_slots));
}

void set_interrupt_note(const std::string& note) {
  if (note.empty()) {
    g_note.store(-1);
    return;
  }
  const int next = g_note.load() == 0 ? 1 : 0;
  const std::size_t n = std::min(note.size(), k_note - 1);
  std::memcpy(g_notes[next].data(), note.data(), n);
  g_notes[next][n] = '\0';
  g_note.store(next);
}

void unregister_temporary(const std::string& path) {
  for (std::size_t k = 0; k < k_slots; ++k)
    if (g_used[k].load() && path == g_paths[k].data()) g_used[k].store(false);
}

}  // namespace xbar::io
