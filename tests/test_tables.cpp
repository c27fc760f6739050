// Effective-weight tables (`xbar table`): the device rows against the isolated cell, the
// correction statistics against the physics of zero and non-zero line resistance, bins, and
// determinism over thread counts.
#include <catch2/catch.hpp>

#include <H5Cpp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include <unistd.h>

#include <fmt/format.h>

#include "devices/levels.hpp"
#include "io/config.hpp"
#include "io/hdf5_file.hpp"
#include "tables/neurosim.hpp"
#include "tables/table_builder.hpp"
#include "tables/table_file.hpp"

using namespace xbar;
using tables::CorrectionBins;

namespace {

// A 16 x 6 array, 3 samples of 2 vectors; array_keys go into [array], sections after.
io::RunConfig small_config(const std::string& array_keys, const std::string& sections = "") {
  return io::parse_config(
      "[array]\nrows = 16\ncols = 6\n" + array_keys +
          "\n[table]\nsamples = 3\nvectors = 2\nrow_bins = 4\ncol_bins = 2\nload_bins = 3\n"
          "v_bl_points = 5\nv_sup_points = 6\n" + sections,
      "test.toml");
}

devices::CellModel cell_of(const char* kind, const char* select = "ekv") {
  return io::parse_config(fmt::format("[array]\ncell = \"{}\"\n[select]\nmodel = \"{}\"\n", kind, select),
                          "test.toml").cell;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("the /device rows are the isolated cell at nominal bias", "[tables]") {
  const devices::CellModel cell;
  const devices::LevelSpec spec;
  const std::vector<double> vts = devices::sonos_level_vts(cell, spec, 0.1);
  const tables::DeviceTable d = tables::build_device_table(cell, vts, 0.1, 0.0);
  REQUIRE(d.current.size() == 128);
  for (int k = 0; k < 128; ++k) {
    CHECK(d.current[k] == devices::isolated_cell(cell, vts[k], 0.1, 0.0).current);
    CHECK(d.current[k] == Approx(spec.value(k)).epsilon(1e-11));
    CHECK(d.weight[k] == vts[k]);
    // The bit line is the SONOS source: -15 to -40 /V (docs/conventions.md); the row node
    // (drain side, behind the select FET) matters far less and raises the current.
    CHECK(d.dlnI_dVs[k] < -14);
    CHECK(d.dlnI_dVs[k] > -42);
    CHECK(d.dlnI_dVd[k] > 0);
    CHECK(d.dlnI_dVd[k] < 10);
  }
  CHECK(d.dlnI_dVs[0] < d.dlnI_dVs[127]);  // low levels are deeper in subthreshold
}

TEST_CASE("cell sensitivities equal central differences of the isolated cell", "[tables]") {
  const double h = 1e-6;
  for (const auto& [cell, weight] :
       {std::pair{cell_of("2t-sonos"), 0.1}, {cell_of("2t-sonos"), -0.2}, {cell_of("1t1r"), 5e-5},
        {cell_of("1r"), 5e-5}, {cell_of("2t-sonos", "ideal"), 0.3}}) {
    for (const auto& [v_row, v_bl] : {std::pair{0.1, 0.0}, {0.09, 0.03}, {0.05, 0.049}}) {
      const tables::CellSensitivity s = tables::cell_sensitivity(cell, weight, v_row, v_bl);
      const auto current = [&](double r, double b) { return devices::isolated_cell(cell, weight, r, b).current; };
      CHECK(s.current == current(v_row, v_bl));
      CHECK(s.di_dv_row == Approx((current(v_row + h, v_bl) - current(v_row - h, v_bl)) / (2 * h)).epsilon(1e-6));
      CHECK(s.di_dv_bl == Approx((current(v_row, v_bl + h) - current(v_row, v_bl - h)) / (2 * h)).epsilon(1e-6));
    }
  }
}

TEST_CASE("/cell/current holds the isolated cell on its grid", "[tables]") {
  const devices::CellModel cell = cell_of("2t-sonos");
  const std::vector<double> weights = {0.5, 0.0, -0.2};
  const tables::CellGrid g = tables::build_cell_grid(cell, weights, tables::linear_axis(0, 0.1, 5),
                                                     tables::linear_axis(0, 0.1, 3));
  REQUIRE(g.current.size() == 3 * 5 * 3);
  REQUIRE(g.v_bl.size() == 5);
  CHECK(g.v_bl.front() == 0.0);
  CHECK(g.v_bl.back() == 0.1);  // the end points exactly, whatever the rounding in between
  CHECK(g.v_bl[1] == Approx(0.025));
  for (int k = 0; k < 3; ++k)
    for (int b = 0; b < 5; ++b)
      for (int s = 0; s < 3; ++s)
        CHECK(g.current[(k * 5 + b) * 3 + s] ==
              devices::isolated_cell(cell, weights[k], g.v_sup[s], g.v_bl[b]).current);
}

TEST_CASE("bins split rows and columns evenly and loads at quantiles", "[tables]") {
  CHECK(CorrectionBins::even_edges(256, 8) == std::vector<double>{0, 32, 64, 96, 128, 160, 192, 224, 256});
  CHECK(CorrectionBins::even_edges(3, 8) == std::vector<double>{0, 1, 2, 3});  // at most one per row
  const std::vector<double> edges = CorrectionBins::quantile_edges({4, 0, 1, 2, 3, 5, 6, 7}, 2);
  CHECK(edges == std::vector<double>{1, 4, 7});  // zero loads (no active cell) are left out
  CHECK(CorrectionBins::quantile_edges({2, 2, 2}, 4) == std::vector<double>{2, 2});
  CHECK(CorrectionBins::bin_of(edges, 0.5) == 0);  // below the first edge: first bin
  CHECK(CorrectionBins::bin_of(edges, 4) == 1);
  CHECK(CorrectionBins::bin_of(edges, 7) == 1);    // the top edge belongs to the last bin
  CHECK(CorrectionBins::bin_of(edges, 99) == 1);
}

TEST_CASE("with every line resistance 0 the correction mean is 1 and the std 0", "[tables]") {
  for (const char* cell : {"2t-sonos", "1t1r", "1r"}) {
    const tables::EffectiveWeightTable t = tables::build_table(small_config(fmt::format("cell = \"{}\"", cell)));
    REQUIRE(t.mean.size() == t.bins.size());
    CHECK(t.bins.shape() == std::vector<std::size_t>{4, 2, 128, t.bins.load_edges.size() - 1});
    CHECK(t.bins.row_edges == std::vector<double>{0, 4, 8, 12, 16});
    CHECK(t.bins.col_edges == std::vector<double>{0, 3, 6});
    CHECK(t.bins.n_load() >= 1);
    CHECK(t.bins.n_load() <= 3);
    CHECK(std::accumulate(t.count.begin(), t.count.end(), 0.0) == static_cast<double>(t.cells));
    CHECK(t.cells > 0);
    for (std::size_t b = 0; b < t.mean.size(); ++b) {
      CHECK(std::isnan(t.mean[b]) == (t.count[b] == 0));  // empty bins are NaN, and only those
      if (t.count[b] == 0) continue;
      CHECK(std::abs(t.mean[b] - 1) < 1e-9);
      CHECK(t.std[b] < 1e-9);
    }
  }
}

TEST_CASE("bit-line resistance lowers the top rows' currents most", "[tables]") {
  // Cell (i, j) sees M - i column segments: the rows far from the sense amplifier lose most.
  const tables::EffectiveWeightTable t = tables::build_table(small_config("r_col = 20"));
  const std::size_t per_row_bin = t.mean.size() / t.bins.n_row();
  std::vector<double> row_mean(t.bins.n_row(), 0.0), row_count(t.bins.n_row(), 0.0);
  for (std::size_t b = 0; b < t.mean.size(); ++b)
    if (t.count[b] > 0) row_mean[b / per_row_bin] += t.mean[b] * t.count[b], row_count[b / per_row_bin] += t.count[b];
  for (int r = 0; r < t.bins.n_row(); ++r) {
    row_mean[r] /= row_count[r];
    CHECK(row_mean[r] < 1);
    if (r > 0) CHECK(row_mean[r] > row_mean[r - 1]);
  }
}

TEST_CASE("the table is the same bits on one thread and on three", "[tables]") {
  const tables::EffectiveWeightTable one = tables::build_table(small_config("r_col = 5\nr_row = 5", "threads = 1\n"));
  const tables::EffectiveWeightTable three = tables::build_table(small_config("r_col = 5\nr_row = 5", "threads = 3\n"));
  CHECK(same_bits(one.mean, three.mean));
  CHECK(same_bits(one.std, three.std));
  CHECK(same_bits(one.count, three.count));
  CHECK(one.bins.load_edges == three.bins.load_edges);
}

TEST_CASE("samples draw new seeds, each a valid config seed", "[tables]") {
  CHECK(tables::sample_seed(1, 0) != tables::sample_seed(1, 1));
  CHECK(tables::sample_seed(1, 0) != tables::sample_seed(2, 0));
  CHECK(tables::sample_seed(~0ULL, 5) < (1ULL << 63));
}

TEST_CASE("[table] keys are validated like every other key", "[tables]") {
  CHECK_THROWS_WITH(io::parse_config("[table]\nsampels = 3\n", "t.toml"),
                    Catch::Contains("did you mean 'table.samples'"));
  CHECK_THROWS_WITH(io::parse_config("[table]\nv_bl_min = 0.2\nv_bl_max = 0.1\n", "t.toml"),
                    Catch::Contains("table.v_bl_min"));
  CHECK_THROWS_WITH(tables::build_table(small_config("", "v_sup_min = 0.5\n")), Catch::Contains("empty"));
  const io::RunConfig c = io::parse_config("[table]\nsamples = 5\nv_sup_max = 0.2\n", "t.toml");
  CHECK(c.table.samples == 5);
  CHECK(c.table.v_sup_max == 0.2);
  CHECK(!c.table.v_bl_min);
  CHECK(tables::bias_range(c) == std::pair{0.0, 0.1});
}

TEST_CASE("a table of weights and inputs from files solves them once, table.vectors of them", "[tables]") {
  const std::string file = (std::filesystem::temp_directory_path() / fmt::format("xbar_test_tables_files_{}.h5", getpid())).string();
  Matrix levels(16, 6), inputs(5, 16);
  for (std::size_t k = 0; k < levels.data.size(); ++k) levels.data[k] = static_cast<double>((k * 37) % 128);
  for (std::size_t k = 0; k < inputs.data.size(); ++k) inputs.data[k] = static_cast<double>((k * 7) % 3 == 0);
  {
    io::H5Writer h5(file);
    h5.write("/level", levels);
    h5.write("/x", inputs);
    h5.close();
  }
  const tables::EffectiveWeightTable t = tables::build_table(small_config(
      "", fmt::format("[weights]\nsource = \"file\"\nfile = \"{0}\"\ndataset = \"/level\"\n"
                      "[inputs]\nsource = \"file\"\nfile = \"{0}\"\ndataset = \"/x\"\n", file)));
  CHECK(t.samples == 1);   // small_config asks for 3 samples: they would all be the same
  CHECK(t.vectors == 2);   // table.vectors = 2 of the file's 5
  std::size_t counted = 0;
  for (double n : t.count) counted += static_cast<std::size_t>(n);
  CHECK(counted == t.cells);
  std::filesystem::remove(file);
}

TEST_CASE("a table needs weights as levels", "[tables]") {
  const std::string file = (std::filesystem::temp_directory_path() / "xbar_test_tables_vt.h5").string();
  {
    io::H5Writer h5(file);
    h5.write("/vt", Matrix(16, 6, 0.1));
    h5.close();
  }
  CHECK_THROWS_WITH(
      tables::build_table(small_config("", fmt::format("[weights]\nsource = \"file\"\nfile = \"{}\"\n"
                                                       "dataset = \"/vt\"\nkind = \"vt\"\n", file))),
      Catch::Contains("bins cells by level"));
  std::filesystem::remove(file);
}

TEST_CASE("a table draws and programs each sample once", "[tables]") {
  std::atomic<int> draws{0};
  const io::RunConfig config = small_config("r_col = 5\nr_row = 5\ncell = \"2t-sonos\"", "threads = 2\n");
  const tables::EffectiveWeightTable t = tables::build_table(config, {}, [&](const io::RunConfig& c) {
    ++draws;
    return io::build_problem(c);
  });
  CHECK(draws == config.table.samples);
  CHECK(t.samples == config.table.samples);
}

TEST_CASE("a table names the select law it was built with", "[tables]") {
  const std::string file = (std::filesystem::temp_directory_path() / "xbar_test_tables_select.h5").string();
  io::RunConfig config = small_config("cell = \"1t1r\"");
  const tables::EffectiveWeightTable t = tables::build_table(config);
  for (const auto& [model, name] : {std::pair{devices::SelectModel::ekv, "ekv"},
                                    {devices::SelectModel::ideal, "ideal"},
                                    {devices::SelectModel::table, "table"}}) {
    config.cell.select_model = model;  // the attributes only: the table itself stays the EKV one
    {
      io::H5Writer out(file);
      tables::write_table(out, config, t);
      out.close();
    }
    H5::H5File h5(file, H5F_ACC_RDONLY);
    const H5::Attribute a = h5.openAttribute("select_model");
    std::string written;
    a.read(a.getStrType(), written);
    CHECK(written == name);
  }
  std::filesystem::remove(file);
}

TEST_CASE("the domain spans the sampled loads, levels and activity; the columns sum the cells", "[tables]") {
  const io::RunConfig c = small_config("r_col = 20", "[inputs]\nactivity = 0.5\n");
  const tables::EffectiveWeightTable t = tables::build_table(c);
  const std::size_t entries = static_cast<std::size_t>(t.samples) * t.vectors * 6;
  REQUIRE(t.column_current.size() == entries);
  REQUIRE(t.column_ideal.size() == entries);
  const auto [lo, hi] = std::ranges::minmax(t.column_ideal);
  CHECK(t.domain.load[0] == Approx(lo / t.full_scale));
  CHECK(t.domain.load[1] == Approx(hi / t.full_scale));
  CHECK(t.domain.levels[0] >= 0);
  CHECK(t.domain.levels[1] <= 127);
  CHECK(t.domain.levels[0] < t.domain.levels[1]);
  CHECK(t.domain.activity[0] > 0);
  CHECK(t.domain.activity[1] < 1);
  // Bit-line resistance only lowers column currents; the largest drop is the domain's deviation.
  double worst = 0;
  for (std::size_t k = 0; k < entries; ++k) {
    CHECK(t.column_current[k] < t.column_ideal[k]);
    worst = std::max(worst, 1 - t.column_current[k] / t.column_ideal[k]);
  }
  CHECK(t.domain.deviation == Approx(worst).epsilon(1e-12));
  CHECK(t.domain.deviation > 0.01);
}

TEST_CASE("NeuroSim rows: one per code 0..2^bits, the output code's mean and std by ideal MAC", "[tables]") {
  // 2 bits: codes 0..4. Ideal MACs 1 (twice), 3, and 9 (clipped to 4); outputs in level steps.
  const std::vector<tables::NeurosimSample> samples{{1, 0.8}, {1, 0.7}, {3, 2.9}, {9, 8.0}};
  const std::vector<tables::NeurosimRow> rows = tables::neurosim_rows(samples, 2);
  REQUIRE(rows.size() == 5);
  for (int k = 0; k < 5; ++k) CHECK(rows[k].code == k);
  CHECK(rows[1].count == 2);
  CHECK(rows[1].mean == Approx(1 - 0.25));  // errors -0.2 and -0.3 steps
  CHECK(rows[1].std == Approx(0.05));
  CHECK(rows[3].mean == Approx(3 - 0.1));
  CHECK(rows[3].std == Approx(0).margin(1e-12));
  CHECK(rows[4].count == 1);
  CHECK(rows[4].mean == Approx(4 - 1.0));  // the error of MAC 9, at the clipped code
  // Codes no column reached: the error interpolated (code 2, between -0.25 and -0.1), held
  // beyond the ends (code 0 takes code 1's).
  CHECK(rows[2].count == 0);
  CHECK(rows[2].mean == Approx(2 - 0.175));
  CHECK(rows[2].std == Approx(0.025));
  CHECK(rows[0].mean == Approx(-0.25));
  CHECK(tables::neurosim_csv(rows).starts_with("output,mean,std\n0,-0.25,"));
  CHECK_THROWS_AS(tables::require_binary_inputs(false), io::InputError);
}
