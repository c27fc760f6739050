// The config schema (io/config_schema.hpp): each key declared once, its default taken from the
// device and solver structs, the complete effective config and its [derived] values.
#include <catch2/catch.hpp>

#include <toml++/toml.h>

#include "devices/cell.hpp"
#include "devices/ekv.hpp"
#include "io/config.hpp"
#include "io/config_schema.hpp"

using namespace xbar;
using Catch::Contains;

namespace {

toml::table effective(const std::string& text) { return toml::parse(io::parse_config(text, "t.toml").text); }

double number(const toml::table& t, const char* key) { return *t.at_path(key).value<double>(); }

}  // namespace

TEST_CASE("a key's default is the device or solver struct's own default, not a second copy") {
  const toml::table t = effective("");
  const devices::EkvParams sonos = devices::sonos_defaults(), select = devices::select_defaults();
  CHECK(number(t, "sonos.n") == sonos.n);
  CHECK(number(t, "sonos.i_s") == sonos.i_s);
  CHECK(number(t, "sonos.eta") == sonos.eta);
  CHECK(number(t, "select.n") == select.n);
  CHECK(number(t, "select.eta") == select.eta);
  CHECK(number(t, "select.vt") == select.vt);
  // beta is what the config takes; I_S = 2 n beta U_T^2 must give the device default back.
  CHECK(devices::select_specific_current(number(t, "select.n"), number(t, "select.beta")) == select.i_s);
  const solver::NewtonOptions newton;
  CHECK(*t.at_path("solver.max_iterations").value<std::int64_t>() == newton.max_iterations);
  CHECK(number(t, "solver.abstol") == newton.abstol);
  CHECK(*t.at_path("solver.method").value<std::string>() == solver::to_string(newton.method));
}

TEST_CASE("the effective config holds every key that applies, defaults included, and reads back to itself") {
  for (const std::string& text :
       {std::string(""), std::string("[array]\ncell = \"1r\"\nr_hat_p = 1e-4\n[mapping]\nscheme = \"offset\"\n"
                                     "[resistor]\nlaw = \"sinh\"\n[variation]\ng_sigma = \"sonos-fit\"\n"
                                     "[table]\nv_bl_min = -0.1\n")}) {
    INFO(text);
    const io::RunConfig c = io::parse_config(text, "t.toml");
    const toml::table t = toml::parse(c.text);
    std::size_t keys = 0;
    for (const io::KeySpec& k : io::config_schema()) keys += t.at_path(k.key) ? 1 : 0;
    CHECK(keys > 60);
    CHECK(t.at_path("array.rows"));
    CHECK(t.at_path("solver.gmin_stepping"));
    CHECK(io::parse_config(c.text, "again.toml").text == c.text);  // a fixed point
  }
  // Keys that do not apply are left out, so that the text is a valid config.
  const toml::table sinh = effective("[array]\nr_hat_p = 1e-4\n[resistor]\nlaw = \"sinh\"\n");
  CHECK(!sinh.at_path("array.r_col"));
  CHECK(number(sinh, "resistor.v0") > 0);
  CHECK(!effective("").at_path("resistor.v0"));
  CHECK(!effective("").at_path("mapping.scheme"));
}

TEST_CASE("derived values are resolved once: r_col = r_hat_p / G_max, G_max by cell kind") {
  // 1r: G_max = resistor.g_max = 2e-4 S, so r_hat_p = 1e-3 is 5 ohm per segment.
  const toml::table r = effective("[array]\ncell = \"1r\"\nr_hat_p = 1e-3\n[resistor]\ng_max = 2e-4\n");
  CHECK(number(r, "derived.g_max") == 2e-4);
  CHECK(number(r, "derived.r_col") == Approx(5.0).epsilon(1e-15));
  CHECK(number(r, "derived.i_max") == Approx(2e-4 * 0.1).epsilon(1e-15));
  // 2t-sonos: G_max = i_max / v_read = 1.6e-6 / 0.2 = 8e-6 S; r_col = 2 ohm is r_hat_p = 1.6e-5.
  const toml::table s = effective("[array]\nr_col = 2.0\n[bias]\nv_read = 0.2\n");
  CHECK(number(s, "derived.g_max") == Approx(8e-6).epsilon(1e-15));
  CHECK(number(s, "derived.r_hat_p") == Approx(1.6e-5).epsilon(1e-15));
  CHECK(number(s, "derived.i_min") == Approx(1.6e-6 / 1e7).epsilon(1e-15));
  CHECK(*s.at_path("derived.physical_cols").value<std::int64_t>() == 64);
  CHECK(*effective("[mapping]\nscheme = \"offset\"\n").at_path("derived.physical_cols").value<std::int64_t>() == 65);
  // A [derived] section read back is recomputed, never taken as input.
  CHECK(io::parse_config("[array]\nr_col = 2.0\n[derived]\nr_col = 7.0\n", "t.toml").lines.r_col == 2.0);
  CHECK_THROWS_WITH(io::parse_config("[derived]\nr_kol = 7.0\n", "t.toml"), Contains("unknown key 'derived.r_kol'"));
}

