#pragma once
// How an array is solved, as values: the solver asked for (config key solver.method), the Newton
// implementations, and which of them answered a vector. Their spellings in configs, files and
// summaries are made here and nowhere else (the strings are a file contract).
#include <optional>
#include <string>
#include <string_view>

namespace xbar::solver {

/// The solver asked for (config key solver.method). automatic: the grid wherever the array has
/// its shape, else KLU on tiny systems and the line solver above them (engine::choose_method).
enum class Method { automatic, grid, klu, lines };
/// "auto", "grid", "klu", "lines".
std::string_view to_string(Method method);
/// nullopt for a name that is not one of the spellings above.
std::optional<Method> parse_method(std::string_view name);

/// The Newton implementations: the grid's (structured, no stepping; grid_newton.hpp) and the
/// general one over any LinearSolver (with gmin and source stepping; newton.hpp).
enum class Newton { grid, general };
/// "grid", "general".
std::string_view to_string(Newton newton);

/// Within one Newton solver, the run that answered (or the last one tried).
enum class Stage { none, newton, gmin_stepping, source_stepping };
/// "none (no free node)", "newton", "gmin-stepping", "source-stepping".
std::string_view to_string(Stage stage);

/// Which solver answered a vector: its Newton implementation and stage, and whether earlier
/// solvers of the engine's fallback list were passed over (they failed on this vector).
struct MethodUsed {
  Newton newton = Newton::general;
  Stage stage = Stage::newton;
  bool fallback = false;
  bool operator==(const MethodUsed&) const = default;
};
/// As written to files and summaries: the stage's name, prefixed with the Newton's name when a
/// fallback answered ("newton", "gmin-stepping", "general-newton", "general-source-stepping").
std::string to_string(const MethodUsed& used);

}  // namespace xbar::solver
