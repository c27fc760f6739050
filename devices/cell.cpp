#include "devices/cell.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "base/names.hpp"
#include "devices/root_find.hpp"

namespace xbar::devices {

namespace {

// The channel current plus the G_leak shunt every transistor carries drain-source.
BranchCurrent with_leak(const TransistorCurrent& t, double v_d, double v_s) {
  return {t.i_ds + k_transistor_leak * (v_d - v_s), t.di_dvd + k_transistor_leak,
          t.di_dvs - k_transistor_leak};
}

constexpr NameTable<CellKind> k_cell_kinds[] = {
    {CellKind::resistor_1r, "1r"}, {CellKind::select_resistor_1t1r, "1t1r"}, {CellKind::select_sonos_2t, "2t-sonos"}};
constexpr NameTable<SelectModel> k_select_models[] = {
    {SelectModel::ekv, "ekv"}, {SelectModel::ideal, "ideal"}, {SelectModel::table, "table"}};

}  // namespace

std::string_view to_string(CellKind kind) { return name_of(k_cell_kinds, kind); }
std::string_view to_string(SelectModel model) { return name_of(k_select_models, model); }
std::optional<CellKind> parse_cell_kind(std::string_view name) { return parse_name(k_cell_kinds, name); }
std::optional<SelectModel> parse_select_model(std::string_view name) { return parse_name(k_select_models, name); }
std::vector<std::string> cell_kind_names() { return all_names(k_cell_kinds); }
std::vector<std::string> select_model_names() { return all_names(k_select_models); }

BranchCurrent transistor_branch(const EkvParams& p, double v_g, double v_d, double v_s) {
  return with_leak(ekv_current(p, v_g, v_d, v_s), v_d, v_s);
}

BranchCurrent transistor_branch(const TableDevice& law, double v_g, double v_d, double v_s) {
  return with_leak(law.current(v_g, v_d, v_s), v_d, v_s);
}

BranchCurrent sonos_storage_current(const CellModel& cell, double vt, double v_m, double v_bl) {
  EkvParams sonos = cell.sonos;
  sonos.vt = vt;
  return transistor_branch(sonos, cell.v_wl, v_m, v_bl);
}

void storage_currents(const CellModel& cell, std::span<const double> weight, std::span<const double> v_m,
                      std::span<const double> v_bl, std::span<double> i) {
  const std::size_t n = i.size();
  if (weight.size() != n || v_m.size() != n || v_bl.size() != n)
    throw std::invalid_argument("storage_currents: spans of different sizes");
  if (!cell.is_sonos()) {
    for (std::size_t k = 0; k < n; ++k) i[k] = storage_current(cell, weight[k], v_m[k], v_bl[k]).i;
    return;
  }
  constexpr std::size_t k_chunk = 256;  // the batch's inputs and partials stay in L1
  std::array<double, k_chunk> v_wl, di_dvd, di_dvs;
  v_wl.fill(cell.v_wl);
  for (std::size_t k0 = 0; k0 < n; k0 += k_chunk) {
    const std::size_t m = std::min(k_chunk, n - k0);
    const std::span<double> out = i.subspan(k0, m);
    ekv_current_batch(cell.sonos, {weight.subspan(k0, m), std::span(v_wl).first(m), v_m.subspan(k0, m),
                                   v_bl.subspan(k0, m), out, {}, std::span(di_dvd).first(m),
                                   std::span(di_dvs).first(m)});
    for (std::size_t k = 0; k < m; ++k) out[k] += k_transistor_leak * (v_m[k0 + k] - v_bl[k0 + k]);  // with_leak
  }
}

BranchCurrent select_current(const CellModel& cell, double v_gate, double v_row, double v_m) {
  if (cell.select_model == SelectModel::table) return transistor_branch(cell.select_table->law, v_gate, v_row, v_m);
  return transistor_branch(cell.select, v_gate, v_row, v_m);
}

namespace {

// Bracket width that resolves v_m to a few ulp of the bias voltages.
double voltage_tolerance(double a, double b) {
  return 8 * std::numeric_limits<double>::epsilon() * std::max({std::abs(a), std::abs(b), 1e-3});
}

}  // namespace

IsolatedCell isolated_cell(const CellModel& cell, double weight, double v_row, double v_bl) {
  if (!cell.has_select() || cell.select_model == SelectModel::ideal || v_row == v_bl)
    return {storage_current(cell, weight, v_row, v_bl).i, v_row};
  // KCL at m: f(v_m) = I_select(row -> m) - I_storage(m -> bl) = 0, strictly decreasing in v_m,
  // and of opposite signs at v_m = v_bl and v_m = v_row.
  auto kcl = [&](double v_m) {
    const BranchCurrent sel = select_current(cell, cell.v_on, v_row, v_m);
    const BranchCurrent sto = storage_current(cell, weight, v_m, v_bl);
    return std::pair{sel.i - sto.i, sel.di_db - sto.di_da};
  };
  const RootResult root = find_root(kcl, std::min(v_row, v_bl), std::max(v_row, v_bl),
                                    voltage_tolerance(v_row, v_bl));
  if (!root.converged)
    throw ModelError(fmt::format(
        "isolated cell: internal node did not converge (weight {}, v_row {} V, v_bl {} V)", weight,
        v_row, v_bl));
  return {storage_current(cell, weight, root.x, v_bl).i, root.x};
}

IsolatedCell isolated_cell_off(const CellModel& cell, double weight, double v_row, double v_bl) {
  if (!cell.has_select()) return isolated_cell(cell, weight, v_row, v_bl);
  if (cell.select_model == SelectModel::ideal) return {0.0, v_bl};
  CellModel off = cell;
  off.v_on = cell.v_off;
  return isolated_cell(off, weight, v_row, v_bl);
}

namespace {

// |dI/dV_T| of the isolated cell c (solved at this bias):
// dI/dV_T = I_sel' * dv_m/dV_T,  dv_m/dV_T = dI_sto/dV_T / (I_sel' - dI_sto/dv_m),
// dI_sto/dV_T = -dI_sto/dV_G (primes: derivatives in v_m).
double transconductance_of(const CellModel& cell, double vt, double v_row, double v_bl, const IsolatedCell& c) {
  EkvParams sonos = cell.sonos;
  sonos.vt = vt;
  const double di_sto_dvt = -ekv_current(sonos, cell.v_wl, c.v_m, v_bl).di_dvg;
  if (cell.select_model == SelectModel::ideal) return -di_sto_dvt;
  const double sel_m = select_current(cell, cell.v_on, v_row, c.v_m).di_db;
  const double sto_m = storage_current(cell, vt, c.v_m, v_bl).di_da;
  return -sel_m * di_sto_dvt / (sel_m - sto_m);
}

}  // namespace

double sonos_cell_transconductance(const CellModel& cell, double vt, double v_row, double v_bl) {
  return transconductance_of(cell, vt, v_row, v_bl, isolated_cell(cell, vt, v_row, v_bl));
}

double sonos_vt_for_current(const CellModel& cell, double i_target, double v_read) {
  if (!(i_target > 0)) throw std::invalid_argument("sonos_vt_for_current: target must be > 0");
  const double v_bl = 0.0;
  // h(V_T) = ln I_cell(V_T) - ln I_target, h' = (dI/dV_T) / I = -g_m / I.
  auto log_error = [&](double vt) {
    const IsolatedCell c = isolated_cell(cell, vt, v_read, v_bl);
    return std::pair{std::log(c.current) - std::log(i_target),
                     -transconductance_of(cell, vt, v_read, v_bl, c) / c.current};
  };
  double lo = -3.0, hi = 3.0;  // current decreases with V_T; widen until the target is inside
  for (int widen = 0; widen < 8 && log_error(lo).first < 0; ++widen) lo -= 3.0;
  for (int widen = 0; widen < 8 && log_error(hi).first > 0; ++widen) hi += 3.0;
  const RootResult root = find_root(log_error, lo, hi, 1e-15);
  if (!root.converged || log_error(lo).first < 0 || log_error(hi).first > 0)
    throw ModelError(
        fmt::format("program-verify: no V_T gives {} A at v_read {} V", i_target, v_read));
  return root.x;
}

}  // namespace xbar::devices
