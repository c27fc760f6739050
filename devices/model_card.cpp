#include "devices/model_card.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace xbar::devices {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// Whitespace-separated tokens, with '(' ')' as separators too (`.model n nmos(level=54`).
std::vector<std::string> tokens_of(const std::string& line) {
  std::string spaced = line;
  std::replace_if(spaced.begin(), spaced.end(), [](char c) { return c == '(' || c == ')'; }, ' ');
  std::istringstream in(spaced);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  return tokens;
}

std::string keyword(const std::string& line) {
  const std::vector<std::string> t = tokens_of(line);
  return t.empty() ? std::string() : lower(t.front());
}

bool is_include(const std::string& key) { return key == ".include" || key == ".inc" || key == ".incl"; }

// A SPICE number with its scale suffix ("0.15u", "1meg", "2.5e-9"); none for an expression.
std::optional<double> spice_number(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end == begin) return std::nullopt;
  const std::string suffix = lower(std::string(end));
  static const std::pair<const char*, double> k_suffixes[] = {{"meg", 1e6}, {"mil", 25.4e-6}, {"t", 1e12}, {"g", 1e9},
                                                             {"k", 1e3},    {"m", 1e-3},      {"u", 1e-6}, {"n", 1e-9},
                                                             {"p", 1e-12},  {"f", 1e-15},     {"a", 1e-18}};
  for (const auto& [name, factor] : k_suffixes)
    if (suffix.starts_with(name)) return value * factor;
  if (!suffix.empty() && !std::isalpha(static_cast<unsigned char>(suffix[0]))) return std::nullopt;
  return value;  // no suffix, or a unit ("V")
}

// One card per entry: `+` continuation lines joined, comment lines and inline `$`/`;` comments
// dropped, spaces around '=' removed ("lmin = 1e-7" -> "lmin=1e-7").
std::vector<std::string> logical_lines(const std::string& text) {
  std::vector<std::string> cards;
  for (std::string line : lines_of(text)) {
    for (const char* mark : {" $", "\t$", ";"})
      if (const auto at = line.find(mark); at != std::string::npos) line.erase(at);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '*') continue;
    line = line.substr(first);
    if (line[0] == '+' && !cards.empty())
      cards.back().append(" ").append(line, 1, std::string::npos);
    else
      cards.push_back(line);
  }
  for (std::string& card : cards) {
    std::string joined;
    for (std::size_t k = 0; k < card.size(); ++k) {
      if (card[k] == '=') {
        while (!joined.empty() && (joined.back() == ' ' || joined.back() == '\t')) joined.pop_back();
        joined += '=';
        while (k + 1 < card.size() && (card[k + 1] == ' ' || card[k + 1] == '\t')) ++k;
      } else {
        joined += card[k];
      }
    }
    card = joined;
  }
  return cards;
}

// name=value pairs of a card (lower-case names).
std::map<std::string, std::string> parameters_of(const std::vector<std::string>& tokens) {
  std::map<std::string, std::string> out;
  for (const std::string& t : tokens)
    if (const auto eq = t.find('='); eq != std::string::npos && eq > 0) out[lower(t.substr(0, eq))] = t.substr(eq + 1);
  return out;
}

// The card's `.option scale` (the last one wins, as in ngspice); 1 without one.
double option_scale(const std::vector<std::string>& cards) {
  double scale = 1.0;
  for (const std::string& card : cards) {
    const std::string key = keyword(card);
    if (key != ".option" && key != ".options" && key != ".opt" && key != ".opts") continue;
    const auto params = parameters_of(tokens_of(card));
    const auto found = params.find("scale");
    if (found == params.end()) continue;
    const std::optional<double> value = spice_number(found->second);
    if (!value || !(*value > 0))
      throw std::invalid_argument(
          fmt::format("model card: '{}': the scale must be a positive number (e.g. scale=1u)", card));
    scale = *value;
  }
  return scale;
}

