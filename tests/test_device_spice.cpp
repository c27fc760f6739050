// One source of truth for each law: the C++ function and the SPICE text next to it compute the
// same current, checked through ngspice on a bias grid that spans the array's range (both
// directions of V_DS, sub- to moderate inversion, levels 0 and 127 and the select FET).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cmath>

#include "devices/cell.hpp"
#include "devices/ekv.hpp"
#include "devices/resistor.hpp"
#include "validation/ngspice_session.hpp"

using namespace xbar;

namespace {

// A deck with the three terminals driven by sources; the device's current flows into VD's +
// terminal from the drain, so I_DS = -i(VD).
std::string transistor_deck(const devices::EkvParams& p, double vg, double vd, double vs) {
  return fmt::format(
      "ekv law\n.option abstol=1e-18 reltol=1e-6 vntol=1e-9 gmin=1e-20\n{}"
      "VG g 0 DC {:.17g}\nVD d 0 DC {:.17g}\nVS s 0 DC {:.17g}\n"
      "BP 0 p I={{{}}}\nRP p 0 1\nB d s I={{{}}}\n.end\n",
      devices::ekv_spice_functions(), vg, vd, vs, devices::ekv_spice_pinchoff("g", "d", "s", p),
      devices::ekv_spice_current("p", "d", "s", p.i_s));
}

std::string resistor_deck(const devices::ResistorLaw& law, double g, double v) {
  return fmt::format(
      "resistor law\n.option abstol=1e-18 reltol=1e-6 vntol=1e-9 gmin=1e-20\n"
      "VA a 0 DC {:.17g}\nB a 0 I={{{}}}\n.end\n",
      v, devices::resistor_spice_current(law, g, "a", "0"));
}

}  // namespace

TEST_CASE("the EKV law in ngspice equals the C++ law on a bias grid", "[ngspice][devices]") {
  auto& spice = validation::NgspiceSession::instance();
  std::vector<std::pair<devices::EkvParams, double>> devices_and_gates;
  for (double vt : {0.519, 0.15, -0.205}) {
    devices::EkvParams sonos = devices::sonos_defaults();
    sonos.vt = vt;
    devices_and_gates.push_back({sonos, 0.0});
  }
  devices_and_gates.push_back({devices::select_defaults(), 1.1});
  devices_and_gates.push_back({devices::select_defaults(), 0.0});
  double worst = 0;
  for (const auto& [p, vg] : devices_and_gates)
    for (double vd : {0.0, 0.004, 0.05, 0.1})
      for (double vs : {0.0, 0.002, 0.03, 0.1}) {
        if (vd == vs) continue;
        const double expected = devices::ekv_current(p, vg, vd, vs).i_ds;
        const double measured = -spice.run_operating_point(transistor_deck(p, vg, vd, vs)).source_current("VD");
        const double rel = std::abs(measured - expected) / std::abs(expected);
        INFO("vt " << p.vt << " vg " << vg << " vd " << vd << " vs " << vs << ": " << measured << " vs " << expected);
        CHECK(rel <= 1e-9);  // softplus branches agree to < 3e-10 (docs/conventions.md)
        worst = std::max(worst, rel);
      }
  WARN("largest relative difference, C++ vs ngspice EKV law: " << worst);
}

TEST_CASE("the sinh and linear resistor laws in ngspice equal the C++ laws", "[ngspice][devices]") {
  auto& spice = validation::NgspiceSession::instance();
  for (const devices::ResistorLaw law : {devices::ResistorLaw{}, devices::ResistorLaw{0.05}})
    for (double v : {-0.1, 0.013, 0.1}) {
      const double expected = devices::resistor_current(law, 1e-4, v).i;
      const double measured = -spice.run_operating_point(resistor_deck(law, 1e-4, v)).source_current("VA");
      CHECK(measured == Approx(expected).epsilon(1e-12));
    }
}
