#include "devices/model_card.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

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
  ModelCard card{std::move(text), std::move(device), CardKind::model, w, l, temp_c};
  for (const std::optional<double>& size : {w, l})
    if (size && !(*size > 0 && *size < 1))
      throw std::invalid_argument(fmt::format("model card: W and L must be in metres, > 0 and < 1 (got {})", *size));
  bool found = false;
  for (const std::string& line : lines_of(card.text)) {
    const std::string key = keyword(line);
    if (key == ".include" || key == ".inc" || key == ".lib")
      throw std::invalid_argument(fmt::format(
          "model card: '{}' is not supported: paste the included text into the card, so that "
          "DEVICE.h5 alone reproduces the model",
          line));
    const std::vector<std::string> t = tokens_of(line);
    if ((key != ".model" && key != ".subckt") || t.size() < 2 || lower(t[1]) != lower(card.device)) continue;
    card.kind = key == ".model" ? CardKind::model : CardKind::subckt;
    card.kind == CardKind::model ? check_model(t, card) : check_subckt(t, card);
    found = true;
  }
  if (!found)
    throw std::invalid_argument(
        fmt::format("model card: no '.model {0}' or '.subckt {0}' in the card", card.device));
  return card;
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
