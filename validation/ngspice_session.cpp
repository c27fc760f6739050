#include "validation/ngspice_session.hpp"

#include <dlfcn.h>
#include <ngspice/sharedspice.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join over a container

namespace xbar::validation {
namespace {

// Substrings (lower case) that mark a failed run. Observed with libngspice 39: parse errors
// ("Error on line", "PTerror", "circuit not parsed", "can't find model", "unknown subckt"),
// numparam errors ("Undefined parameter", "Formula() error"), floating nodes ("singular
// matrix"), and non-convergence ("gmin stepping failed", "timestep too small", "op simulation(s)
// aborted"). A successful op prints only "Note: No compatibility mode selected!",
// "Circuit: <title>", "Doing analysis at TEMP = ...", "No. of Data Rows : 1".
// Deliberately strict: an op that needed more than dynamic gmin stepping prints
// "... stepping failed" before a later homotopy succeeds; such a result is rejected, because a
// reference solution that ngspice itself struggled with is not a reference.
constexpr std::array<std::string_view, 15> k_failure_markers = {
    "error",     "singular",  "timestep too small", "no convergence", "iteration limit",
    "failed",    "aborted",   "cannot",             "can't",          "could not",
    "not found", "unknown",   "undefined",          "no circuit",     "not parsed"};

// ngspice echoes the deck title on success ("stdout Circuit: <title>"); a title such as
// "singular-matrix check" must not read as a failure.
constexpr std::string_view k_title_echo = "stdout Circuit:";

// At most this many distinct offending lines go into an exception message (half from each end);
// the rest stay in last_output().
constexpr std::size_t k_max_message_lines = 8;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string_view first_token(std::string_view line) {
  line = trim(line);
  return line.substr(0, line.find_first_of(" \t"));
}

// SendChar lines arrive as "stdout <text>" / "stderr <text>": the message wants the text only.
std::string_view without_stream_prefix(std::string_view line) {
  for (std::string_view prefix : {"stdout ", "stderr "})
    if (line.starts_with(prefix)) return line.substr(prefix.size());
  return line;
}

bool is_failure_line(std::string_view line) {
  if (line.starts_with(k_title_echo)) return false;
  const std::string text = lower(line);
  return std::any_of(k_failure_markers.begin(), k_failure_markers.end(),
                     [&](std::string_view marker) { return text.find(marker) != std::string::npos; });
}

struct PreparedDeck {
  std::vector<std::string> lines;
  std::size_t control_lines_removed = 0;
};

// Splits the deck into lines for ngSpice_Circ. A .control block would run its commands at load
// time (a `quit` there leaves libngspice 39 crashing on the next deck), so it is dropped: this
// session runs "op" itself. ngSpice_Circ requires a final .end card; one is appended if absent.
PreparedDeck prepare_deck(std::string_view text) {
  PreparedDeck deck;
  bool in_control = false;
  bool has_end = false;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::string keyword = lower(first_token(line));
    in_control = in_control || keyword == ".control";
    if (in_control) {
      ++deck.control_lines_removed;
      in_control = keyword != ".endc";
      continue;
    }
    has_end = has_end || keyword == ".end";
    deck.lines.emplace_back(line);
  }
  if (!has_end) deck.lines.emplace_back(".end");
  return deck;
}

}  // namespace

// The six functions of ngspice's shared API the session calls, with sharedspice.h's types,
// resolved from the library loaded at run time (never linked, never unloaded).
struct NgspiceLibrary {
  decltype(&::ngSpice_Init) init = nullptr;
  decltype(&::ngSpice_Command) command = nullptr;
  decltype(&::ngSpice_Circ) circ = nullptr;
  decltype(&::ngSpice_CurPlot) cur_plot = nullptr;
  decltype(&::ngSpice_AllVecs) all_vecs = nullptr;
  decltype(&::ngGet_Vec_Info) vec_info = nullptr;

  static const NgspiceLibrary& load();
};

namespace {

// Debian's libngspice0; the soname, so that the unversioned -dev symlink is not needed.
constexpr const char* k_ngspice_library = "libngspice.so.0";

template <class Function>
void resolve(void* library, const char* symbol, Function*& into) {
  dlerror();  // clear any earlier error: dlsym reports failure only through dlerror
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    const char* reason = dlerror();
    throw SpiceError(fmt::format("ngspice: {} has no function {}: {}", k_ngspice_library, symbol,
                                 reason ? reason : "null address"));
  }
  into = reinterpret_cast<Function*>(address);
}

