"""Bad input from Python: every command-line bad-input class that applies to the package raises
xbar.InputError (a ValueError) carrying the binary's own one-line message (compared with its
stderr), and NumPy arguments of a wrong dtype, rank, shape or layout are either converted (and
give the same numbers) or rejected by name with their shape and what was expected."""
import os

import h5py
import numpy as np
import pytest

import xbar
from conftest import EXAMPLES, cli_error, run_xbar

SMALL = os.path.join(EXAMPLES, "1t1r_small.toml")


def write(path, text):
    path.write_text(text)
    return str(path)


def h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, data in datasets.items():
            f[name] = data
    return str(path)


def same_message(config_args, make):
    """The binary's message for `xbar solve CONFIG_ARGS` and the package's for make()."""
    expected = cli_error("solve", *config_args, "-o", "/tmp/xbar_py_unused.h5")
    with pytest.raises(xbar.InputError) as caught:
        make()
    assert str(caught.value) == expected
    assert isinstance(caught.value, ValueError)


def test_input_error_is_a_value_error_and_the_others_are_distinct():
    assert issubclass(xbar.InputError, ValueError)
    assert not issubclass(xbar.NoSolutionError, ValueError) and not issubclass(xbar.SpiceError, ValueError)


@pytest.mark.parametrize("text", [
    "[array]\nrowz = 3\n",                         # unknown key, did-you-mean
    "[aray]\nrows = 3\n",                          # unknown section
    "[array]\nrows = \"many\"\n",                  # wrong type
    "[array]\nr_col = -1.0\n",                     # out of range
    "[array]\nr_col = nan\n",                      # NaN
    "[array\nrows = 3\n",                          # TOML syntax
    "[array]\ncell = \"3r\"\n",                    # not one of the choices
    "[weights]\nkind = \"real\"\n",                # real weights without [mapping]
    "[array]\nr_col = 1e999\n",                   # overflows TOML
    "[array]\nrows = 1000000\ncols = 1000000\n",  # beyond the cell limit
    "[array]\nrows = 8192\ncols = 8192\n[inputs]\ncount = 1048576\n",  # beyond this machine's memory
    "array = 4\n",                                # a section that is not a table
])
def test_config_errors_carry_the_binarys_message(text, tmp):
    path = write(tmp / "bad.toml", text)
    same_message([path], lambda: xbar.Config(path))


def test_config_text_errors_name_the_string_the_way_a_file_is_named(tmp):
    text = "[array]\nrowz = 3\n"
    path = write(tmp / "bad.toml", text)
    with pytest.raises(xbar.InputError) as caught:
        xbar.Config(text)
    assert str(caught.value) == cli_error("solve", path, "-o", "/tmp/x.h5").replace(path, "<string>")


@pytest.mark.parametrize("sets,overrides", [
    (["array.rowz=3"], {"array.rowz": 3}),
    (["array.rows=0"], {"array.rows": 0}),
    (["array.r_col=-1"], {"array.r_col": -1.0}),
    (["array.cell=3r"], {"array.cell": "3r"}),
    (["array.rows"], ["array.rows"]),               # no '='
])
def test_override_errors_carry_the_binarys_message(sets, overrides):
    same_message([SMALL, *[f"--set={s}" for s in sets]], lambda: xbar.Config(SMALL, overrides))


def test_missing_config_and_a_folder(tmp):
    missing = str(tmp / "missing.toml")
    same_message([missing], lambda: xbar.Config(missing))
    same_message([str(tmp)], lambda: xbar.Config(str(tmp)))


def weights_config(tmp, file, dataset="w", extra=""):
    return write(tmp / "w.toml", f'[array]\nrows = 4\ncols = 3\ncell = "1t1r"\n[weights]\nsource = "file"\n'
                                 f'file = "{file}"\ndataset = "{dataset}"\n{extra}')