TEST_CASE("the key listing names every key with its type, default and meaning") {
  const std::string listing = io::config_key_listing();
  for (const io::KeySpec& k : io::config_schema()) {
    CHECK_THAT(listing, Contains(k.key));
    CHECK(!k.help.empty());
  }
  CHECK_THAT(listing, Contains("integer in [1, 1048576]") && Contains("\"2t-sonos\""));
  CHECK_THAT(listing, Contains("derived.r_col"));
}

TEST_CASE("a value outside its key's range is refused with the key, the value and what is allowed") {
  CHECK_THROWS_WITH(io::parse_config("[array]\nrows = 0\n", "t.toml"),
                    "t.toml: key 'array.rows' = 0: must be an integer in [1, 1048576]");
  CHECK_THROWS_WITH(io::parse_config("[weights]\nclip_quantile = 1.5\n", "t.toml"),
                    "t.toml: key 'weights.clip_quantile' = 1.5: must be in (0, 1]");
  CHECK_THROWS_WITH(io::parse_config("", "t.toml", {"sonos.on_off=1"}),
                    "--set: key 'sonos.on_off' = 1: must be a finite number > 1");
  CHECK_THROWS_WITH(io::parse_config("[array]\nr_col = 1.0\nr_hat_p = 1e-4\n", "t.toml"),
                    Contains("'array.r_col'") && Contains("array.r_hat_p sets it too"));
  CHECK_THROWS_WITH(io::parse_config("[array]\nrowz = 1\n", "t.toml"), Contains("did you mean 'array.rows'"));
}

TEST_CASE("an override of array.r_hat_p replaces the file's array.r_col, and the other way round") {
  const io::RunConfig c = io::parse_config("[array]\ncell = \"1r\"\nr_col = 1.0\n", "t.toml", {"array.r_hat_p=1e-3"});
  CHECK(c.lines.r_col == Approx(1e-3 / 1e-4).epsilon(1e-15));  // r_hat_p / resistor.g_max
  CHECK(io::parse_config("[array]\nr_hat_p = 1e-3\n", "t.toml", {"array.r_col=2"}).lines.r_col == 2.0);
  CHECK_THROWS_WITH(io::parse_config("", "t.toml", {"array.r_col=2", "array.r_hat_p=1e-3"}),
                    Contains("array.r_hat_p sets it too"));
}

TEST_CASE("the config takes the cell-kind and select-model names of the one codec, and only those") {
  for (const std::string& name : devices::cell_kind_names()) {
    INFO(name);
    const io::RunConfig c = io::parse_config("[array]\ncell = \"" + name + "\"\n", "t.toml");
    CHECK(devices::to_string(c.cell.kind) == name);
    CHECK(c.cell.kind_name() == name);
  }
  for (const std::string& name : devices::select_model_names()) {
    INFO(name);
    const std::string file = name == "table" ? "file = \"absent.h5\"\n" : "";
    if (name == "table") {  // the name is taken; the missing file is what fails
      CHECK_THROWS_WITH(io::parse_config("[select]\nmodel = \"table\"\n" + file, "t.toml"), Contains("absent.h5"));
      continue;
    }
    CHECK(devices::to_string(io::parse_config("[select]\nmodel = \"" + name + "\"\n", "t.toml").cell.select_model) == name);
  }
  CHECK_THROWS_WITH(io::parse_config("[array]\ncell = \"2t\"\n", "t.toml"),
                    Contains("must be one of \"1r\", \"1t1r\", \"2t-sonos\""));
  CHECK_THROWS_WITH(io::parse_config("[select]\nmodel = \"tabl\"\n", "t.toml"),
                    Contains("must be one of \"ekv\", \"ideal\", \"table\""));
}