NgspiceLibrary open_ngspice() {
  // RTLD_NOW: a broken install fails here, with the loader's reason, not in the middle of a run.
  // RTLD_LOCAL: ngspice's many global symbols stay out of the way of everything else.
  void* library = dlopen(k_ngspice_library, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* reason = dlerror();
    throw SpiceError(fmt::format("ngspice: cannot load {}: {} (install Debian's libngspice0; only the commands "
                                 "that run ngspice need it)",
                                 k_ngspice_library, reason ? reason : "unknown reason"));
  }
  // Never dlclose'd: ngspice's global state lives as long as the process.
  NgspiceLibrary api;
  resolve(library, "ngSpice_Init", api.init);
  resolve(library, "ngSpice_Command", api.command);
  resolve(library, "ngSpice_Circ", api.circ);
  resolve(library, "ngSpice_CurPlot", api.cur_plot);
  resolve(library, "ngSpice_AllVecs", api.all_vecs);
  resolve(library, "ngGet_Vec_Info", api.vec_info);
  return api;
}

}  // namespace

const NgspiceLibrary& NgspiceLibrary::load() {
  static const NgspiceLibrary api = open_ngspice();  // thread-safe, once; retried if it threw
  return api;
}

double SpiceOperatingPoint::voltage(std::string_view node) const {
  if (node == "0") return 0.0;  // ground is the reference, not a vector
  const auto found = values.find(lower(node));
  if (found == values.end())
    throw SpiceError(fmt::format("ngspice: no node '{}' in the op plot", node));
  return found->second;
}

double SpiceOperatingPoint::source_current(std::string_view source) const {
  const std::string name = lower(source) + "#branch";
  const auto found = values.find(name);
  if (found == values.end())
    throw SpiceError(fmt::format("ngspice: no branch current '{}' in the op plot", name));
  return found->second;
}

NgspiceSession& NgspiceSession::instance() {
  static NgspiceSession session;  // C++11 guarantees one thread-safe initialisation
  return session;
}

NgspiceSession::NgspiceSession() : ngspice_(NgspiceLibrary::load()) {
  // No SendData/SendInitData/BGThreadRunning: every run is synchronous and reads the plot once.
  ngspice_.init(&on_output, &on_status, &on_unload_request, nullptr, nullptr, nullptr, this);
}

int NgspiceSession::on_output(char* line, int, void* self) {
  static_cast<NgspiceSession*>(self)->output_.emplace_back(line ? line : "");
  return 0;
}

int NgspiceSession::on_status(char* status, int, void* self) {
  static_cast<NgspiceSession*>(self)->output_.push_back(fmt::format("status {}", status ? status : ""));
  return 0;
}

// ngspice calls this instead of exit(): on `quit`, and on errors it considers unrecoverable
// (e.g. numparam "Undefined parameter", .subckt/.ends mismatch); it then longjmps back out of
// ngSpice_Circ/ngSpice_Command, which return 1. It asks the caller to unload the library, which
// this session does not do (libngspice is loaded once per process); its state really is broken
// afterwards (with ngspice 39 a numparam error makes every later deck fail the same way, and
// after `quit` the next deck segfaults). So the session records the request and refuses every
// later deck.
int NgspiceSession::on_unload_request(int status, bool, bool on_quit, int, void* self) {
  auto& session = *static_cast<NgspiceSession*>(self);
  session.exit_status_ = status;
  session.output_.push_back(fmt::format("xbar: ngspice requested to be unloaded (exit status {}{})",
                                        status, on_quit ? ", on quit" : ""));
  return 0;
}

template <class Copy>
auto NgspiceSession::run(const std::string& deck_text, const std::string& analysis, Copy&& copy) {
  const std::lock_guard lock(mutex_);
  output_.clear();
  throw_if_failed();  // refuses at once if an earlier deck made ngspice ask to be unloaded
  const auto start = std::chrono::steady_clock::now();
  // Remove the circuit and its plots however this run ends, so the next deck starts clean.
  struct ClearOnExit {
    NgspiceSession& session;
    ~ClearOnExit() { session.clear_circuit(); }
  } clear_on_return{*this};
  PreparedDeck deck = prepare_deck(deck_text);
  if (deck.control_lines_removed > 0)
    output_.push_back(fmt::format("xbar: dropped {} line(s) of .control block; this session runs '{}' itself",
                                  deck.control_lines_removed, analysis));
  load(std::move(deck.lines));
  throw_if_failed();
  command(analysis.c_str());
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  throw_if_failed();
  auto result = copy();
  result.elapsed_s = elapsed.count();
  return result;
}

SpiceOperatingPoint NgspiceSession::run_operating_point(const std::string& deck_text) {
  return run(deck_text, "op", [this] { return copy_op_plot(); });
}

SpicePlot NgspiceSession::run_analysis(const std::string& deck_text, const std::string& analysis) {
  const std::string kind = lower(first_token(analysis));
  return run(deck_text, analysis, [this, &kind] { return copy_plot(kind); });
}

