#include "tables/table_file.hpp"

#include "io/results.hpp"

namespace xbar::tables {

namespace {

void write_array_attributes(io::H5Writer& out, const io::RunConfig& c, const EffectiveWeightTable& t) {
  out.integer_attribute("rows", c.rows);
  out.integer_attribute("cols", c.physical_cols());
  out.attribute("cell", std::string(c.cell.kind_name()));
  out.attribute("select_model", std::string(devices::to_string(c.cell.select_model)));
  out.integer_attribute("levels", c.levels().levels);
  out.attribute("r_row", c.lines.r_row);
  out.attribute("r_col", c.lines.r_col);
  out.attribute("r_driver", c.lines.r_driver);
  out.attribute("r_sense", c.lines.r_sense);
  out.attribute("v_read", c.v_read);
  out.attribute("v_sense", c.v_sense);
  out.attribute("full_scale_current", t.full_scale);
  out.attribute("mapping", engine::to_string(c.mapping));
}

}  // namespace

void write_table(io::H5Writer& out, const io::RunConfig& config, const EffectiveWeightTable& t) {
  const DeviceTable& d = t.device;
  out.write("/device/current", d.current);
  out.write("/device/current_off", d.current_off);
  out.write(config.cell.is_sonos() ? "/device/vt" : "/device/conductance", d.weight);
  out.write("/device/dlnI_dVs", d.dlnI_dVs);
  out.write("/device/dlnI_dVd", d.dlnI_dVd);
  out.write("/cell/v_bl", t.cell.v_bl);
  out.write("/cell/v_sup", t.cell.v_sup);
  out.write("/cell/current", t.cell.current, {d.current.size(), t.cell.v_bl.size(), t.cell.v_sup.size()});
  out.write("/correction/row_edges", t.bins.row_edges);
  out.write("/correction/col_edges", t.bins.col_edges);
  out.write("/correction/load_edges", t.bins.load_edges);
  out.write("/correction/mean", t.mean, t.bins.shape());
  out.write("/correction/std", t.std, t.bins.shape());
  out.write("/correction/count", t.count, t.bins.shape());
  const std::size_t cols = static_cast<std::size_t>(config.physical_cols());
  out.write("/samples/column_current", t.column_current, {t.column_current.size() / cols, cols});
  out.write("/samples/column_current_ideal", t.column_ideal, {t.column_ideal.size() / cols, cols});
  out.write("/samples/column_level_sum", t.column_mac, {t.column_mac.size() / cols, cols});
  out.write("/samples/active_rows", t.active_rows);
  const TableDomain& domain = t.domain;
  out.write("/domain/levels", std::vector<double>(domain.levels.begin(), domain.levels.end()));
  out.write("/domain/load", std::vector<double>(domain.load.begin(), domain.load.end()));
  out.write("/domain/activity", std::vector<double>(domain.activity.begin(), domain.activity.end()));
  out.write("/domain/deviation", std::vector<double>{domain.deviation, k_deviation_limit});
  out.long_attribute("config", config.text);
  out.attribute("xbar_version", std::string(io::k_xbar_version));
  out.integer_attribute("samples", t.samples);
  out.integer_attribute("vectors", static_cast<std::int64_t>(t.vectors));
  out.integer_attribute("cells", static_cast<std::int64_t>(t.cells));
  out.attribute("elapsed_time", t.elapsed);
  write_array_attributes(out, config, t);
}

}  // namespace xbar::tables
