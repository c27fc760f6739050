// Model cards, the EKV fit on analytic data, DEVICE.h5 and [select] model = "table" (no ngspice).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "device_fixtures.hpp"
#include "devices/ekv_fit.hpp"
#include "devices/model_card.hpp"
#include "io/config.hpp"
#include "io/device_file.hpp"
#include "io/errors.hpp"
#include "netlists/spice_deck.hpp"
#include "studies/sweep_runner.hpp"
#include "studies/sweep_spec.hpp"

using namespace xbar;
using Catch::Contains;

namespace {

const std::string k_card = R"(my select card
.model nsel NMOS (level=54 version=4.8
+ vth0=0.5)
.control
op
.endc
.end
)";

const std::string k_subckt = "* subckt card\n.subckt fet d g s b w=1u l=1u\nM1 d g s b nn w={w} l={l}\n.ends\n"
                             ".model nn nmos level=1\n";

// Samples of the EKV law over the read range (V_D, V_S in [0, 0.1], V_G in [0, 1.1]).
std::vector<devices::IvSample> ekv_samples(const devices::EkvParams& p) {
  std::vector<devices::IvSample> out;
  for (double v_g = 0; v_g <= 1.1 + 1e-9; v_g += 0.02)
    for (double v_d = 0; v_d <= 0.1 + 1e-9; v_d += 0.01)
      for (double v_s = 0; v_s <= 0.1 + 1e-9; v_s += 0.01)
        out.push_back({v_g, v_d, v_s, devices::ekv_current(p, v_g, v_d, v_s).i_ds});
  return out;
}

// A temporary folder removed at the end of the test.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("xbar-test-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The test PDK (tests/pdk_card.py): a `.lib` corner section including a 6-bin subckt and the
// corner's `.param` file, `.option scale=1u`.
const std::string k_pdk_card = XBAR_TEST_DATA_DIR "/pdk/nch_tt.cir";

io::DeviceFile ekv_device_file() {
  const devices::EkvParams law = devices::select_defaults();
  devices::TableSamples samples = test::tabulate(devices::make_table_grid(test::default_spec()), test::ekv_law(law));
  return {devices::make_model_card(k_card, "nsel", 120e-9, 40e-9, 27), samples, law, {400, 1e-5, 2e-6, 1.5}};
}

}  // namespace

TEST_CASE("a model card is found by name, case-insensitively, and checked", "[card]") {
  const devices::ModelCard card = devices::make_model_card(k_card, "NSEL", 120e-9, 40e-9, 85);
  CHECK(card.kind == devices::CardKind::model);
  CHECK(devices::make_model_card(k_subckt, "fet", {}, {}, 27).kind == devices::CardKind::subckt);
  CHECK_THROWS_WITH(devices::make_model_card(k_card, "other", 1e-7, 1e-7, 27), Contains("no '.model other'"));
  CHECK_THROWS_WITH(devices::make_model_card(k_card, "nsel", {}, {}, 27), Contains("needs the device size"));
  CHECK_THROWS_WITH(devices::make_model_card(".model p1 pmos level=1\n", "p1", 1e-7, 1e-7, 27), Contains("only nmos"));
  CHECK_THROWS_WITH(devices::make_model_card(".include other.lib\n.model n nmos\n", "n", 1e-7, 1e-7, 27),
                    Contains("'.include other.lib' is left in the text"));
  CHECK_THROWS_WITH(devices::make_model_card(".subckt three d g s\n.ends\n", "three", {}, {}, 27),
                    Contains("must have four"));
  CHECK_THROWS_WITH(devices::make_model_card(k_card, "nsel", 120e-9, 40, 27), Contains("metres"));
}

TEST_CASE("a card goes into a deck without its title, .control block or .end, at its temperature", "[card]") {
  const devices::ModelCard card = devices::make_model_card(k_card, "nsel", 120e-9, 40e-9, 85);
  const std::string text = devices::card_spice_definitions(card);
  CHECK_THAT(text, Contains("* my select card\n"));
  CHECK_THAT(text, Contains(".model nsel NMOS (level=54 version=4.8\n+ vth0=0.5)\n"));
  CHECK_THAT(text, !Contains(".control") && !Contains(".endc") && !Contains(".end\n") && !Contains("\nop\n"));
  CHECK_THAT(text, Contains(".temp 85\n") && Contains(".option num_threads=1\n"));
  CHECK(devices::card_spice_instance(card, "SEL_0_1", "r", "g", "m", "0") == "MSEL_0_1 r g m 0 nsel w=1.2e-07 l=4e-08\n");
  const devices::ModelCard sub = devices::make_model_card(k_subckt, "fet", {}, 60e-9, 27);
  CHECK(devices::card_spice_instance(sub, "1", "d", "g", "s", "0") == "X1 d g s 0 fet l=6e-08\n");
}

