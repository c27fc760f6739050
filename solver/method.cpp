#include "solver/method.hpp"

#include "base/names.hpp"

namespace xbar::solver {

namespace {

constexpr NameTable<Method> k_methods[] = {
    {Method::automatic, "auto"}, {Method::grid, "grid"}, {Method::klu, "klu"}, {Method::lines, "lines"}};
constexpr NameTable<Newton> k_newtons[] = {{Newton::grid, "grid"}, {Newton::general, "general"}};
constexpr NameTable<Stage> k_stages[] = {{Stage::none, "none (no free node)"},
                                         {Stage::newton, "newton"},
                                         {Stage::gmin_stepping, "gmin-stepping"},
                                         {Stage::source_stepping, "source-stepping"}};

}  // namespace

std::string_view to_string(Method method) { return name_of(k_methods, method); }
std::optional<Method> parse_method(std::string_view name) { return parse_name(k_methods, name); }
std::string_view to_string(Newton newton) { return name_of(k_newtons, newton); }
std::string_view to_string(Stage stage) { return name_of(k_stages, stage); }

std::string to_string(const MethodUsed& used) {
  std::string name(to_string(used.stage));
  return used.fallback ? std::string(to_string(used.newton)) + "-" + name : name;
}

}  // namespace xbar::solver
