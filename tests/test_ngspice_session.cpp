// NgspiceSession: decks in, op plots out, ngspice's own errors surfaced as SpiceError.
#include "validation/ngspice_session.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

using xbar::validation::NgspiceSession;
using xbar::validation::SpiceError;
using Catch::Matchers::Contains;

namespace {

// 1 V over 1 k + 3 k, with a 0 V sense source in series: V(mid) = 0.75 V, I = 0.25 mA.
const std::string k_divider = R"(divider with a 0 V sense source
V1 in 0 DC 1
VSENSE_0 in a DC 0
R1 a mid 1k
R2 mid 0 3k
.option abstol=1e-18 reltol=1e-6 vntol=1e-9 gmin=1e-20
.end
)";

// shared/reference/cell2t.cir flattened: no .subckt, no .control, V_T of the SONOS as a .param.
const std::string k_cell_2t = R"(2T SONOS cell, flattened reference
.param UT=0.025852
.param NS=1.40 ISS=250e-9 ETAS=0.04
.param NA=1.30 ISA={2*1.30*200e-6*UT*UT} ETAA=0.08 VTA=0.45
.param GLEAK=1e-15 VTS=-0.2054
.func sp(x) {x > 30 ? x + exp(-x) : (x < -15 ? exp(x)*(1-0.5*exp(x)) : ln(1+exp(x)))}
.func FF(v) {sp(0.5*v)*sp(0.5*v)}
.func ekv(vg,vd,vs,vt,n,is,eta) {is*(FF(((vg-vt+eta*(vd-vs))/n-vs)/UT)-FF(((vg-vt+eta*(vd-vs))/n-vd)/UT))}
VSUP sup 0 DC 0.1
VIN  in  0 DC 1.1
VWL  wl  0 DC 0
VBL  bl  0 DC 0
BSEL sup m  I={ekv(V(in),V(sup),V(m),VTA,NA,ISA,ETAA)}
RLS  sup m  {1/GLEAK}
BSON m   bl I={ekv(V(wl),V(m),V(bl),VTS,NS,ISS,ETAS)}
RLN  m   bl {1/GLEAK}
.option abstol=1e-18 reltol=1e-6 vntol=1e-9
.end
)";

const std::string k_unknown_model = R"(transistor with a model nobody defined
V1 in 0 DC 1
R1 in 0 1k
M1 in in 0 0 nosuchmodel
.end
)";

// C1-C2 leave node x without any DC path: the op matrix is singular.
const std::string k_floating_node = R"(node between two capacitors
V1 in 0 DC 1
R1 in 0 1k
C1 in x 1p
C2 x 0 1p
.end
)";

// A source-driven node with a discontinuous sink: no DC solution exists for Newton to find.
const std::string k_no_solution = R"(discontinuous current sink
V1 in 0 DC 1
R1 in x 1k
B1 x 0 I={V(x) > 0.5 ? 1 : -1}
.end
)";

// Runs `body` in a child process and returns its exit code, so that a test which makes ngspice
// ask to be unloaded poisons only the child's copy of the process-wide session.
int exit_code_in_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
    }
    std::_Exit(code);  // no atexit handlers: the parent owns Catch's reporting
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a resistor divider gives 0.75 V and 0.25 mA through its sense source", "[ngspice]") {
  const auto op = NgspiceSession::instance().run_operating_point(k_divider);
  CHECK(op.voltage("mid") == Approx(0.75).margin(1e-9));
  CHECK(op.voltage("MID") == op.voltage("mid"));
  CHECK(op.voltage("0") == 0.0);
  // Current enters VSENSE_0 at its + node (in) and leaves at a: positive in ngspice's convention.
  CHECK(op.source_current("VSENSE_0") == Approx(0.25e-3).margin(1e-9));
  // The supply delivers that current, so its own branch current is negative.
  CHECK(op.source_current("v1") == Approx(-0.25e-3).margin(1e-9));
  CHECK(op.elapsed_s > 0.0);
  CHECK_THROWS_AS(op.voltage("nowhere"), SpiceError);
  CHECK_THROWS_AS(op.source_current("vnowhere"), SpiceError);
}

TEST_CASE("the flattened 2T SONOS reference cell carries 1.600026 uA into its bit line", "[ngspice]") {
  const auto op = NgspiceSession::instance().run_operating_point(k_cell_2t);
  // Current flows supply -> select -> m -> SONOS -> bl and into VBL's + terminal: positive,
  // the value ngspice -b prints for shared/reference/cell2t.cir.
  CHECK(op.source_current("VBL") == Approx(1.600026e-6).epsilon(1e-5));
  CHECK(op.voltage("m") == Approx(8.492900e-2).epsilon(1e-5));
}

