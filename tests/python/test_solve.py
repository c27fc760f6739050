"""xbar.Crossbar.solve against `xbar solve` on the same config: the same engine, so the same
numbers (column currents, cell currents, every row- and bit-line node voltage, physical weights,
levels) to 1e-12 relative, for every cell kind and a mapped array; weights given from NumPy
give the same array as the same weights from an HDF5 file; map_weights is the engine's mapping."""
import os

import h5py
import numpy as np
import pytest

import xbar
from conftest import EXAMPLES, solve_file

RTOL = 1e-12

# Three input vectors: below the count at which the engine splits vectors over two threads, so
# that the per-cell path (cells=True, one thread) warm-starts every vector as the binary does.
CASES = {
    "1r": ("1r_small.toml", ["array.rows=24", "array.cols=20", "inputs.count=3"]),
    "1t1r": ("1t1r_small.toml", ["array.rows=24", "array.cols=20", "inputs.count=3"]),
    "2t-sonos": ("2t_sonos_small.toml", ["array.rows=24", "array.cols=20", "inputs.count=3"]),
    "2t-sonos-offset": ("2t_sonos_small.toml", ["array.rows=24", "array.cols=10", "inputs.count=3",
                                                 'mapping.scheme="offset"', 'weights.distribution="laplace"']),
    "1r-differential": ("1r_small.toml", ["array.rows=16", "array.cols=8", "inputs.count=3",
                                          'mapping.scheme="differential"']),
}


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_solve_equals_the_binary(case, tmp):
    name, sets = CASES[case]
    config = os.path.join(EXAMPLES, name)
    cli = solve_file(config, str(tmp / "out.h5"), *sets)
    array = xbar.Crossbar(xbar.Config(config, sets))
    r = array.solve(array.inputs, cells=True, nodes=True)
    close(array.inputs, cli["/inputs"])
    close(r.column_current, cli["/columns/current"])
    close(r.column_current_ideal, cli["/columns/current_ideal"])
    close(r.cell_current[0], cli["/cells/current"])
    close(r.cell_current_ideal[0], cli["/cells/current_ideal"])
    close(r.v_row[0], cli["/nodes/v_row"])
    close(r.v_col[0], cli["/nodes/v_col"])
    close(array.levels, cli["/weights/level"])
    physical = array.vt if "sonos" in case else array.conductance
    close(physical, cli["/weights/vt" if "sonos" in case else "/weights/conductance"])
    assert (array.conductance if "sonos" in case else array.vt) is None
    assert r.method == cli["solver_method"] and r.backend == cli["solver_backend"]
    assert r.newton_iterations == cli["newton_iterations"]
    if "/outputs/current" in cli:
        close(array.weights, cli["/weights/real"])
        close(r.output, cli["/outputs/current"])
        close(r.output_ideal, cli["/outputs/ideal"])
    else:
        assert r.output is None and array.weights is None


def test_the_cells_path_and_the_batch_path_agree_vector_by_vector():
    """Without cells/nodes the engine may split the vectors over two threads; every vector's
    column currents are still those of solving it alone from the same start."""
    cfg = xbar.Config(os.path.join(EXAMPLES, "2t_sonos_small.toml"), {"inputs.count": 6})
    array = xbar.Crossbar(cfg)
    batch = array.solve(array.inputs)
    one_by_one = np.vstack([xbar.Crossbar(cfg).solve(v).column_current for v in array.inputs])
    np.testing.assert_allclose(batch.column_current, one_by_one, rtol=1e-9, atol=0)
    assert batch.cell_current is None and batch.v_row is None


def write_h5(path, name, matrix):
    with h5py.File(path, "w") as f:
        f[name] = matrix