@pytest.mark.parametrize("make_file,dataset,extra", [
    (lambda tmp: str(tmp / "none.h5"), "w", ""),                                     # missing file
    (lambda tmp: h5(tmp / "a.h5", w=np.zeros((4, 3))), "v", ""),                     # missing dataset
    (lambda tmp: h5(tmp / "b.h5", w=np.zeros((3, 3))), "w", ""),                     # wrong shape
    (lambda tmp: h5(tmp / "c.h5", w=np.full((4, 3), 0.5)), "w", ""),                 # levels not integers
    (lambda tmp: h5(tmp / "d.h5", w=np.full((4, 3), np.nan)), "w", 'kind = "conductance"\n'),
    (lambda tmp: h5(tmp / "e.h5", w=np.ones((4, 3))), "w", 'kind = "vt"\n'),        # vt on resistor cells
    (lambda tmp: write(tmp / "f.h5", "not hdf5"), "w", ""),                          # not HDF5
])
def test_weight_file_errors_carry_the_binarys_message(make_file, dataset, extra, tmp):
    config = weights_config(tmp, make_file(tmp), dataset, extra)
    same_message([config], lambda: xbar.Crossbar(xbar.Config(config)))


def test_input_file_errors_carry_the_binarys_message(tmp):
    bits = h5(tmp / "in.h5", x=np.full((2, 4), 0.5))
    config = write(tmp / "in.toml", f'[array]\nrows = 4\ncols = 3\ncell = "1t1r"\n'
                                    f'[inputs]\nsource = "file"\nfile = "{bits}"\ndataset = "x"\n')
    same_message([config], lambda: xbar.Crossbar(xbar.Config(config)))


def test_numpy_weights_and_inputs_fail_like_their_files(tmp):
    """The same checks as a file's, the message naming the argument instead of file and dataset."""
    bad_levels = np.full((4, 3), 0.5)
    config = weights_config(tmp, h5(tmp / "w.h5", w=bad_levels))
    expected = cli_error("solve", config, "-o", "/tmp/x.h5")
    cfg = xbar.Config({"array": {"rows": 4, "cols": 3, "cell": "1t1r"}})
    with pytest.raises(xbar.InputError) as caught:
        xbar.Crossbar(cfg, weights=bad_levels)
    assert str(caught.value) == expected.replace(f"{tmp / 'w.h5'}: dataset 'w'", "argument 'weights'")
    array = xbar.Crossbar(cfg)
    with pytest.raises(xbar.InputError, match=r"^argument 'inputs' \[0, 1\] = 0\.5: inputs of select cells must be bits"):
        array.solve([[1, 0.5, 0, 1]])
    with pytest.raises(xbar.InputError, match=r"^argument 'inputs' is 2 x 5, expected count x 4 \(count x array.rows\)"):
        array.solve(np.ones((2, 5)))
    with pytest.raises(xbar.InputError, match=r"real weights must be in \[-1, 1\]"):
        xbar.map_weights([[0.5, 1.5]])


def test_arrays_of_any_numeric_dtype_and_layout_are_taken_as_float64():
    cfg = xbar.Config({"array": {"cell": "1r", "r_row": 1.0, "r_col": 1.0}})
    w = np.random.default_rng(3).integers(0, 128, (6, 8))
    x = np.random.default_rng(4).uniform(0, 1, (3, 6))
    reference = xbar.Crossbar(cfg, weights=w.astype(float)).solve(x).column_current
    for weights in (w, w.astype(np.int32), w.astype(np.float32), np.asfortranarray(w), w.tolist()):
        np.testing.assert_array_equal(xbar.Crossbar(cfg, weights=weights).solve(x).column_current, reference)
    wide = np.zeros((6, 16))
    wide[:, ::2] = w
    array = xbar.Crossbar(cfg, weights=wide[:, ::2])          # a non-contiguous view
    for inputs in (x, np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2], x.tolist()):
        np.testing.assert_array_equal(array.solve(inputs).column_current, reference)
    np.testing.assert_array_equal(array.solve(x[0]).column_current, reference[0:1])   # 1-D: one vector
    select = xbar.Crossbar(xbar.Config({"array": {"cell": "1t1r"}}), weights=w)
    bits = np.array([[True, False, True, True, False, True]])
    np.testing.assert_array_equal(select.solve(bits).column_current, select.solve(bits.astype(float)).column_current)


