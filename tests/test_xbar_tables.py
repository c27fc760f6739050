"""xbar.tables (python/xbar/tables.py) against `xbar solve`: tables built by the real `xbar table`, predictions
checked on arrays the table was not built from. Run by ctest:

    XBAR=build/cli/xbar PYTHONPATH=build/python /usr/bin/python3 tests/test_xbar_tables.py
"""

import os
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

from xbar import tables as xt

XBAR = os.environ.get("XBAR", "build/cli/xbar")
HERE = os.path.dirname(os.path.abspath(__file__))
PREDICT = ["-m", "xbar.table_predict"]

# A small 2t-sonos array with both line resistances, large enough to lose ~5-10 % of its current.
ARRAY = ["array.rows=48", "array.cols=10", "array.r_row=10", "array.r_col=10"]
TABLE = ["table.samples=4", "table.vectors=4", "table.row_bins=4", "table.col_bins=2",
         "table.load_bins=3", "table.v_bl_points=33", "table.v_sup_points=33"]


def xbar(*args):
    subprocess.run([XBAR, *args, "--quiet"], check=True)


def sets(keys):
    return [arg for key in keys for arg in ("--set", key)]


def solve(directory, name, keys):
    """Solves a fresh array (seeds no table sample uses) and returns (levels, inputs, currents, ideal)."""
    path = os.path.join(directory, name)
    xbar("solve", *sets(keys + ["weights.seed=9001", "inputs.seed=9002", "inputs.count=5"]), "-o", path)
    with h5py.File(path, "r") as f:
        return (f["/weights/level"][()], f["/inputs"][()], f["/columns/current"][()],
                f["/columns/current_ideal"][()], path)


class SonosTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.table_path = os.path.join(cls.tmp.name, "table.h5")
        xbar("table", *sets(ARRAY + TABLE), "-o", cls.table_path)
        cls.table = xt.load(cls.table_path)
        cls.levels, cls.inputs, cls.solved, cls.solved_ideal, cls.solve_path = solve(
            cls.tmp.name, "solve.h5", ARRAY)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_datasets_have_the_documented_shapes(self):
        t = self.table
        L = 128
        self.assertEqual(t.device_current.shape, (L,))
        self.assertEqual(t.device_weight.shape, (L,))
        self.assertEqual(t.cell_current.shape, (L, 33, 33))
        self.assertEqual(t.mean.shape, (4, 2, L, len(t.load_edges) - 1))
        self.assertEqual(t.std.shape, t.mean.shape)
        np.testing.assert_array_equal(t.row_edges, [0, 12, 24, 36, 48])
        np.testing.assert_array_equal(t.col_edges, [0, 5, 10])
        np.testing.assert_array_equal(np.isnan(t.mean), t.count == 0)
        self.assertEqual((t.rows, t.cols, t.attrs["cell"]), (48, 10, "2t-sonos"))
        self.assertEqual(t.attr("r_col"), 10.0)
        self.assertEqual(int(t.attrs["samples"]), 4)
        self.assertGreater(t.attr("elapsed_time"), 0)
        self.assertIn("[table]", t.attrs["config"])

    def test_ideal_is_the_solve_ideal(self):
        i = xt.ideal(self.table, self.levels, self.inputs)
        self.assertEqual(i.shape, (5, 10))
        np.testing.assert_allclose(i, self.solved_ideal, rtol=1e-12)

    def test_predictions_beat_the_ideal(self):
        ideal_rms, _ = xt.column_errors(xt.ideal(self.table, self.levels, self.inputs), self.solved,
                                        self.solved_ideal)
        self.assertGreater(ideal_rms, 0.03)  # the line resistance matters here
        for method, gain in (("ir", 100), ("correction", 3)):
            with self.subTest(method=method):
                predicted = xt.predict(self.table, self.levels, self.inputs, method=method)
                self.assertEqual(predicted.shape, (5, 10))
                rms, _ = xt.column_errors(predicted, self.solved, self.solved_ideal)
                self.assertLess(rms * gain, ideal_rms, f"{method}: rms {rms:.3g}, ideal {ideal_rms:.3g}")

    def test_one_input_vector_and_bad_shapes(self):
        one = xt.predict(self.table, self.levels, self.inputs[0])
        np.testing.assert_allclose(one[0], xt.predict(self.table, self.levels, self.inputs)[0], rtol=1e-9)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels[:, :5], self.inputs)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels + 200, self.inputs)
        with self.assertRaises(ValueError):
            xt.predict(self.table, self.levels, self.inputs, method="magic")

    def test_command_line_example_prints_every_prediction(self):
        out = subprocess.run([sys.executable, *PREDICT, self.table_path, self.solve_path],
                             check=True, capture_output=True, text=True).stdout
        for name in ("ideal", "ir", "correction"):
            self.assertIn(f"  {name} ", out)
        missing = subprocess.run([sys.executable, *PREDICT, self.table_path, "/nonexistent.h5"],
                                 capture_output=True, text=True)
        self.assertEqual(missing.returncode, 2)

    def test_the_predictor_compares_the_resolved_bit_line_resistance(self):
        """The solve's r_col is read from its config's [derived] section: r_hat_p = 1.6e-4 is the
        table's 10 ohm (G_max = 1.6 uA / 0.1 V = 16 uS), 3.2e-4 is 20 ohm and is warned about."""
        for r_hat_p, warned in ((1.6e-4, False), (3.2e-4, True)):
            keys = [k for k in ARRAY if not k.startswith("array.r_col")] + [f"array.r_hat_p={r_hat_p}"]
            *_, path = solve(self.tmp.name, f"r_hat_p_{r_hat_p}.h5", keys)
            stderr = subprocess.run([sys.executable, *PREDICT, self.table_path, path], check=True,
                                    capture_output=True, text=True).stderr
            self.assertEqual("solved r_col = " in stderr, warned, stderr)


class OtherCells(unittest.TestCase):
    """The IR model holds for resistor cells, mapped arrays and merged (0-ohm) lines too."""

    def check(self, keys, shape):
        with tempfile.TemporaryDirectory() as tmp:
            table_path = os.path.join(tmp, "t.h5")
            xbar("table", *sets(keys + TABLE), "-o", table_path)
            table = xt.load(table_path)
            levels, inputs, solved, solved_ideal, _ = solve(tmp, "s.h5", keys)
            predicted = xt.predict(table, levels, inputs)
            self.assertEqual(predicted.shape, shape)
            rms, _ = xt.column_errors(predicted, solved, solved_ideal)
            ideal_rms, _ = xt.column_errors(xt.ideal(table, levels, inputs), solved, solved_ideal)
            self.assertLess(rms * 10, ideal_rms, f"{keys}: rms {rms:.3g}, ideal {ideal_rms:.3g}")

    def test_1r_cells(self):
        self.check(["array.cell=1r", "array.rows=24", "array.cols=8", "array.r_col=5",
                    "array.r_row=5"], (5, 8))

    def test_differential_mapping_with_driver_and_sense_resistance(self):
        self.check(["array.rows=32", "array.cols=4", "mapping.scheme=differential",
                    "weights.distribution=laplace", "array.r_driver=50", "array.r_sense=50",
                    "array.r_col=4"], (5, 8))


if __name__ == "__main__":
    unittest.main()