TEST_CASE("broken decks throw SpiceError carrying ngspice's own words", "[ngspice]") {
  auto& session = NgspiceSession::instance();
  SECTION("unknown model") {
    REQUIRE_THROWS_WITH(session.run_operating_point(k_unknown_model),
                        Contains("ngspice: ") && Contains("can't find model 'nosuchmodel'") &&
                            Contains("could not find a valid modelname"));
  }
  SECTION("B-source expression syntax error") {
    const std::string deck = "bad expression\nV1 in 0 1\nR1 in x 1k\nB1 x 0 I={2*(V(x)}\n.end\n";
    REQUIRE_THROWS_WITH(session.run_operating_point(deck), Contains("syntax error") && Contains("b1 x 0"));
  }
  SECTION("no circuit at all") {
    REQUIRE_THROWS_WITH(session.run_operating_point(""), Contains("no vectors"));
  }
  SECTION("floating node") {
    REQUIRE_THROWS_WITH(session.run_operating_point(k_floating_node), Contains("singular matrix"));
  }
  SECTION("no DC solution") {
    REQUIRE_THROWS_WITH(session.run_operating_point(k_no_solution), Contains("timestep too small"));
  }
  CHECK(contains(session.last_output(), "stderr "));
}

TEST_CASE("decks run back to back leave no state behind", "[ngspice]") {
  auto& session = NgspiceSession::instance();
  const auto first = session.run_operating_point(k_divider);
  const auto second = session.run_operating_point(k_cell_2t);
  const auto again = session.run_operating_point(k_divider);
  CHECK(first.values == again.values);
  CHECK(second.values.count("mid") == 0);
  CHECK(again.values.count("m") == 0);
}

TEST_CASE("a failing deck does not spoil the next one", "[ngspice]") {
  auto& session = NgspiceSession::instance();
  CHECK_THROWS_AS(session.run_operating_point(k_unknown_model), SpiceError);
  CHECK_THROWS_AS(session.run_operating_point(k_floating_node), SpiceError);
  const auto op = session.run_operating_point(k_divider);
  CHECK(op.voltage("mid") == Approx(0.75).margin(1e-9));
}

TEST_CASE("callers on two threads are serialised and both get their own answer", "[ngspice]") {
  auto& session = NgspiceSession::instance();
  int divider_mismatches = 0;
  int cell_mismatches = 0;
  auto repeat = [&](const std::string& deck, const std::string& node, double expected, int& mismatches) {
    for (int run = 0; run < 20; ++run)
      if (session.run_operating_point(deck).voltage(node) != Approx(expected).epsilon(1e-5)) ++mismatches;
  };
  std::thread divider_thread(repeat, std::cref(k_divider), "mid", 0.75, std::ref(divider_mismatches));
  repeat(k_cell_2t, "m", 8.492900e-2, cell_mismatches);
  divider_thread.join();
  CHECK(divider_mismatches == 0);
  CHECK(cell_mismatches == 0);
}

TEST_CASE("a .control block is dropped, so its quit cannot unload ngspice", "[ngspice]") {
  auto& session = NgspiceSession::instance();
  std::string deck = k_divider;
  deck.replace(deck.find(".end"), 4, ".control\nop\nquit\n.endc\n.end");
  CHECK(session.run_operating_point(deck).voltage("mid") == Approx(0.75).margin(1e-9));
  CHECK(contains(session.last_output(), ".control"));
  CHECK(session.run_operating_point(k_divider).voltage("mid") == Approx(0.75).margin(1e-9));
}

TEST_CASE("after ngspice asks to be unloaded, the session refuses every later deck", "[ngspice]") {
  // An undefined .param is fatal to ngspice 39's numparam stage: it calls ControlledExit.
  const std::string undefined_parameter = "undefined parameter\nV1 in 0 {nowhere}\nR1 in 0 1k\n.end\n";
  const int code = exit_code_in_child([&] {
    auto& session = NgspiceSession::instance();
    try {
      session.run_operating_point(undefined_parameter);
      return 10;
    } catch (const SpiceError& e) {
      if (!contains(e.what(), "Undefined parameter") || !contains(e.what(), "unloaded")) return 11;
    }
    try {
      session.run_operating_point(k_divider);
      return 12;
    } catch (const SpiceError& e) {
      if (!contains(e.what(), "unloaded")) return 13;
    }
    return 0;
  });
  CHECK(code == 0);
}
