#!/usr/bin/python3
"""`xbar sweep` against independent computations (ctest runs it with the built binary):

- linear 1t1r cells, ideal select, bit-line resistance only: every bit line is a linear ladder,
  solved here with numpy from the weights and inputs that `xbar solve` reports; every study
  metric of every point is recomputed from that ladder and must equal the sweep's to 1e-9;
- a nonlinear 2t-sonos point: the metrics recomputed from `xbar solve`'s own outputs;
- the file layout (axes, shapes, NaN padding when rows are swept), thread-count independence,
  sweep-key errors, and the plots.

    /usr/bin/python3 tests/test_sweep.py --xbar build/cli/xbar --workdir DIR [unittest args]
"""
import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

XBAR = None
WORKDIR = None
HERE = os.path.dirname(os.path.abspath(__file__))
PLOTS = ["-m", "xbar.plots"]  # PYTHONPATH=build/python
RTOL = 1e-9

LADDER_CONFIG = """
[array]
rows = 32
cols = 3
cell = "1t1r"
[select]
model = "ideal"
[resistor]
g_max = 1e-4
on_off = 100
[mapping]
scheme = "differential"
[weights]
distribution = "laplace"
[inputs]
count = 5
activity = 0.4
[sweep]
"array.r_hat_p" = [1e-5, 1e-3]
"array.rows" = [16, 32]
scheme = [ { name = "diff", "mapping.scheme" = "differential" },
           { name = "off", "mapping.scheme" = "offset", "inputs.activity" = 0.6 } ]
"""

SONOS_CONFIG = """
[array]
rows = 12
cols = 3
cell = "2t-sonos"
r_row = 2.0
[mapping]
scheme = "offset"
[inputs]
count = 1
activity = 0.5
[sweep]
"array.r_hat_p" = [1e-4, 1e-3]
"""


