"""xbar.tables (python/xbar/tables.py) against the engine: tables built by the real `xbar table`,
the table method checked against exact solves (xbar.Crossbar.solve) of arrays the table was not
built from, its domain warnings, and the NeuroSim CSV against the table it came from. Run by ctest:

    XBAR=build/cli/xbar PYTHONPATH=build/python /usr/bin/python3 tests/test_xbar_tables.py
"""

import os
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np

import xbar
from xbar import tables as xt

XBAR = os.environ.get("XBAR", "build/cli/xbar")
PREDICT = ["-m", "xbar.table_predict"]

# A small 2t-sonos array with both line resistances, large enough to lose ~5-10 % of its current.
ARRAY = ["array.rows=48", "array.cols=10", "array.r_row=10", "array.r_col=10"]
TABLE = ["table.samples=4", "table.vectors=4", "table.row_bins=4", "table.col_bins=2",
         "table.load_bins=3", "table.v_bl_points=33", "table.v_sup_points=33"]
# The table method needs the cell law and the line resistances only: one sampled array will do.
SMALL_TABLE = ["table.samples=1", "table.vectors=2"]
# ADC codes of the NeuroSim CSV: 2^13
TOP = 2 ** 13


def xbar_cli(*args):
    return subprocess.run([XBAR, *args, "--quiet"], check=True, capture_output=True, text=True)


def sets(keys):
    return [arg for key in keys for arg in ("--set", key)]


def config_of(keys):
    return xbar.Config(None, [key for key in keys])


def fresh_array(keys, seed, count=6, activity=0.5):
    """An array and inputs no table sample used, solved by the engine: (levels, inputs, Result)."""
    config = config_of(keys + [f"weights.seed={seed}", f"inputs.seed={seed + 1}", f"inputs.count={count}",
                               f"inputs.activity={activity}"])
    array = xbar.Crossbar(config)
    return np.asarray(array.levels), np.asarray(array.inputs), array.solve(array.inputs)


def share_left(predicted, result):
    """rms(predicted - exact) / rms(exact - ideal) over every (vector, column)."""
    exact, ideal = result.column_current, result.column_current_ideal
    return float(np.sqrt(np.mean((predicted - exact) ** 2)) / np.sqrt(np.mean((exact - ideal) ** 2)))


class SonosTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.table_path = os.path.join(cls.tmp.name, "table.h5")
        cls.csv_path = os.path.join(cls.tmp.name, "noise.csv")
        # 13 bits: NeuroSim's ADC counts one level step per code, and 48 rows reach MACs of 6096
        xbar_cli("table", *sets(ARRAY + TABLE), "-o", cls.table_path, "--neurosim-csv", cls.csv_path,
                 "--adc-bits", "13")
        cls.table = xt.load(cls.table_path)
        cls.levels, cls.inputs, cls.result = fresh_array(ARRAY, 9001)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_datasets_have_the_documented_shapes(self):
        t = self.table
        L = 128
        self.assertEqual(t.device_current.shape, (L,))
        self.assertEqual(t.cell_current.shape, (L, 33, 33))
        self.assertEqual(t.mean.shape, (4, 2, L, len(t.load_edges) - 1))
        np.testing.assert_array_equal(t.row_edges, [0, 12, 24, 36, 48])
        np.testing.assert_array_equal(np.isnan(t.mean), t.count == 0)
        self.assertEqual((t.rows, t.cols, t.attrs["cell"]), (48, 10, "2t-sonos"))
        self.assertEqual(t.attr("r_col"), 10.0)
        self.assertEqual(t.sample_current.shape, (16, 10))
        self.assertEqual(t.sample_current_ideal.shape, (16, 10))
        load = t.sample_current_ideal / t.attr("full_scale_current")
        np.testing.assert_allclose(t.domain["load"], [load.min(), load.max()], rtol=1e-12)
        counted = t.sample_current_ideal > 1e-3 * t.sample_current_ideal.max()
        deviation = np.abs(t.sample_current / t.sample_current_ideal - 1)[counted].max()
        np.testing.assert_allclose(t.domain["deviation"], [deviation, xt.DEVIATION_LIMIT], rtol=1e-12)
        self.assertTrue(0 < t.domain["activity"][0] <= t.domain["activity"][1] < 1)

    def test_ideal_is_the_engine_ideal(self):
        np.testing.assert_allclose(xt.ideal(self.table, self.levels, self.inputs),
                                   self.result.column_current_ideal, rtol=1e-12)

    def test_table_method_leaves_under_3_percent_of_the_line_error(self):
        # Exact solves of an array the table did not sample; the ideal misses by 5-10 %.
        exact, ideal = self.result.column_current, self.result.column_current_ideal
        self.assertGreater(np.sqrt(np.mean((exact / ideal - 1) ** 2)), 0.03)
        predicted = xt.predict(self.table, self.levels, self.inputs)
        self.assertEqual(predicted.shape, (6, 10))
        self.assertLess(share_left(predicted, self.result), 0.03)

    def test_blocks_and_rows_no_vector_drives_change_nothing(self):
        """The method goes through a batch in blocks of vectors and leaves the rows no vector of
        the batch drives out of its products: neither changes a vector's currents. Reference: the
        same vectors in one block with a vector that drives every row (nothing left out)."""
        sparse = self.inputs.copy()
        sparse[:, 8:40] = 0
        every_row = np.vstack([sparse, np.ones((1, 48))])
        model = xt.ArrayModel(self.table, self.levels)
        reference = model.column_currents(every_row)[:6]
        np.testing.assert_allclose(model.column_currents(sparse), reference, rtol=1e-12)
        model.block = 4  # blocks of 4 and 3 vectors
        np.testing.assert_allclose(model.column_currents(every_row)[:6], reference, rtol=1e-12)
        np.testing.assert_allclose(model.column_currents(sparse), reference, rtol=1e-12)
        # bits as bytes, as the network stage passes its bit planes: the same currents
        np.testing.assert_array_equal(model.column_currents(sparse.astype(np.uint8)), model.column_currents(sparse))

    def test_correction_beats_the_ideal(self):
        predicted = xt.predict(self.table, self.levels, self.inputs, method="correction")
        self.assertLess(share_left(predicted, self.result), 1 / 3)

    def test_one_input_vector_and_bad_shapes(self):
        one = xt.predict(self.table, self.levels, self.inputs[0])
        np.testing.assert_allclose(one[0], xt.predict(self.table, self.levels, self.inputs)[0], rtol=1e-9)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels[:40], self.inputs)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels + 200, self.inputs)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels, self.inputs, method="ir")

    def test_neurosim_csv_is_the_tables_samples_by_ideal_adc_code(self):
        data = np.loadtxt(self.csv_path, delimiter=",", skiprows=1, ndmin=2)
        with open(self.csv_path) as f:
            self.assertEqual(f.readline().strip(), "output,mean,std")
        # NeuroSim looks a row up by its position, the ideal code: every code 0..2^13, in order.
        np.testing.assert_array_equal(data[:, 0], np.arange(TOP + 1))
        # The sampled MACs are the ideal currents in level steps over n_active I_0 (SONOS levels are
        # equally spaced by program-verify), so the MAC recorded is what the ideal current says.
        t = self.table
        i_0, step = t.device_current[0], (t.device_current[-1] - t.device_current[0]) / 127
        n_active = t.sample_active_rows[:, None]
        np.testing.assert_allclose(t.sample_level_sum, (t.sample_current_ideal - n_active * i_0) / step, atol=1e-6)
        np.testing.assert_array_equal(t.sample_level_sum, np.round(t.sample_level_sum))
        # Independently: output code y = (I - n_active I_0) / step, rows by clipped ideal MAC.
        mac = t.sample_level_sum.ravel()
        error = ((t.sample_current - n_active * i_0) / step).ravel() - mac
        code = np.minimum(mac, TOP)
        seen = np.unique(code)
        self.assertGreater(len(seen), 20)
        for k in seen:
            e = error[code == k]
            self.assertAlmostEqual(data[int(k), 1], k + e.mean(), delta=1e-9 * max(1, abs(k)))
            self.assertAlmostEqual(data[int(k), 2], e.std(), delta=1e-9 * max(1, e.std()))
        # codes in between take the interpolated error; the line resistance only lowers currents
        self.assertTrue(np.all(data[:, 1] <= data[:, 0] + 1e-9))
        python = os.path.join(self.tmp.name, "python.csv")
        xt.neurosim_csv(self.table, python, 13)
        np.testing.assert_allclose(np.loadtxt(python, delimiter=",", skiprows=1, ndmin=2), data, rtol=1e-12, atol=1e-12)
        rows = xt.neurosim_csv(self.table, python, 13, levels=self.levels, inputs=self.inputs)
        self.assertEqual(len(rows), TOP + 1)
        active = self.inputs != 0
        layer_mac = np.minimum(active.astype(float) @ self.levels, TOP)
        self.assertEqual(sum(r[3] for r in rows), layer_mac.size)
        self.assertEqual([r[3] for r in rows], list(np.bincount(layer_mac.astype(int).ravel(), minlength=TOP + 1)))

    def test_inactive_cells_leak_what_the_engine_solves(self):
        """/device/current_off is an inactive cell's current: without line resistance each cell of
        an all-off input vector carries the leakage of its level (the off select FET in series)."""
        t = self.table
        self.assertTrue(np.all(t.device_current_off > 0))
        self.assertTrue(np.all(t.device_current_off < 1e-3 * t.device_current[-1]))
        config = config_of(["array.rows=4", "array.cols=32", "weights.kind=level"])
        levels = np.arange(128, dtype=float).reshape(4, 32)
        cells = xbar.Crossbar(config, weights=levels).solve(np.zeros((1, 4)), cells=True).cell_current[0]
        np.testing.assert_allclose(cells, t.device_current_off[levels.astype(int)], rtol=1e-7)

    def test_command_line_example_prints_every_prediction(self):
        solve_path = os.path.join(self.tmp.name, "solve.h5")
        xbar_cli("solve", *sets(ARRAY + ["weights.seed=9001", "inputs.seed=9002", "inputs.count=3"]), "-o", solve_path)
        out = subprocess.run([sys.executable, *PREDICT, self.table_path, solve_path],
                             check=True, capture_output=True, text=True).stdout
        for name in ("ideal", "response", "correction"):
            self.assertIn(f"  {name} ", out)
        missing = subprocess.run([sys.executable, *PREDICT, self.table_path, "/nonexistent.h5"],
                                 capture_output=True, text=True)
        self.assertEqual(missing.returncode, 2)

    def test_the_predictor_compares_the_resolved_bit_line_resistance(self):
        """The solve's r_col is read from its config's [derived] section: r_hat_p = 1.6e-4 is the
        table's 10 ohm (G_max = 1.6 uA / 0.1 V = 16 uS), 3.2e-4 is 20 ohm and is warned about."""
        for r_hat_p, warned in ((1.6e-4, False), (3.2e-4, True)):
            keys = [k for k in ARRAY if not k.startswith("array.r_col")] + [f"array.r_hat_p={r_hat_p}"]
            path = os.path.join(self.tmp.name, f"r_hat_p_{r_hat_p}.h5")
            xbar_cli("solve", *sets(keys + ["weights.seed=9001", "inputs.seed=9002", "inputs.count=3"]), "-o", path)
            stderr = subprocess.run([sys.executable, *PREDICT, self.table_path, path], check=True,
                                    capture_output=True, text=True).stderr
            self.assertEqual("solved r_col = " in stderr, warned, stderr)