TEST_CASE("the EKV fit recovers the parameters of noise-free EKV samples", "[fit]") {
  const devices::EkvParams truth{.n = 1.37, .i_s = 5.2e-7, .eta = 0.06, .vt = 0.41};
  const devices::EkvFitResult fit = devices::fit_ekv(ekv_samples(truth));
  CHECK(fit.converged);
  CHECK(fit.params.vt == Approx(truth.vt).epsilon(1e-9));
  CHECK(fit.params.n == Approx(truth.n).epsilon(1e-9));
  CHECK(fit.params.i_s == Approx(truth.i_s).epsilon(1e-8));
  CHECK(fit.params.eta == Approx(truth.eta).epsilon(1e-7));
  CHECK(fit.error.max <= 1e-8);
  CHECK(fit.excluded == 11 * 56);  // the V_D = V_S samples: I = 0
}

TEST_CASE("the EKV fit needs usable samples and says so", "[fit]") {
  const std::vector<devices::IvSample> none = {{0.5, 0.1, 0.1, 0.0}, {0.5, 0.1, 0.0, -1e-9}};
  CHECK_THROWS_WITH(devices::fit_ekv(none), Contains("0 of 2 samples are usable"));
}

TEST_CASE("a fit's errors are shares of the on current, at v_on, everywhere and at v_off", "[fit]") {
  // "Card" currents: the EKV law, 3 % high at V_G = 1 V (v_on), exact elsewhere. Then I_on =
  // 1.03 max I_EKV(v_on), and the worst error is 0.03 I_EKV / I_on at the largest on current.
  const devices::EkvParams law{.n = 1.3, .i_s = 3e-7, .eta = 0.05, .vt = 0.45};
  std::vector<devices::IvSample> samples;
  double largest_on = 0;
  for (double v_g : {0.0, 0.5, 1.0})
    for (double v_d : {0.05, 0.1, 0.2}) {
      const double i = devices::ekv_current(law, v_g, v_d, 0.0).i_ds;
      samples.push_back({v_g, v_d, 0.0, v_g == 1.0 ? 1.03 * i : i});
      if (v_g == 1.0) largest_on = std::max(largest_on, i);
    }
  const devices::OnCurrentErrors e = devices::ekv_on_current_errors(law, samples, 1.0, 0.0);
  CHECK(e.i_on == Approx(1.03 * largest_on).epsilon(1e-14));
  CHECK(e.on.points == 3);
  CHECK(e.on.max == Approx(0.03 / 1.03).epsilon(1e-12));
  CHECK(e.read.points == 9);
  CHECK(e.read.max == Approx(0.03 / 1.03).epsilon(1e-12));
  CHECK(e.off.points == 3);
  CHECK(e.off.max <= 1e-15);
  // beta, the config's parameter, back from the fitted I_S.
  CHECK(devices::select_beta(1.3, devices::select_specific_current(1.3, 2e-4)) == Approx(2e-4).epsilon(1e-15));
}

TEST_CASE("an array deck with a tabulated select instantiates the original card", "[card][netlist]") {
  const io::DeviceFile file = ekv_device_file();
  auto table = std::make_shared<const devices::TabulatedTransistor>(
      devices::TabulatedTransistor{file.card, devices::TableDevice(file.samples, file.envelope)});
  const netlists::Crossbar xb(test::array_with_select(devices::CellKind::select_sonos_2t, table, 3, 2, 1));
  const std::string deck = netlists::spice_deck(xb, std::vector<double>{1, 0, 1}, "table deck");
  CHECK_THAT(deck, Contains(".model nsel NMOS") && Contains(".temp 27"));
  CHECK_THAT(deck, Contains("MSEL_0_0 r_0_0 g_0 m_0_0 0 nsel w=1.2e-07 l=4e-08\n"));
  CHECK_THAT(deck, Contains("RLSEL_2_1 r_2_1 m_2_1 "));
  CHECK_THAT(deck, !Contains("BSEL_") && Contains("BSON_2_1"));
}