def run(*args, check=True):
    result = subprocess.run([XBAR, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"xbar {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def write(name, text):
    path = os.path.join(WORKDIR, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def sweep_file(name, config, *extra):
    out = os.path.join(WORKDIR, name + ".h5")
    run("sweep", write(name + ".toml", config), "-o", out, "-q", *extra)
    return h5py.File(out, "r")


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def point_overrides(f):
    """Every point as (index tuple, --set overrides), combined axes expanded from the config."""
    import tomllib  # noqa: F401  (Python >= 3.11)
    names = [text(n) for n in f["axes/names"][()]]
    sweep = tomllib.loads(text(f.attrs["config"]))["sweep"]
    values = {n: sweep[n] for n in names}
    for index in itertools.product(*(range(len(values[n])) for n in names)):
        sets = []
        for n, k in zip(names, index):
            v = values[n][k]
            pairs = [(key, x) for key, x in v.items() if key != "name"] if isinstance(v, dict) else [(n, v)]
            sets += [f"{key}={x}" for key, x in pairs]
        yield index, sets


def solve_point(config_path, sets, name):
    out = os.path.join(WORKDIR, name)
    args = ["solve", config_path, "-o", out, "-q"]
    for s in sets:
        args += ["--set", s]
    run(*args)
    return h5py.File(out, "r")


# ---- the study metrics (docs/conventions.md), written out independently of the C++ ----

def column_errors(current, ideal):
    keep = np.abs(ideal) > 1e-3 * np.abs(ideal).max()
    e = current[keep] / ideal[keep] - 1
    return np.sqrt(np.mean(e ** 2)), np.max(np.abs(e))


def signed(currents, scheme):
    if scheme == "differential":
        return currents[:, 0::2] - currents[:, 1::2]
    return currents[:, :-1] - currents[:, -1:]


def output_errors(y, y_ideal):
    g = np.sum(y * y_ideal) / np.sum(y * y)
    norm = np.sqrt(np.sum(y_ideal ** 2))
    return (np.sqrt(np.sum((y - y_ideal) ** 2)) / norm, np.sqrt(np.sum((g * y - y_ideal) ** 2)) / norm,
            np.max(np.abs(y - y_ideal)) / np.max(np.abs(y_ideal)))


def row_errors(cells, ideals):
    """cells, ideals: [vectors, rows, cols]; mean over (vector, column) of active cells."""
    active = ideals != 0
    ratio = np.where(active, cells / np.where(active, ideals, 1) - 1, 0)
    with np.errstate(invalid="ignore"):
        return ratio.sum(axis=(0, 2)) / active.sum(axis=(0, 2))


def ladder(g_cells, v_read, r_col):
    """One bit line of linear cells (conductances g_cells, 0 = open) from rows at v_read, nodes
    c(0..M-1) chained by r_col, c(M-1) -> r_col -> virtual ground. Nodal analysis
    (G_wire + diag(g_cells)) v = g_cells v_read; returns the cell currents g (v_read - v)."""
    m = len(g_cells)
    gw = 1.0 / r_col
    a = np.diag(g_cells + 2 * gw)
    a[0, 0] -= gw  # the top node has one wire
    idx = np.arange(m - 1)
    a[idx, idx + 1] = a[idx + 1, idx] = -gw
    v = np.linalg.solve(a, g_cells * v_read)
    return g_cells * (v_read - v)


class LadderMetrics(unittest.TestCase):
    """Linear cells, ideal select, bit-line R only: every metric against the numpy ladder."""

    @classmethod
    def setUpClass(cls):
        cls.config = write("ladder.toml", LADDER_CONFIG)
        cls.sweep = sweep_file("ladder", LADDER_CONFIG)

    def expected(self, index, sets):
        scheme = "offset" if "mapping.scheme=offset" in sets else "differential"
        with solve_point(self.config, sets, f"ladder_{'_'.join(map(str, index))}.h5") as s:
            g = s["weights/conductance"][()]
            bits = s["inputs"][()]
            xbar_columns = s["columns/current"][()]
            iterations = s.attrs["newton_iterations"]
        r_hat_p = [float(x.split("=")[1]) for x in sets if x.startswith("array.r_hat_p")][0]
        v_read, g_max = 0.1, 1e-4
        cells = np.array([[ladder(g[:, j] * bits[v], v_read, r_hat_p / g_max) for j in range(g.shape[1])]
                          for v in range(bits.shape[0])]).transpose(0, 2, 1)  # [vectors, rows, cols]
        ideals = g[None, :, :] * bits[:, :, None] * v_read
        current, ideal = cells.sum(axis=1), ideals.sum(axis=1)
        np.testing.assert_allclose(xbar_columns, current, rtol=1e-12, err_msg="xbar solve vs numpy ladder")
        rms, mx = column_errors(current, ideal)
        nrms, gain, full = output_errors(signed(current, scheme), signed(ideal, scheme))
        return {"col_err_rms": rms, "col_err_max": mx, "out_err_nrms": nrms, "out_err_gain_nrms": gain,
                "out_err_fullscale": full, "newton_iterations": iterations}, row_errors(cells, ideals)

    def test_every_metric_equals_the_numpy_ladder(self):
        points = self.sweep["points"]
        for index, sets in point_overrides(self.sweep):
            scalars, rows = self.expected(index, sets)
            for metric, value in scalars.items():
                with self.subTest(point=sets, metric=metric):
                    np.testing.assert_allclose(points[metric][index], value, rtol=RTOL)
            got = points["row_err_mean"][index]
            with self.subTest(point=sets, metric="row_err_mean"):
                np.testing.assert_allclose(got[: rows.size], rows, rtol=RTOL, equal_nan=True)
                self.assertTrue(np.isnan(got[rows.size:]).all(), "rows past the point's own are NaN")

    def test_layout_follows_section_7(self):
        f = self.sweep
        self.assertEqual([text(n) for n in f["axes/names"][()]], ["array.r_hat_p", "array.rows", "scheme"])
        np.testing.assert_array_equal(f["axes/values/array.r_hat_p"][()], [1e-5, 1e-3])
        np.testing.assert_array_equal(f["axes/values/array.rows"][()], [16, 32])
        self.assertEqual([text(x) for x in f["axes/values/scheme"][()]], ["diff", "off"])
        for metric in ["col_err_rms", "col_err_max", "out_err_nrms", "out_err_gain_nrms",
                       "out_err_fullscale", "solve_time", "newton_iterations"]:
            self.assertEqual(f["points"][metric].shape, (2, 2, 2), metric)
        self.assertEqual(f["points/row_err_mean"].shape, (2, 2, 2, 32))
        self.assertTrue((f["points/solve_time"][()] > 0).all())
        self.assertIn("[sweep]", text(f.attrs["config"]))
        self.assertTrue(text(f.attrs["xbar_version"]))

    def test_the_config_is_complete_and_each_point_has_its_derived_values(self):
        import tomllib  # noqa: F401  (Python >= 3.11)
        f = self.sweep
        config = tomllib.loads(text(f.attrs["config"]))
        self.assertEqual(config["solver"]["max_iterations"], 100)  # a default: the file does not set it
        self.assertEqual(config["weights"]["distribution"], "laplace")
        self.assertNotIn("r_col", config["array"])  # swept as r_hat_p
        # r_col = r_hat_p / G_max, G_max = resistor.g_max = 1e-4 S; offset adds one column per array
        r_hat_p = f["axes/values/array.r_hat_p"][()]
        np.testing.assert_allclose(f["derived/r_col"][()], np.broadcast_to(r_hat_p[:, None, None] / 1e-4, (2, 2, 2)),
                                   rtol=1e-15)
        np.testing.assert_array_equal(f["derived/physical_cols"][()], np.broadcast_to([6, 4], (2, 2, 2)))

    def test_errors_grow_with_r_hat_p_and_rows(self):
        rms = self.sweep["points/col_err_rms"][()]
        self.assertTrue((rms[1] > rms[0]).all())
        self.assertTrue((rms[:, 1] > rms[:, 0]).all())

    def test_results_do_not_depend_on_the_thread_count(self):
        with sweep_file("ladder_j1", LADDER_CONFIG, "-j", "1") as one:
            for metric in self.sweep["points"]:
                if metric != "solve_time":
                    np.testing.assert_array_equal(one["points"][metric][()], self.sweep["points"][metric][()])


class SonosMetrics(unittest.TestCase):
    """Nonlinear 2t-sonos, EKV select, row and bit-line R: metrics from xbar solve's outputs."""

    def test_metrics_equal_those_of_the_solve_outputs(self):
        config = write("sonos.toml", SONOS_CONFIG)
        with sweep_file("sonos", SONOS_CONFIG) as f:
            for index, sets in point_overrides(f):
                with solve_point(config, sets, f"sonos_{index[0]}.h5") as s:
                    current, ideal = s["columns/current"][()], s["columns/current_ideal"][()]
                    rms, mx = column_errors(current, ideal)
                    nrms, gain, full = output_errors(s["outputs/current"][()], s["outputs/ideal"][()])
                    rows = row_errors(s["cells/current"][()][None], s["cells/current_ideal"][()][None])
                    self.assert_derived_r_col(s, f["axes/values/array.r_hat_p"][index[0]])
                expected = {"col_err_rms": rms, "col_err_max": mx, "out_err_nrms": nrms,
                            "out_err_gain_nrms": gain, "out_err_fullscale": full}
                for metric, value in expected.items():
                    np.testing.assert_allclose(f["points"][metric][index], value, rtol=RTOL, err_msg=metric)
                np.testing.assert_allclose(f["points/row_err_mean"][index], rows, rtol=RTOL, equal_nan=True)
                self.assertLess(f["points/col_err_rms"][index], 0.5)

    def assert_derived_r_col(self, solve, r_hat_p):
        """The solve's config holds the resolved r_col: r_hat_p / G_max, G_max = i_max / v_read."""
        import tomllib  # noqa: F401  (Python >= 3.11)
        config = tomllib.loads(text(solve.attrs["config"]))
        self.assertAlmostEqual(config["derived"]["r_col"] / (r_hat_p / (1.6e-6 / 0.1)), 1.0, places=14)
        self.assertEqual(config["bias"]["v_read"], 0.1)  # defaults are written too

    def test_without_mapping_the_output_metrics_are_nan(self):
        config = SONOS_CONFIG.replace('[mapping]\nscheme = "offset"\n', "")
        with sweep_file("unmapped", config) as f:
            for metric in ["out_err_nrms", "out_err_gain_nrms", "out_err_fullscale"]:
                self.assertTrue(np.isnan(f["points"][metric][()]).all(), metric)
            self.assertTrue(np.isfinite(f["points/col_err_rms"][()]).all())


class SweepErrors(unittest.TestCase):
    def check_rejected(self, sweep_table, *expected):
        path = write("bad.toml", SONOS_CONFIG.split("[sweep]")[0] + "[sweep]\n" + sweep_table)
        out = os.path.join(WORKDIR, "bad.h5")
        result = run("sweep", path, "-o", out, check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        for e in expected:
            self.assertIn(e, result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, "one line")
        self.assertFalse(os.path.exists(out))

    def test_an_unknown_key_is_named(self):
        self.check_rejected('"array.r_hatp" = [1e-5]\n', "'array.r_hatp'", "did you mean 'array.r_hat_p'")

    def test_a_bad_value_names_the_point(self):
        self.check_rejected('"array.rows" = [8, -1]\n', "array.rows", "sweep point array.rows = -1")

    def test_a_combined_axis_checks_its_keys(self):
        self.check_rejected('c = [{ name = "a", "select.mdl" = "ideal" }]\n', "'select.mdl'", "select.model")

    def test_no_sweep_table(self):
        self.check_rejected("", "no [sweep] table")


class Plots(unittest.TestCase):
    def test_pngs_from_a_sweep_and_a_solve(self):
        config = write("plots.toml", SONOS_CONFIG.replace("count = 1", "count = 2")
                       + '"inputs.activity" = [0.3, 0.7]\n')
        sweep = os.path.join(WORKDIR, "plots_sweep.h5")
        solve = os.path.join(WORKDIR, "plots_solve.h5")
        run("sweep", config, "-o", sweep, "-q")
        run("solve", config, "-o", solve, "-q", "--set", "array.r_hat_p=1e-3")
        out = os.path.join(WORKDIR, "plots")
        subprocess.run([sys.executable, *PLOTS, sweep, solve, "-o", out], check=True, capture_output=True)
        expected = ["plots_sweep_errors_vs_array.r_hat_p.png", "plots_sweep_errors_vs_inputs.activity.png",
                    "plots_sweep_row_error.png", "plots_solve_cell_error.png", "plots_solve_column_error.png"]
        for name in expected:
            path = os.path.join(out, name)
            self.assertTrue(os.path.exists(path), name)
            with open(path, "rb") as png:
                self.assertEqual(png.read(8), b"\x89PNG\r\n\x1a\n", name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--xbar", required=True)
    parser.add_argument("--workdir")
    args, rest = parser.parse_known_args()
    XBAR = os.path.abspath(args.xbar)
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        WORKDIR = args.workdir
    else:
        WORKDIR = tempfile.mkdtemp(prefix="xbar_sweep_test_")
    unittest.main(argv=[sys.argv[0]] + rest)
