#pragma once
// A user's SPICE model of a transistor, as text: a `.model NAME nmos ...` card (instantiated as
// an M element with W and L) or a `.subckt NAME drain gate source bulk` (instantiated as an X
// element, with `w=... l=...` parameters when given). This is the SPICE side of a tabulated
// device (table_device.hpp): decks include the card and instantiate it, xbar solves the table.
#include <optional>
#include <string>

namespace xbar::devices {

enum class CardKind { model, subckt };

struct ModelCard {
  std::string text;    ///< the card file as given (stored verbatim in DEVICE.h5)
  std::string device;  ///< name of the .model or .subckt, as written in the card
  CardKind kind = CardKind::model;
  std::optional<double> w, l;  ///< m; required for a .model, optional for a .subckt
  double temp_c = 27.0;        ///< simulation temperature (degrees C), ngspice's default
};

/// Finds `device` in the card text and checks it can be used: an n-channel `.model` (W and L
/// required) or a `.subckt` with at least four pins; no `.include`/`.lib` (the text must be
/// self-contained, so that DEVICE.h5 alone reproduces it). Throws std::invalid_argument with a
/// message naming what is wrong.
ModelCard make_model_card(std::string text, std::string device, std::optional<double> w,
                          std::optional<double> l, double temp_c);

/// The lines a deck needs once before any instance: the card without any `.end`, `.control`
/// block or title-like first line, `.temp`, and `.option num_threads=1`. (Debian's ngspice runs
/// BSIM4 loads on OpenMP threads; for the small circuits xbar checks, thread start-up costs more
/// than the load, 15-30x on a busy 2-core machine.)
std::string card_spice_definitions(const ModelCard& card);

/// One instance with bulk `node_b`: `M<tag> d g s b NAME w=W l=L` or `X<tag> d g s b NAME [...]`.
std::string card_spice_instance(const ModelCard& card, const std::string& tag, const std::string& node_d,
                                const std::string& node_g, const std::string& node_s,
                                const std::string& node_b);

}  // namespace xbar::devices