TEST_CASE("DEVICE.h5 keeps the table, its card and its envelope", "[io][table]") {
  const TempDir dir;
  const io::DeviceFile written = ekv_device_file();
  io::write_device_file(dir.file("dev.h5"), written);
  const io::DeviceFile read = io::read_device_file(dir.file("dev.h5"));
  CHECK(read.card.text == written.card.text);
  CHECK(read.card.device == "nsel");
  CHECK(read.card.w == written.card.w);
  CHECK(read.card.l == written.card.l);
  CHECK(read.samples.grid.v_ds == written.samples.grid.v_ds);
  CHECK(read.samples.i_ds == written.samples.i_ds);
  CHECK(read.samples.di_dvd == written.samples.di_dvd);
  CHECK(read.envelope.vt == written.envelope.vt);
  CHECK(read.quality.max_rel_error == 1e-5);
  const auto law = io::load_tabulated_transistor(dir.file("dev.h5"));
  CHECK(law->law.current(1.1, 0.1, 0.0).i_ds ==
        Approx(devices::ekv_current(devices::select_defaults(), 1.1, 0.1, 0.0).i_ds).epsilon(1e-6));
  CHECK_THROWS_WITH(io::read_device_file(dir.file("none.h5")), Contains("none.h5: file not found"));
}

TEST_CASE("a sweep reads its select table once, however many points use it", "[io][table][sweep]") {
  const TempDir dir;
  io::write_device_file(dir.file("dev.h5"), ekv_device_file());
  std::string seeds;
  for (int seed = 0; seed < 1000; ++seed) seeds += std::to_string(seed) + ", ";
  const studies::SweepSpec spec = studies::parse_sweep(
      "[array]\nrows = 2\ncols = 2\ncell = \"1t1r\"\n[select]\nmodel = \"table\"\nfile = \"" + dir.file("dev.h5") +
          "\"\n[sweep]\n\"inputs.seed\" = [" + seeds + "]\n",
      "t.toml");
  REQUIRE(spec.points.size() == 1000);
  std::set<const devices::TabulatedTransistor*> tables;
  for (const io::RunConfig& point : spec.points) tables.insert(point.cell.select_table.get());
  CHECK(tables.size() == 1);
  // Every point runs (one thread: the shared table is read-only), and solves its 2x2 array.
  const std::vector<studies::PointMetrics> metrics = studies::run_sweep(spec, 1);
  REQUIRE(metrics.size() == 1000);
  for (const studies::PointMetrics& m : metrics) CHECK(std::isfinite(m.newton_iterations));
}

TEST_CASE("[select] model = \"table\" loads DEVICE.h5 and checks that the biases lie on it", "[io][table]") {
  const TempDir dir;
  io::write_device_file(dir.file("dev.h5"), ekv_device_file());
  const std::string base = "[array]\nrows = 4\ncols = 4\ncell = \"1t1r\"\n[select]\nmodel = \"table\"\n";
  const io::RunConfig c = io::parse_config(base + "file = \"" + dir.file("dev.h5") + "\"\n", "t.toml");
  CHECK(c.cell.select_model == devices::SelectModel::table);
  CHECK(c.cell.select_table->card.device == "nsel");
  CHECK_THROWS_WITH(io::parse_config(base, "t.toml"), Contains("'select.file'") && Contains("required"));
  CHECK_THROWS_WITH(io::parse_config(base + "file = \"" + dir.file("dev.h5") + "\"\nvt = 0.4\n", "t.toml"),
                    Contains("'select.vt'") && Contains("EKV parameter"));
  CHECK_THROWS_WITH(io::parse_config(base + "file = \"" + dir.file("dev.h5") + "\"\n[bias]\nv_on = 1.5\n", "t.toml"),
                    Contains("'bias.v_on' = 1.5 V is outside the table"));
  CHECK_THROWS_WITH(io::parse_config("[select]\nfile = \"x.h5\"\n", "t.toml"), Contains("needs select.model"));
  CHECK_THROWS_WITH(io::parse_config(base + "file = \"nowhere.h5\"\n", "t.toml"),
                    Contains("t.toml: key 'select.file' = \"nowhere.h5\"") && Contains("file not found"));
}

TEST_CASE("a PDK card's .lib section and its .include files are resolved into one text", "[card][pdk]") {
  const devices::ResolvedCard resolved = devices::resolve_card_file(k_pdk_card);
  const std::string& text = resolved.text;
  CHECK(resolved.files.size() == 4);  // the card, models.lib, corners/tt.spice, models/nch.spice
  CHECK_THAT(text, Contains(".subckt nch d g s b w=1 l=1 mult=1") && Contains(".model nch__model.5 nmos"));
  CHECK_THAT(text, Contains(".param nch__vth0_diff_0 = 0 ") && Contains(".option scale=1u"));
  CHECK_THAT(text, !Contains("nch__toxe_mult = 0.96"));  // the ff section is not named
  const devices::ModelCard card = devices::make_model_card(text, "nch", 0.42, 0.15, 27);
  CHECK(card.kind == devices::CardKind::subckt);
  CHECK(card.scale == 1e-6);
  CHECK(*card.width_m() == Approx(0.42e-6).epsilon(1e-15));
  CHECK(*card.length_m() == Approx(0.15e-6).epsilon(1e-15));
  CHECK(devices::card_spice_instance(card, "1", "d", "g", "s", "0") == "X1 d g s 0 nch w=0.42 l=0.15\n");
  const std::vector<devices::CardBin> bins = devices::card_bins(card);
  REQUIRE(bins.size() == 6);
  CHECK(bins[0].model == "nch__model.0");
  CHECK(bins[0].lmin == 1.5e-7);
  CHECK(bins[5].lmax == 9e-7);
  CHECK(bins[5].wmax == 9.9e-7);
  CHECK_THROWS_WITH(devices::make_model_card(text, "nch", 4.2e6, 0.15, 27),
                    Contains("W = 4.2 m") && Contains("units of 1e-06 m"));
}