@pytest.mark.parametrize("kind,config,sets", [
    ("level", "2t_sonos_small.toml", []),
    ("vt", "2t_sonos_small.toml", []),
    ("conductance", "1r_small.toml", []),
    ("real", "1r_small.toml", ['mapping.scheme="offset"']),
])
def test_numpy_weights_equal_the_same_weights_from_a_file(kind, config, sets, tmp):
    rows, cols = 12, 6
    rng = np.random.default_rng(5)
    if kind == "level":
        w = rng.integers(0, 128, (rows, cols)).astype(float)
    elif kind == "vt":
        w = rng.uniform(0.2, 0.6, (rows, cols))
    elif kind == "conductance":
        w = rng.uniform(1e-6, 1e-4, (rows, cols))
    else:
        w = rng.uniform(-1, 1, (rows, cols))
    write_h5(tmp / "w.h5", "w", w)
    base = os.path.join(EXAMPLES, config)
    common = sets + [f'weights.kind="{kind}"', "inputs.count=2"]
    cli = solve_file(base, str(tmp / "out.h5"), *common, f"array.rows={rows}", f"array.cols={cols}",
                     'weights.source="file"', f'weights.file="{tmp / "w.h5"}"', 'weights.dataset="w"')
    # rows and cols come from the array: the example config's 32 x 32 is overridden here only
    # because the example sets them; a config without them takes the shape as it is.
    cfg = xbar.Config(base, common + [f"array.rows={rows}", f"array.cols={cols}"])
    array = xbar.Crossbar(cfg, weights=w)
    r = array.solve(array.inputs)
    close(r.column_current, cli["/columns/current"])
    if kind in ("level", "real"):
        close(array.levels, cli["/weights/level"])
    else:
        assert array.levels is None


def test_rows_and_cols_come_from_the_weights_unless_the_config_sets_them():
    w = np.zeros((5, 3))
    array = xbar.Crossbar(xbar.Config({"array": {"cell": "1r"}}), weights=w)
    assert (array.rows, array.cols, array.physical_cols) == (5, 3, 3)
    mapped = xbar.Crossbar(xbar.Config({"array.cell": "1r", "mapping.scheme": "differential"}), weights=w)
    assert (mapped.rows, mapped.cols, mapped.physical_cols) == (5, 3, 6)
    with pytest.raises(xbar.InputError, match=r"argument 'weights' is 5 x 3, expected 5 x 4 \(array.rows x array.cols\)"):
        xbar.Crossbar(xbar.Config({"array": {"cell": "1r", "cols": 4}}), weights=w)


@pytest.mark.parametrize("scheme", ["differential", "offset"])
@pytest.mark.parametrize("levels", [128, 16])
def test_map_weights_is_the_engines_mapping(scheme, levels, tmp):
    rng = np.random.default_rng(11)
    w = rng.uniform(-1, 1, (9, 7))
    w[0, :4] = [1.0, -1.0, 0.0, 0.5 / (levels - 1)]  # the ends, zero, and a tie (half away from zero)
    write_h5(tmp / "w.h5", "w", w)
    cli = solve_file(os.path.join(EXAMPLES, "1r_small.toml"), str(tmp / "out.h5"), "array.rows=9", "array.cols=7",
                     f'mapping.scheme="{scheme}"', f"resistor.levels={levels}", 'weights.source="file"',
                     f'weights.file="{tmp / "w.h5"}"', 'weights.dataset="w"', "inputs.count=1")
    mapped = xbar.map_weights(w, scheme=scheme, levels=levels)
    np.testing.assert_array_equal(mapped, cli["/weights/level"])
    # and by the rule itself, independently
    top = levels - 1
    half_away = lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5)  # noqa: E731
    if scheme == "differential":
        expected = np.empty((9, 14))
        expected[:, 0::2], expected[:, 1::2] = half_away(np.maximum(w, 0) * top), half_away(np.maximum(-w, 0) * top)
    else:
        expected = np.hstack([half_away((w + 1) / 2 * top), np.full((9, 1), levels // 2)])
    np.testing.assert_array_equal(mapped, expected)