@pytest.mark.parametrize("bad,message", [
    (np.zeros((2, 3, 4)), r"argument 'weights' has shape \(2, 3, 4\): expected a 2-D array \[rows, cols\]"),
    (np.zeros(5), r"argument 'weights' has shape \(5,\): expected a 2-D array \[rows, cols\]"),
    (np.zeros((0, 3)), r"argument 'weights' has shape \(0, 3\): expected \[rows, cols\] with at least one row"),
    (np.zeros((2, 3), complex), r"argument 'weights' has dtype complex128: expected real numbers"),
    (np.array([["a", "b"]]), r"argument 'weights' has dtype <U1: expected real numbers"),
    ("levels.npy", r"argument 'weights' has dtype <U10: expected real numbers"),
])
def test_wrong_arrays_are_rejected_by_name(bad, message):
    with pytest.raises(xbar.InputError, match=message):
        xbar.Crossbar(xbar.Config({"array": {"cell": "1r"}}), weights=bad)


def test_results_are_owned_arrays_and_the_kept_arrays_read_only():
    array = xbar.Crossbar(xbar.Config({"array": {"cell": "1r"}}), weights=np.ones((3, 2)))
    r = array.solve(np.ones((1, 3)))
    assert r.column_current.flags.c_contiguous and r.column_current.flags.writeable
    r.column_current[0, 0] = 0.0                                  # the caller's to change
    for kept in (array.levels, array.conductance, array.inputs):
        assert not kept.flags.writeable
        with pytest.raises(ValueError):
            kept[0, 0] = 1.0


def test_no_solution_carries_the_binarys_message(tmp):
    """1e300 V: the column nodes would have to travel 1e300 V in steps of solver.max_step."""
    config = write(tmp / "absurd.toml", '[array]\nrows = 4\ncols = 4\ncell = "1r"\nr_col = 1.0\n')
    status, err = run_xbar("solve", config, "--set", "bias.v_read=1e300", "-o", str(tmp / "x.h5"))
    assert status == 3
    array = xbar.Crossbar(xbar.Config(config, {"bias.v_read": 1e300}))
    with pytest.raises(xbar.NoSolutionError) as caught:
        array.solve(array.inputs)
    assert "xbar: error: " + str(caught.value) == err.strip()
    assert "no solution" in str(caught.value) and "worst node" in str(caught.value)


def test_a_weight_matrix_sets_the_shape_and_keeps_every_other_key():
    """Crossbar(config, weights) takes array.rows / array.cols from the matrix and every other key
    from the parsed config: the same numbers as a config that names the shape itself; a shape out
    of range names the argument, not a --set the caller never gave."""
    keys = {"array": {"cell": "1r", "r_row": 2.0, "r_hat_p": 1e-4}, "bias": {"v_read": 0.2},
            "resistor": {"on_off": 10}}
    w = np.random.default_rng(5).integers(0, 128, (5, 7)).astype(float)
    x = np.random.default_rng(6).uniform(0, 1, (2, 5))
    fitted = xbar.Crossbar(xbar.Config(keys), weights=w)
    shaped = xbar.Crossbar(xbar.Config({**keys, "array": {**keys["array"], "rows": 5, "cols": 7}}), weights=w)
    assert (fitted.rows, fitted.cols) == (5, 7)
    np.testing.assert_array_equal(fitted.conductance, shaped.conductance)
    np.testing.assert_array_equal(fitted.solve(x).column_current, shaped.solve(x).column_current)
    with pytest.raises(xbar.InputError, match=r"^argument 'weights': key 'array.cols' = 1048577: "):
        xbar.Crossbar(xbar.Config(keys), weights=np.zeros((1, (1 << 20) + 1)))