class OtherCells(unittest.TestCase):
    """The table method on resistor cells, mapped arrays, a larger array and merged lines."""

    def check(self, keys, bound, activity=0.5):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.h5")
            xbar_cli("table", *sets(keys + SMALL_TABLE), "-o", path)
            table = xt.load(path)
        levels, inputs, result = fresh_array(keys, 4242, activity=activity)
        with warnings.catch_warnings():  # one sampled array: loads beyond it are expected here
            warnings.simplefilter("ignore", xt.DomainWarning)
            predicted = xt.predict(table, levels, inputs)
        self.assertEqual(predicted.shape, result.column_current.shape)
        self.assertLess(share_left(predicted, result), bound, keys)

    def test_1r_cells(self):
        self.check(["array.cell=1r", "array.rows=24", "array.cols=8", "array.r_col=5", "array.r_row=5"], 0.03)

    RRAM = ["array.cell=1t1r", "array.rows=128", "array.cols=16", "array.r_col=2", "array.r_row=2",
            "resistor.g_max=3.0303e-5", "resistor.on_off=10"]

    def test_1t1r_rram_tile(self):
        # the tiled-RRAM study's cell: G_max 1/33 kOhm, on/off 10, 2 ohm per cell on both lines
        self.check(self.RRAM, 0.05)

    def test_signed_outputs_of_inactive_and_sparse_vectors_follow_the_leakage(self):
        """With no active row a column carries only the inactive cells' leakage (pA): the
        difference of two columns (a signed output) is a few 1e-17 A whose sign follows the
        levels (a cell of higher conductance leaks a little more). The table method predicts
        those differences, and their sign, as the engine solves them with both line resistances;
        also with one active row, where the leakage is a 1e-6 part of the current."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.h5")
            xbar_cli("table", *sets(self.RRAM + SMALL_TABLE), "-o", path)
            table = xt.load(path)
        rng = np.random.default_rng(5)
        levels = rng.integers(0, 128, (128, 16)) * (rng.random((128, 16)) < 0.5)
        inputs = np.zeros((2, 128))
        inputs[1, 7] = 1
        config = config_of(self.RRAM + ["weights.kind=level"])
        exact = xbar.Crossbar(config, weights=levels.astype(float)).solve(inputs).column_current
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", xt.DomainWarning)
            predicted = xt.ArrayModel(table, levels).column_currents(inputs)
        signed = lambda i: i[:, 0::2] - i[:, 1::2]  # noqa: E731
        np.testing.assert_array_equal(np.sign(signed(predicted)[0]), np.sign(signed(exact)[0]))
        np.testing.assert_allclose(signed(predicted)[0], signed(exact)[0], rtol=0.01)
        self.assertLess(np.abs(signed(predicted)[1] - signed(exact)[1]).max(), 1e-3 * np.abs(signed(exact)[1]).max())
        # without the leakage (the ideal reference) the inactive vector is exactly 0
        np.testing.assert_array_equal(xt.ideal(table, levels, inputs)[0], 0)
        # with programming error each cell leaks as its programmed conductance does
        varied = xbar.Crossbar(config_of(self.RRAM + ["weights.kind=level", "variation.g_sigma=0.08",
                                                      "variation.seed=3"]), weights=levels.astype(float))
        exact = signed(varied.solve(inputs[:1]).column_current)[0]
        model = xt.ArrayModel(table, levels, cell_weight=np.asarray(varied.conductance))
        np.testing.assert_array_equal(np.sign(signed(model.column_currents(inputs[:1]))[0]), np.sign(exact))
        np.testing.assert_allclose(signed(model.column_currents(inputs[:1]))[0], exact, rtol=0.01)
        nominal = xt.ArrayModel(table, levels, cell_weight=table.device_weight[levels]).column_currents(inputs[:1])
        np.testing.assert_allclose(nominal, predicted[:1], rtol=1e-12)

    def test_differential_mapping_with_driver_and_sense_resistance(self):
        self.check(["array.rows=32", "array.cols=4", "mapping.scheme=differential", "weights.distribution=laplace",
                    "array.r_driver=50", "array.r_sense=50", "array.r_col=4"], 0.05)

    def test_sonos_at_r_hat_p_1e_4(self):
        # r_col = 1e-4 / G_max (I_max / v_read = 16 uS): a 20-30 % drop
        self.check(["array.rows=256", "array.cols=8", "array.r_col=6.25", "weights.distribution=laplace"], 0.1,
                   activity=0.3)


class Domain(unittest.TestCase):
    """Outside its domain the table method warns, in xbar table and in xbar.tables alike."""

    def test_a_correction_beyond_the_limit_warns_in_cpp_and_python(self):
        keys = ["array.rows=48", "array.cols=6", "array.r_col=400", "table.samples=2", "table.vectors=2"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.h5")
            stderr = xbar_cli("table", *sets(keys), "-o", path).stderr
            self.assertIn("warning", stderr)
            self.assertIn("extrapolate", stderr)
            table = xt.load(path)
        self.assertGreater(table.domain["deviation"][0], xt.DEVIATION_LIMIT)
        levels, inputs, _ = fresh_array(keys, 77)
        with self.assertWarnsRegex(xt.DomainWarning, "more than the table method's 50 %"):
            xt.predict(table, levels, inputs)
        # counted block by block as on the whole batch: the pairs above the limit among those whose
        # ideal current exceeds 1e-3 of the batch's largest, or whose load exceeds the sampled ones
        model = xt.ArrayModel(table, levels)
        current, ideal = model.column_currents(inputs, with_ideal=True)
        counted = ideal > 1e-3 * ideal.max()
        outside = (np.abs(current / ideal - 1) > xt.DEVIATION_LIMIT) & counted
        outside |= ideal > table.domain["load"][1] * table.attr("full_scale_current") * (1 + 1e-9)
        self.assertGreater(outside.sum(), 0)
        for block in (256, 1):
            model.block = block
            with self.assertWarnsRegex(xt.DomainWarning, f" {outside.sum()} of {outside.size} column currents"):
                model.column_currents(inputs)

    def test_loads_above_the_sampled_ones_warn_and_inside_do_not(self):
        keys = ARRAY + ["table.samples=2", "table.vectors=2", "weights.distribution=laplace", "inputs.activity=0.2"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.h5")
            stderr = xbar_cli("table", *sets(keys), "-o", path).stderr
            self.assertEqual(stderr, "")
            table = xt.load(path)
        model = xt.ArrayModel(table, np.full((48, 10), 127))
        with self.assertWarnsRegex(xt.DomainWarning, "above the largest the table sampled"):
            model.column_currents(np.ones((1, 48)))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.column_currents(np.zeros((1, 48)))
            xt.ArrayModel(table, np.zeros((48, 10))).column_currents(np.ones((1, 48)))


class Journal(unittest.TestCase):
    def test_a_journal_of_the_older_sample_record_is_refused(self):
        """A sample's journal record carries column currents and activity since record layout 2:
        --resume refuses a journal written with the older layout (exit 2, one line naming both),
        instead of misreading its records, and writes nothing."""
        keys = ["array.rows=8", "array.cols=4", "table.samples=2", "table.vectors=1"]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "t.h5")

            def resume_with(identity):
                with open(out + ".journal", "w") as f:
                    f.write(f"xbar journal 1\n{identity}\n")
                return subprocess.run([XBAR, "table", *sets(keys), "-o", out, "--resume", "--quiet"],
                                      capture_output=True, text=True)

            foreign = resume_with("not this run")
            self.assertEqual(foreign.returncode, 2, foreign.stderr)
            current = foreign.stderr.split("not of this one (")[1].split("):")[0]
            self.assertIn("sample record 2, ", current)
            old = resume_with(current.replace("sample record 2, ", ""))
            self.assertEqual(old.returncode, 2, old.stderr)
            self.assertEqual(len(old.stderr.strip().splitlines()), 1, old.stderr)
            self.assertIn("the journal is of another run", old.stderr)
            self.assertIn(current, old.stderr)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
