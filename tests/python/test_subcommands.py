"""xbar.table, xbar.sweep and xbar.check in process write what the binary writes (the same
datasets, to the last bit for the deterministic ones), return the file read back, and fail on
a bad output path or an oversized check with the binary's message."""
import h5py
import numpy as np
import pytest

import xbar
from conftest import cli_error, run_xbar

SWEEP = """[array]
rows = 8
cols = 6
cell = "1t1r"
r_row = 1.0
[inputs]
count = 2
[sweep]
"array.r_col" = [0.5, 2.0]
"mapping.scheme" = ["differential", "offset"]
"""

TABLE = """[array]
rows = 8
cols = 6
cell = "1r"
r_col = 2.0
[table]
samples = 2
vectors = 3
threads = 1
row_bins = 2
col_bins = 2
load_bins = 2
v_bl_points = 9
v_sup_points = 9
"""

CHECK = """[array]
rows = 6
cols = 5
cell = "2t-sonos"
r_row = 1.0
r_col = 1.0
[inputs]
count = 2
"""

TIMING = {"solve_time", "elapsed_time", "xbar_time", "spice_time"}


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        attrs = {k: v for k, v in f.attrs.items() if k not in TIMING}
    return out, attrs


def assert_same_file(a, b):
    (data_a, attrs_a), (data_b, attrs_b) = datasets(a), datasets(b)
    assert set(data_a) == set(data_b)
    for name in data_a:
        if name.split("/")[-1] in TIMING:
            continue
        if data_a[name].dtype.kind in "fiu":
            np.testing.assert_array_equal(data_a[name], data_b[name], err_msg=name)
        else:
            assert list(data_a[name]) == list(data_b[name]), name
    assert attrs_a.keys() == attrs_b.keys()
    for key in attrs_a:
        assert np.all(attrs_a[key] == attrs_b[key]), key


def test_sweep_writes_the_binarys_file_and_returns_it(tmp):
    (tmp / "s.toml").write_text(SWEEP)
    assert run_xbar("sweep", str(tmp / "s.toml"), "-o", str(tmp / "cli.h5"))[0] == 0
    sweep = xbar.sweep(xbar.Config(str(tmp / "s.toml")), tmp / "py.h5")
    assert_same_file(tmp / "cli.h5", tmp / "py.h5")
    assert sweep.names == ["array.r_col", "mapping.scheme"]
    in_memory = xbar.sweep(SWEEP)                 # TOML text, no file kept
    np.testing.assert_array_equal(in_memory.points["col_err_rms"], sweep.points["col_err_rms"])
    assert in_memory.points["out_err_nrms"].shape == (2, 2)


def test_table_writes_the_binarys_file_and_returns_it(tmp):
    (tmp / "t.toml").write_text(TABLE)
    assert run_xbar("table", str(tmp / "t.toml"), "-o", str(tmp / "cli.h5"))[0] == 0
    table = xbar.table(str(tmp / "t.toml"), str(tmp / "py.h5"))
    assert_same_file(tmp / "cli.h5", tmp / "py.h5")
    assert (table.rows, table.cols) == (8, 6)


def test_check_returns_what_the_binary_writes(tmp):
    (tmp / "c.toml").write_text(CHECK)
    assert run_xbar("check", str(tmp / "c.toml"), "-o", str(tmp / "cli.h5"))[0] == 0
    result = xbar.check(str(tmp / "c.toml"), tmp / "py.h5")
    assert_same_file(tmp / "cli.h5", tmp / "py.h5")
    with h5py.File(tmp / "cli.h5", "r") as f:
        np.testing.assert_array_equal(result.column_current_spice, f["/columns/current_spice"][()])
        assert result.max_rel_diff == f.attrs["check_max_rel_diff"]
        assert result.max_node_diff == f.attrs["check_max_node_diff"]
    assert result.passed and result.max_rel_diff < 1e-9 and len(result.vectors) == 2
    assert not xbar.check(CHECK, tolerance=result.max_rel_diff / 2).passed


@pytest.mark.parametrize("command", ["table", "sweep", "check"])
def test_a_bad_output_path_fails_before_any_work_with_the_binarys_message(command, tmp):
    config = tmp / "c.toml"
    config.write_text(SWEEP if command == "sweep" else CHECK)
    out = str(tmp / "missing" / "out.h5")
    expected = cli_error(command, str(config), "-o", out)
    with pytest.raises(xbar.InputError) as caught:
        getattr(xbar, command)(str(config), out)
    assert str(caught.value) == expected


def test_check_refuses_large_arrays_with_the_binarys_message(tmp):
    config = tmp / "big.toml"
    config.write_text('[array]\nrows = 128\ncols = 128\ncell = "1r"\n')
    with pytest.raises(xbar.InputError) as caught:
        xbar.check(str(config))
    assert str(caught.value) == cli_error("check", str(config))