void NgspiceSession::run_analyses(const std::string& deck_text, const std::vector<std::string>& analyses,
                                  const std::function<void(std::size_t, SpicePlot&&)>& each) {
  if (analyses.empty()) return;
  const auto start = std::chrono::steady_clock::now();
  std::size_t index = 0;
  // The first analysis loads the deck (run's rules); the others run on the loaded circuit.
  run(deck_text, analyses.front(), [&] {
    for (;; ++index) {
      const std::string kind = lower(first_token(analyses[index]));
      SpicePlot plot = copy_plot(kind);
      plot.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      command(("destroy " + plot.name).c_str());  // keeps ngspice's memory to one plot
      each(index, std::move(plot));
      if (index + 1 == analyses.size()) return SpicePlot{};
      output_.clear();
      command(analyses[index + 1].c_str());
      throw_if_failed();
    }
  });
}

std::string NgspiceSession::last_output() const {
  const std::lock_guard lock(mutex_);
  std::string text;
  for (const auto& line : output_) text += line + '\n';
  return text;
}

void NgspiceSession::load(std::vector<std::string> deck_lines) {
  std::vector<char*> cards;
  cards.reserve(deck_lines.size() + 1);
  for (auto& line : deck_lines) cards.push_back(line.data());
  cards.push_back(nullptr);  // ngSpice_Circ copies the lines; the array ends with NULL
  ngspice_.circ(cards.data());
}

void NgspiceSession::command(const char* text) {
  std::string buffer(text);  // ngSpice_Command takes a mutable char*
  ngspice_.command(buffer.data());
}

void NgspiceSession::throw_if_failed() const {
  std::vector<std::string> offending;
  bool wanted_next = false;  // "Error on line 4 or its substitute:" introduces the card itself
  for (const auto& line : output_) {
    const std::string text(trim(without_stream_prefix(line)));
    const bool failure = is_failure_line(line);
    if ((failure || wanted_next) && std::find(offending.begin(), offending.end(), text) == offending.end())
      offending.push_back(text);
    wanted_next = failure && text.ends_with(':');
  }
  if (exit_status_)
    offending.push_back(fmt::format("libngspice asked to be unloaded (exit status {}) and cannot run another "
                                    "deck in this process",
                                    *exit_status_));
  if (offending.empty()) return;
  // Parse errors name their cause first, convergence failures give their verdict last
  // ("trouble with node", "aborted"): a long list keeps both ends.
  if (offending.size() > k_max_message_lines + 1) {  // never hide a single line
    const auto middle = offending.begin() + k_max_message_lines / 2;
    const auto hidden = static_cast<std::ptrdiff_t>(offending.size() - k_max_message_lines);
    offending.insert(offending.erase(middle, middle + hidden),
                     fmt::format("... {} more in last_output() ...", hidden));
  }
  throw SpiceError(fmt::format("ngspice: {}", fmt::join(offending, "; ")));
}

SpiceOperatingPoint NgspiceSession::copy_op_plot() const {
  std::string plot = ngspice_.cur_plot();
  // A deck that failed to load leaves the "const" plot current; "op" makes "op1", "op2", ...
  if (!plot.starts_with("op"))
    throw SpiceError(fmt::format("ngspice: no op plot after 'op' (current plot '{}')", plot));
  char** names = ngspice_.all_vecs(plot.data());
  if (names == nullptr || *names == nullptr)
    throw SpiceError(fmt::format("ngspice: op plot '{}' has no vectors", plot));
  SpiceOperatingPoint op;
  for (; *names != nullptr; ++names) {
    std::string name = *names;
    // ngGet_Vec_Info returns one static struct pointing into ngspice's plot: copy the value now.
    const pvector_info info = ngspice_.vec_info(name.data());
    if (info == nullptr || info->v_realdata == nullptr || info->v_length < 1)
      throw SpiceError(fmt::format("ngspice: vector '{}' of plot '{}' has no real value", name, plot));
    op.values.emplace(lower(name), info->v_realdata[0]);
  }
  return op;
}

SpicePlot NgspiceSession::copy_plot(std::string_view prefix) const {
  SpicePlot plot{ngspice_.cur_plot(), {}, 0.0};
  if (prefix.empty() || !plot.name.starts_with(prefix))
    throw SpiceError(fmt::format("ngspice: no '{}' plot after the analysis (current plot '{}')", prefix, plot.name));
  char** names = ngspice_.all_vecs(plot.name.data());
  for (; names != nullptr && *names != nullptr; ++names) {
    std::string name = *names;
    const pvector_info info = ngspice_.vec_info(name.data());  // into ngspice memory: copy now
    if (info == nullptr || info->v_realdata == nullptr) continue;  // complex or empty vectors
    plot.vectors.emplace(lower(name), std::vector<double>(info->v_realdata, info->v_realdata + info->v_length));
  }
  return plot;
}

const std::vector<double>& SpicePlot::vector(std::string_view vector_name) const {
  const auto found = vectors.find(lower(vector_name));
  if (found == vectors.end())
    throw SpiceError(fmt::format("ngspice: no vector '{}' in plot '{}'", vector_name, name));
  return found->second;
}

void NgspiceSession::clear_circuit() {
  if (exit_status_) return;  // ngspice declared itself unusable: do not call into it again
  command("remcirc");
  command("destroy all");
}

}  // namespace xbar::validation
