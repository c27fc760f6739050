#pragma once
// A user's SPICE model of a transistor, as text: a `.model NAME nmos ...` card (instantiated as
// an M element with W and L) or a `.subckt NAME drain gate source bulk` (instantiated as an X
// element, with `w=... l=...` parameters when given). This is the SPICE side of a tabulated
// device (table_device.hpp): decks include the card and instantiate it, xbar solves the table.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xbar::devices {

enum class CardKind { model, subckt };

struct ModelCard {
  std::string text;    ///< the card, `.lib`/`.include` resolved (resolve_card_file): stored in DEVICE.h5
  std::string device;  ///< name of the .model or .subckt, as written in the card
  CardKind kind = CardKind::model;
  /// Sizes as the instance line takes them, in the card's length unit: metres / scale (a PDK
  /// with `.option scale=1u` takes micrometres). Required for a .model, optional for a .subckt.
  std::optional<double> w, l;
  double temp_c = 27.0;  ///< simulation temperature (degrees C), ngspice's default
  double scale = 1.0;    ///< the card's `.option scale` (m per length unit on instance lines)

  /// True sizes (m): w * scale, l * scale.
  std::optional<double> width_m() const { return w ? std::optional<double>(*w * scale) : std::nullopt; }
  std::optional<double> length_m() const { return l ? std::optional<double>(*l * scale) : std::nullopt; }
};

/// A card file with every `.include FILE` replaced by the file's text and every `.lib FILE
/// SECTION` by the lines of that section (`.lib SECTION` ... `.endl`), recursively, as ngspice
/// reads them: a relative FILE is relative to the folder of the file that names it. Sections a
/// file defines but nothing names are left out. Throws std::invalid_argument naming the file
/// and line of a missing file or section, or of an include cycle.
struct ResolvedCard {
  std::string text;
  std::vector<std::filesystem::path> files;  ///< every file read, the card first
  std::vector<std::string> sections;         ///< `.lib SECTION` blocks the card file itself defines
};
ResolvedCard resolve_card_file(const std::filesystem::path& path);

/// Finds `device` in the card text (a resolved card: no `.include`/`.lib` left) and checks it
/// can be used: an n-channel `.model` (or a binned set `NAME.1`, `NAME.2`, ...; W and L
/// required) or a `.subckt` with four pins. Reads the card's `.option scale`; `w`, `l` are in
/// its unit and the true sizes must lie in (0, 1) m. Throws std::invalid_argument with a message
/// naming what is wrong.
ModelCard make_model_card(std::string text, std::string device, std::optional<double> w,
                          std::optional<double> l, double temp_c);

/// The size range of one bin of a binned model (BSIM `lmin <= L < lmax`, `wmin <= W < wmax`, m).
struct CardBin {
  std::string model;
  double lmin, lmax, wmin, wmax;
};

/// The bins the device instantiates: for a .model card the models `NAME.<k>`, for a .subckt
/// those of every model its M lines name. Empty when the device is not binned.
std::vector<CardBin> card_bins(const ModelCard& card);

/// The lines a deck needs once before any instance: the card without any `.end`, `.control`
/// block or title-like first line, `.temp`, and `.option num_threads=1`. (Debian's ngspice runs
/// BSIM4 loads on OpenMP threads; for the small circuits xbar checks, thread start-up costs more
/// than the load, 15-30x on a busy 2-core machine.)
std::string card_spice_definitions(const ModelCard& card);

/// One instance with bulk `node_b`: `M<tag> d g s b NAME w=W l=L` or `X<tag> d g s b NAME [...]`
/// (W, L in the card's unit, exactly as given).
std::string card_spice_instance(const ModelCard& card, const std::string& tag, const std::string& node_d,
                                const std::string& node_g, const std::string& node_s,
                                const std::string& node_b);

}  // namespace xbar::devices