TEST_CASE("a .lib or .include that cannot be resolved is named with its file and line", "[card][pdk]") {
  const TempDir dir;
  std::filesystem::create_directories(dir.path / "sub");
  write_text(dir.file("top.cir"), "* top\n.include \"sub/a.spice\"\n");
  write_text(dir.file("sub/a.spice"), "* a\n\n.lib '../lib.spice' fast\n");
  write_text(dir.file("lib.spice"), ".lib slow\n.model n nmos\n.endl\n.lib typ\n.endl typ\n");
  CHECK_THROWS_WITH(devices::resolve_card_file(dir.file("top.cir")),
                    Contains("sub/a.spice:3: '.lib '../lib.spice' fast': no section 'fast'") &&
                        Contains("its sections: slow, typ"));
  write_text(dir.file("sub/a.spice"), "* a\n.include missing.spice\n");
  CHECK_THROWS_WITH(devices::resolve_card_file(dir.file("top.cir")),
                    Contains("sub/a.spice:2: '.include missing.spice': cannot read") && Contains("sub/missing.spice"));
  write_text(dir.file("sub/a.spice"), "* a\n.inc ../top.cir\n");
  CHECK_THROWS_WITH(devices::resolve_card_file(dir.file("top.cir")),
                    Contains("sub/a.spice:2: '.inc ../top.cir': includes") && Contains("top.cir again") &&
                        Contains("top.cir -> a.spice -> top.cir"));
  // The same file twice, not nested, is no cycle; a section names only its own lines.
  write_text(dir.file("sub/a.spice"), "* a\n.lib ../lib.spice slow\n.lib ../lib.spice typ\n");
  CHECK(devices::resolve_card_file(dir.file("top.cir")).files.size() == 4);
  CHECK_THROWS_WITH(devices::resolve_card_file(dir.file("none.cir")), Contains("none.cir: cannot read the model file"));
}

TEST_CASE("DEVICE.h5 keeps a card text far beyond 64 KiB, and the true sizes of a scaled card", "[io][table][pdk]") {
  const TempDir dir;
  io::DeviceFile written = ekv_device_file();
  const std::string text = devices::resolve_card_file(k_pdk_card).text;
  std::string big = "* padding to well beyond HDF5's 64 KiB attribute limit\n";
  while (big.size() < 300000) big += "* " + std::string(70, 'x') + "\n";
  written.card = devices::make_model_card(text + big, "nch", 0.42, 0.15, 27);
  io::write_device_file(dir.file("dev.h5"), written);
  const io::DeviceFile read = io::read_device_file(dir.file("dev.h5"));
  CHECK(read.card.text == written.card.text);
  CHECK(read.card.w == 0.42);  // exactly as the instance line takes it
  CHECK(read.card.l == 0.15);
  CHECK(read.card.scale == 1e-6);
  written.card.text = text;
  io::write_device_file(dir.file("small.h5"), written);
  // 300 kB of padding costs a few kB: the text is compressed.
  CHECK(std::filesystem::file_size(dir.file("dev.h5")) < std::filesystem::file_size(dir.file("small.h5")) + 20000);
}

TEST_CASE("the EKV fit says when a parameter ends on a bound of its range", "[fit]") {
  const devices::EkvFitResult free_fit = devices::fit_ekv(ekv_samples({.n = 1.37, .i_s = 5.2e-7, .eta = 0.06, .vt = 0.41}));
  CHECK(free_fit.at_bound.empty());
  // A law whose current falls with V_DS wants eta < 0: the fit stops at eta = 0 and says so.
  const devices::EkvFitResult bound_fit = devices::fit_ekv(ekv_samples({.n = 1.37, .i_s = 5.2e-7, .eta = -0.05, .vt = 0.41}));
  REQUIRE(bound_fit.at_bound.size() == 1);
  CHECK(std::string(bound_fit.at_bound[0]->name) == "eta");
  CHECK(bound_fit.params.eta == Approx(0).margin(1e-6));
  CHECK(bound_fit.params.eta >= 0);
}