// `NAME` or a bin of it, `NAME.<digits>` (how binned model sets are named).
bool names_model(const std::string& model, const std::string& name) {
  const std::string m = lower(model), n = lower(name);
  if (m == n) return true;
  return m.size() > n.size() + 1 && m.starts_with(n) && m[n.size()] == '.' &&
         std::all_of(m.begin() + n.size() + 1, m.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A first line that is not a comment, card or continuation is a deck title (a card file may be a
// whole deck); inside xbar's deck it would be read as an element, so it is commented out.
bool is_title_like(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first != std::string::npos && line[first] != '*' && line[first] != '.' && line[first] != '+';
}

void check_model(const std::vector<std::string>& t, const ModelCard& card) {
  const std::string type = t.size() > 2 ? lower(t[2]) : "";
  if (type != "nmos")
    throw std::invalid_argument(fmt::format(
        "model card: '.model {}' is of type '{}': only nmos is supported (the array's select is "
        "an n-channel FET, on when its gate is high)",
        card.device, type.empty() ? "(none)" : type));
  if (!card.w || !card.l)
    throw std::invalid_argument(fmt::format("model card: '.model {}' needs the device size: give W and L (m)",
                                            card.device));
}

void check_subckt(const std::vector<std::string>& t, const ModelCard& card) {
  std::size_t pins = 0;
  for (std::size_t k = 2; k < t.size() && t[k].find('=') == std::string::npos && lower(t[k]) != "params:"; ++k)
    ++pins;
  if (pins != 4)
    throw std::invalid_argument(fmt::format(
        "model card: '.subckt {}' has {} pins on its first line: it must have four, drain gate "
        "source bulk",
        card.device, pins));
}

}  // namespace

ModelCard make_model_card(std::string text, std::string device, std::optional<double> w,
                          std::optional<double> l, double temp_c) {
  ModelCard card{std::move(text), std::move(device), CardKind::model, w, l, temp_c, 1.0};
  const std::vector<std::string> cards = logical_lines(card.text);
  bool found = false;
  for (const std::string& line : cards) {
    const std::string key = keyword(line);
    if (is_include(key) || key == ".lib")
      throw std::invalid_argument(fmt::format(
          "model card: '{}' is left in the text: read the card file with its .lib and .include resolved "
          "(xbar characterize and fit do), so that DEVICE.h5 alone reproduces the model",
          line));
    const std::vector<std::string> t = tokens_of(line);
    if (key == ".subckt" && t.size() > 1 && lower(t[1]) == lower(card.device)) {
      card.kind = CardKind::subckt, found = true;
      check_subckt(t, card);
    } else if (key == ".model" && t.size() > 1 && names_model(t[1], card.device)) {
      card.kind = CardKind::model, found = true;
      check_model(t, card);
    }
  }
  if (!found)
    throw std::invalid_argument(
        fmt::format("model card: no '.model {0}' (or bins '{0}.1', ...) or '.subckt {0}' in the card", card.device));
  card.scale = option_scale(cards);
  for (const auto& [name, size] : {std::pair{"W", card.width_m()}, {"L", card.length_m()}})
    if (size && !(*size > 0 && *size < 1))
      throw std::invalid_argument(fmt::format(
          "model card: {} = {:.4g} m: W and L must be > 0 and < 1 m{}", name, *size,
          card.scale == 1 ? std::string(" (give them in metres)")
                          : fmt::format(" (the card's .option scale = {:g}: give them in units of {:g} m)", card.scale,
                                        card.scale)));
  return card;
}

std::vector<CardBin> card_bins(const ModelCard& card) {
  // One pass: the models the device instantiates (itself for a .model card, what the M lines of
  // its subckt name), and the .model cards it can see (top level, or inside its subckt).
  const std::string device = lower(card.device);
  std::vector<std::string> names;
  if (card.kind == CardKind::model) names.push_back(device);
  std::vector<std::vector<std::string>> models;
  std::string scope;  // the .subckt being read ("" at the top level)
  for (const std::string& line : logical_lines(card.text)) {
    const std::string key = keyword(line);
    std::vector<std::string> t = tokens_of(line);
    if (key == ".subckt" && t.size() > 1) scope = lower(t[1]);
    if (key == ".ends") scope.clear();
    if (scope == device && key.starts_with('m') && t.size() > 5) names.push_back(lower(t[5]));
    if (key == ".model" && t.size() > 1 && (scope.empty() || scope == device)) models.push_back(std::move(t));
  }
  std::vector<CardBin> bins;
  for (const std::vector<std::string>& t : models) {
    const bool is_bin = std::any_of(names.begin(), names.end(),
                                    [&](const std::string& n) { return lower(t[1]) != n && names_model(t[1], n); });
    if (!is_bin) continue;
    const auto p = parameters_of(t);
    std::optional<double> range[4];
    const char* keys[4] = {"lmin", "lmax", "wmin", "wmax"};
    for (int k = 0; k < 4; ++k)
      if (const auto found = p.find(keys[k]); found != p.end()) range[k] = spice_number(found->second);
    if (range[0] && range[1] && range[2] && range[3]) bins.push_back({t[1], *range[0], *range[1], *range[2], *range[3]});
  }
  return bins;
}

namespace {

namespace fs = std::filesystem;

// The file and section arguments of `.include FILE` / `.lib FILE SECTION` (FILE may be quoted).
std::vector<std::string> include_arguments(const std::string& line) {
  std::vector<std::string> out;
  std::size_t k = line.find_first_of(" \t");
  while (k != std::string::npos && k < line.size()) {
    k = line.find_first_not_of(" \t", k);
    if (k == std::string::npos) break;
    const char quote = line[k];
    if (quote == '"' || quote == '\'') {
      const std::size_t close = line.find(quote, k + 1);
      out.push_back(line.substr(k + 1, close == std::string::npos ? std::string::npos : close - k - 1));
      k = close == std::string::npos ? close : close + 1;
    } else {
      const std::size_t stop = line.find_first_of(" \t", k);
      out.push_back(line.substr(k, stop == std::string::npos ? std::string::npos : stop - k));
      k = stop;
    }
  }
  return out;
}

std::string trimmed(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string::npos ? std::string() : line.substr(first, line.find_last_not_of(" \t") - first + 1);
}

// Reads files the way ngspice's .lib/.include do, writing the text they stand for.
class CardResolver {
 public:
  ResolvedCard result;

  // `section` empty: the whole file, less the sections it defines; else that section only.
  // `where` is "FILE:LINE: 'line'" of the reference ("" for the card itself).
  void read(const fs::path& path, const std::string& section, const std::string& where) {
    std::error_code error;  // a path that cannot be made canonical is read as given
    fs::path file = fs::weakly_canonical(path, error);
    if (error) file = path;
    for (const auto& [open, open_section] : stack_)
      if (open == file && lower(open_section) == lower(section))
        throw std::invalid_argument(fmt::format("{}: includes {}{} again, which includes it (a cycle: {})", where,
                                                path.string(), section.empty() ? "" : " section " + section,
                                                chain(file)));
    std::ifstream in(file, std::ios::binary);
    if (!in || fs::is_directory(file))
      throw std::invalid_argument(where.empty() ? fmt::format("{}: cannot read the model file", path.string())
                                                : fmt::format("{}: cannot read {}", where, file.string()));
    std::ostringstream text;
    text << in.rdbuf();
    stack_.emplace_back(file, section);
    result.files.push_back(file);
    lines(file, section, text.str(), where);
    stack_.pop_back();
  }

 private:
  std::vector<std::pair<fs::path, std::string>> stack_;

  std::string chain(const fs::path& again) const {
    std::string out;
    for (const auto& entry : stack_) out += entry.first.filename().string() + " -> ";
    return out + again.filename().string();
  }

  void lines(const fs::path& file, const std::string& section, const std::string& text, const std::string& from) {
    const bool top = from.empty();
    const std::string name = file.string();
    std::vector<std::string> sections;  // defined in this file
    bool in_section = false, wanted = false;
    int number = 0;
    for (const std::string& line : lines_of(text)) {
      ++number;
      const std::string key = keyword(line);
      const std::vector<std::string> args = include_arguments(line);
      if (key == ".lib" && args.size() == 1) {  // `.lib SECTION` opens a section definition
        sections.push_back(args[0]);
        if (top) result.sections.push_back(args[0]);
        in_section = true, wanted = lower(args[0]) == lower(section);
        continue;
      }
      if (key == ".endl") {
        in_section = wanted = false;
        continue;
      }
      if (section.empty() ? in_section : !wanted) continue;
      if (key == ".end" && !top) continue;  // an included file's .end is ignored, as ngspice does
      const std::string where = fmt::format("{}:{}: '{}'", name, number, trimmed(line));
      if (is_include(key) || key == ".lib") {
        if (args.empty() || (key == ".lib" && args.size() != 2))
          throw std::invalid_argument(
              fmt::format("{}: expected {}", where, key == ".lib" ? ".lib FILE SECTION" : ".include FILE"));
        const fs::path target = fs::path(args[0]).is_absolute() ? fs::path(args[0]) : file.parent_path() / args[0];
        result.text += fmt::format("* xbar: {} resolved: {}\n", line, target.string());
        read(target, key == ".lib" ? args[1] : std::string(), where);
        result.text += fmt::format("* xbar: end of {}\n", target.filename().string());
        continue;
      }
      result.text += line + "\n";
    }
    if (!section.empty() && std::none_of(sections.begin(), sections.end(),
                                         [&](const std::string& s) { return lower(s) == lower(section); }))
      throw std::invalid_argument(fmt::format("{}: no section '{}' in {} (its sections: {})", from, section, name,
                                              sections.empty() ? "none" : fmt::format("{}", fmt::join(sections, ", "))));
  }
};

}  // namespace

ResolvedCard resolve_card_file(const std::filesystem::path& path) {
  CardResolver resolver;
  resolver.read(path, "", "");
  return std::move(resolver.result);
}

std::string card_spice_definitions(const ModelCard& card) {
  std::string out = fmt::format("* model card of '{}' (xbar: tabulated device)\n", card.device);
  bool in_control = false, first = true;
  for (const std::string& line : lines_of(card.text)) {
    const std::string key = keyword(line);
    in_control = in_control || key == ".control";
    const bool drop = in_control || key == ".end";
    if (in_control && key == ".endc") in_control = false;
    if (drop) continue;
    const bool title = first && is_title_like(line);
    if (!line.empty()) first = false;
    out += (title ? "* " : "") + line + "\n";
  }
  return out + fmt::format(".temp {}\n.option num_threads=1\n", card.temp_c);
}

std::string card_spice_instance(const ModelCard& card, const std::string& tag, const std::string& node_d,
                                const std::string& node_g, const std::string& node_s,
                                const std::string& node_b) {
  std::string size;
  if (card.w) size += fmt::format(" w={}", *card.w);  // shortest form that reads back exactly
  if (card.l) size += fmt::format(" l={}", *card.l);
  return fmt::format("{}{} {} {} {} {} {}{}\n", card.kind == CardKind::model ? 'M' : 'X', tag, node_d,
                     node_g, node_s, node_b, card.device, size);
}

}  // namespace xbar::devices
