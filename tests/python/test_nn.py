"""xbar.nn against independent computations: the layer formula written out here (levels by the
mapping rules, level currents I_k = I_min + k (I_max - I_min)/(L-1), input bit planes, output
scaling, ADC), exact mode against ideal mode where the circuit is ideal, and exact mode against
xbar.Crossbar.solve tile by tile and bit plane by bit plane."""
import numpy as np
import pytest
import torch

import xbar
import xbar.nn as xnn

I_MAX, ON_OFF, L, B = 1.6e-6, 1e7, 128, 8


def sonos_config(scheme="differential", rows=16, cols=8, **extra):
    config = {"array": {"rows": rows, "cols": cols, "cell": "2t-sonos"},
              "mapping": {"scheme": scheme}, "network": {"input_bits": B}}
    for key, value in extra.items():
        section, name = key.split("__")
        config.setdefault(section, {})[name] = value
    return config


def lround(v):
    """Half away from zero, as C's lround."""
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def levels_of(w, scheme):
    """Section 7: w [rows, outputs] in [-1, 1] -> levels [rows, physical cols]."""
    if scheme == "differential":
        out = np.empty((w.shape[0], 2 * w.shape[1]))
        out[:, 0::2] = lround(np.maximum(w, 0) * (L - 1))
        out[:, 1::2] = lround(np.maximum(-w, 0) * (L - 1))
        return out
    return np.hstack([lround((w + 1) / 2 * (L - 1)), np.full((w.shape[0], 1), L // 2)])


def signed(currents, scheme):
    if scheme == "differential":
        return currents[..., 0::2] - currents[..., 1::2]
    return currents[..., :-1] - currents[..., -1:]


def bit_planes(x, x_max):
    q = np.rint(np.clip(x, 0, x_max) / x_max * (2 ** B - 1)).astype(np.int64)
    return np.stack([(q >> b) & 1 for b in range(B)]).astype(float)  # [B, n, rows]


def formula(W, x, x_max, scheme, tile_rows, currents_of_tile, adc=None):
    """Section 8's layer output y [n, out] (before bias) from W [out, in] and x [n, in].
    currents_of_tile(row slice, levels, bits [count, rows]) -> physical column currents."""
    w = W / np.abs(W).max()
    levels = levels_of(w.T, scheme)
    s = 1.0 if scheme == "differential" else 0.5
    bits = bit_planes(x, x_max)
    total = 0
    for r0 in range(0, levels.shape[0], tile_rows):
        rows = slice(r0, r0 + tile_rows)
        flat = bits[:, :, rows].reshape(-1, levels[rows].shape[0])
        y_b = signed(currents_of_tile(rows, levels[rows], flat), scheme).reshape(B, x.shape[0], -1)
        if adc is not None:
            r, adc_bits = adc
            step = 2 * r / (2 ** adc_bits - 1)
            y_b = -r + np.rint((np.clip(y_b, -r, r) + r) / step) * step
        total = total + y_b
    y = np.tensordot(2.0 ** np.arange(B), total, axes=(0, 0))
    i_min = I_MAX / ON_OFF
    return x_max / (2 ** B - 1) * np.abs(W).max() / (s * (I_MAX - i_min)) * y


def level_currents(levels):
    i_min = I_MAX / ON_OFF
    return i_min + levels * (I_MAX - i_min) / (L - 1)


def ideal_tile(rows, levels, bits):
    return bits @ level_currents(levels)


def random_layer(rng, out=5, inputs=20):
    W = rng.normal(size=(out, inputs))
    x = rng.uniform(0, 2, size=(6, inputs)) * (rng.uniform(size=(6, inputs)) < 0.7)
    return W, x


def analog_linear(W, config, mode, x_cal):
    layer = xnn.AnalogLinear(torch.tensor(W), None, config, mode=mode)
    xnn.calibrate(layer, torch.tensor(x_cal))
    return layer


@pytest.mark.parametrize("scheme", ["differential", "offset"])
def test_ideal_linear_equals_the_layer_formula(scheme):
    rng = np.random.default_rng(1)
    W, x = random_layer(rng)
    layer = analog_linear(W, sonos_config(scheme), "ideal", x)  # 20 rows -> 2 row tiles
    assert layer.x_max.item() == x.max()
    y = layer(torch.tensor(x)).numpy()
    expected = formula(W, x, x.max(), scheme, 16, ideal_tile)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    # and the layer approximates the float product (8-bit inputs and 128 levels); offset mapping
    # adds -max|W|/(L-1) per unit of input (w = 0 maps to level lround(63.5) = 64 = the reference,
    # so level k stands for w = (k - 64)/63.5, half a level below (2k/(L-1) - 1))
    bias = 0 if scheme == "differential" else -np.abs(W).max() / (L - 1) * x.sum(axis=1, keepdims=True)
    assert np.abs(y - x @ W.T - bias).max() < 0.05 * np.abs(x @ W.T).max()


def test_ideal_linear_with_adc_rounds_each_row_tile():
    rng = np.random.default_rng(2)
    W, x = random_layer(rng)
    config = sonos_config(network__adc_bits=5)
    layer = analog_linear(W, config, "ideal", x)
    # r: the largest |y^(b)| of any row tile over the calibration batch
    w = W / np.abs(W).max()
    levels, bits = levels_of(w.T, "differential"), bit_planes(x, x.max())
    r = max(np.abs(signed(bits[:, :, t] @ level_currents(levels[t]), "differential")).max()
            for t in (slice(0, 16), slice(16, 20)))
    assert layer.adc_range.item() == pytest.approx(r, rel=1e-12)
    y = layer(torch.tensor(x)).numpy()
    expected = formula(W, x, x.max(), "differential", 16, ideal_tile, adc=(r, 5))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


def test_1r_ideal_is_one_vector_of_q_over_full_scale():
    rng = np.random.default_rng(3)
    W, x = random_layer(rng)
    g_max, on_off = 1e-4, 100
    config = {"array": {"rows": 16, "cols": 8, "cell": "1r"}, "resistor": {"g_max": g_max, "on_off": on_off}}
    layer = analog_linear(W, config, "ideal", x)
    y = layer(torch.tensor(x)).numpy()
    w = W / np.abs(W).max()
    levels = levels_of(w.T, "differential")
    g = g_max / on_off + levels * (g_max - g_max / on_off) / (L - 1)
    q = np.rint(np.clip(x, 0, x.max()) / x.max() * (2 ** B - 1))
    y1 = signed((q / (2 ** B - 1)) @ (g * 0.1), "differential")
    expected = x.max() * np.abs(W).max() / (0.1 * (g_max - g_max / on_off)) * y1
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("scheme", ["differential", "offset"])
def test_exact_equals_ideal_with_an_ideal_select_and_no_line_resistance(scheme):
    rng = np.random.default_rng(4)
    W, x = random_layer(rng)
    config = sonos_config(scheme, select__model="ideal")
    ideal = analog_linear(W, config, "ideal", x)
    exact = analog_linear(W, config, "exact", x)
    y_ideal, y_exact = ideal(torch.tensor(x)).numpy(), exact(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y_exact, y_ideal, rtol=0, atol=1e-9 * np.abs(y_ideal).max())


def test_exact_with_line_resistance_equals_crossbar_solve_tile_by_tile():
    rng = np.random.default_rng(5)
    W, x = random_layer(rng)
    config = sonos_config(array__r_row=20.0, array__r_col=20.0)
    layer = analog_linear(W, config, "exact", x)
    y = layer(torch.tensor(x)).numpy()

    def solved_tile(rows, levels, bits):  # two column tiles of at most 8 physical columns
        out = []
        for c0 in range(0, levels.shape[1], 8):
            block = levels[:, c0:c0 + 8]
            tile = dict(config, array=dict(config["array"], rows=block.shape[0], cols=block.shape[1]))
            tile.pop("mapping")
            tile["weights"] = {"kind": "level"}
            out.append(xbar.Crossbar(xbar.Config(tile), weights=block).solve(bits).column_current)
        return np.hstack(out)

    expected = formula(W, x, x.max(), "differential", 16, solved_tile)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    ideal = formula(W, x, x.max(), "differential", 16, ideal_tile)
    assert np.abs(y - ideal).max() > 1e-4 * np.abs(ideal).max()  # the wires matter here


def test_conv2d_equals_linear_on_the_unfolded_input():
    torch.manual_seed(6)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, stride=2)
    x = torch.rand(2, 3, 7, 7, dtype=torch.float64)
    config = sonos_config(array__rows=16, array__cols=6)
    analog = xnn.convert(torch.nn.Sequential(conv), config, mode="ideal")
    xnn.calibrate(analog, x)
    y = analog(x)
    columns = torch.nn.functional.unfold(x, 3, padding=1, stride=2)  # [2, 27, 16]
    flat = columns.transpose(1, 2).reshape(-1, 27)
    linear = xnn.AnalogLinear(conv.weight.reshape(4, -1), conv.bias, config, mode="ideal")
    xnn.calibrate(linear, flat)
    expected = linear(flat).reshape(2, 4, 4, 4).permute(0, 3, 1, 2)
    assert y.shape == (2, 4, 4, 4) and y.dtype == torch.float64
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=0)
    float_y = conv.to(torch.float64)(x)
    assert (y - float_y).abs().max() < 0.05 * float_y.abs().max()


def test_convert_copies_and_keeps_the_callers_model():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    before = [p.clone() for p in model.parameters()]
    analog = xnn.convert(model, sonos_config(), mode="ideal")
    assert isinstance(model[0], torch.nn.Linear) and isinstance(analog[0], xnn.AnalogLinear)
    assert isinstance(analog[2], xnn.AnalogLinear) and analog[2].index == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(RuntimeError, match="calibrate"):
        analog(torch.rand(1, 4))
    x = torch.rand(5, 4, dtype=torch.float32)
    xnn.calibrate(analog, x)
    assert analog(x).dtype == torch.float32
    assert "mode=ideal" in repr(analog)
    with pytest.raises(ValueError, match="mode"):
        xnn.convert(model, sonos_config(), mode="spice")


def test_programming_error_in_both_modes_and_reproducible():
    rng = np.random.default_rng(7)
    W, x = random_layer(rng)
    config = sonos_config(select__model="ideal", variation__vt_sigma="sonos-fit", variation__seed=4)
    ideal = analog_linear(W, config, "ideal", x)
    exact = analog_linear(W, config, "exact", x)
    y_ideal, y_exact = ideal(torch.tensor(x)).numpy(), exact(torch.tensor(x)).numpy()
    np.testing.assert_allclose(y_exact, y_ideal, rtol=0, atol=1e-9 * np.abs(y_ideal).max())
    nominal = formula(W, x, x.max(), "differential", 16, ideal_tile)
    assert np.abs(y_ideal - nominal).max() > 1e-3 * np.abs(nominal).max()
    again = analog_linear(W, config, "ideal", x)(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(again, y_ideal)


def test_table_mode_follows_exact_mode_with_line_resistance(tmp_path):
    # the table built from the config (None) and from a file give the same layer; it follows the
    # exact circuit to a few % of the circuit's deviation from ideal, on a layer of two tiles
    rng = np.random.default_rng(11)
    W, x = random_layer(rng, out=6, inputs=40)
    config = sonos_config(rows=32, array__r_row=10.0, array__r_col=30.0, table__samples=2, table__vectors=2)
    y = {mode: analog_linear(W, config, mode, x)(torch.tensor(x)).numpy() for mode in ("ideal", "exact", "table")}
    deviation = np.sqrt(np.mean((y["exact"] - y["ideal"]) ** 2))
    assert deviation > 0.02 * np.sqrt(np.mean(y["ideal"] ** 2))  # the wires matter here
    assert np.sqrt(np.mean((y["table"] - y["exact"]) ** 2)) < 0.05 * deviation
    path = tmp_path / "t.h5"
    xbar.table(xnn.LayerSettings(config).config.with_overrides({}), path)
    from_file = xnn.AnalogLinear(torch.tensor(W), None, config, mode="table", table=path)
    xnn.calibrate(from_file, torch.tensor(x))
    np.testing.assert_allclose(from_file(torch.tensor(x)).numpy(), y["table"], rtol=1e-9, atol=1e-12)


def test_table_mode_refuses_a_table_of_another_circuit(tmp_path):
    config = sonos_config(array__r_col=30.0, table__samples=1, table__vectors=1)
    path = tmp_path / "other.h5"
    xbar.table(sonos_config(array__r_col=10.0, table__samples=1, table__vectors=1), path)
    with pytest.raises(ValueError, match="r_col = 10"):
        xnn.convert(torch.nn.Sequential(torch.nn.Linear(4, 3)), config, mode="table", table=path)


def test_table_mode_builds_a_config_s_table_once_per_conversion_or_per_caller_cache():
    # the layers of one model share the table built for it; a caller's dict shares it across
    # conversions of the same config; without one, each conversion builds its own
    config = sonos_config(array__r_col=10.0, table__samples=1, table__vectors=1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    tables = {}
    first = xnn.convert(model, config, mode="table", tables=tables)
    second = xnn.convert(model, config, mode="table", tables=tables)
    assert len(tables) == 1
    assert first[0].table is first[2].table is second[0].table
    assert xnn.convert(model, config, mode="table")[0].table is not first[0].table


def test_table_mode_scales_cells_by_their_programming_error():
    # with [variation] every mode uses the same programmed cells: table mode still follows exact
    rng = np.random.default_rng(12)
    W, x = random_layer(rng, out=4, inputs=24)
    config = sonos_config(rows=24, array__r_col=40.0, variation__vt_sigma="sonos-fit", variation__seed=5,
                          table__samples=1, table__vectors=2)
    y = {mode: analog_linear(W, config, mode, x)(torch.tensor(x)).numpy() for mode in ("ideal", "exact", "table")}
    deviation = np.sqrt(np.mean((y["exact"] - y["ideal"]) ** 2))
    assert deviation > 0.01 * np.sqrt(np.mean(y["ideal"] ** 2))
    assert np.sqrt(np.mean((y["table"] - y["exact"]) ** 2)) < 0.05 * deviation


def test_exact_with_the_ekv_select_differs_from_ideal_by_the_inactive_cells_leakage():
    # No line resistance: every node sits at its bias, so an active cell carries exactly its
    # isolated current (what ideal mode sums) and the column current exceeds the ideal sum by
    # the current through the inactive cells, whose select FETs are off but leak.
    rng = np.random.default_rng(8)
    rows, cols = 64, 8
    levels = rng.integers(0, L, size=(rows, cols)).astype(float)
    config = {"array": {"rows": rows, "cols": cols, "cell": "2t-sonos"}, "select": {"model": "ekv"},
              "weights": {"kind": "level"}}
    crossbar = xbar.Crossbar(config, weights=levels)
    bits = (rng.uniform(size=(5, rows)) < 0.3).astype(float)
    solved = crossbar.solve(bits, cells=True)
    ideal = bits @ np.asarray(crossbar.current_programmed)
    np.testing.assert_allclose(ideal, bits @ level_currents(levels), rtol=1e-9)
    leakage = np.einsum("vi,vij->vj", 1 - bits, solved.cell_current)
    excess = solved.column_current - ideal
    np.testing.assert_allclose(excess, leakage, rtol=0, atol=1e-9 * np.abs(ideal).max())
    # about 1e-6 of the column current at activity 0.3 with uniform levels (docs/network.md)
    assert 3e-7 < np.median(excess / ideal) < 1e-5
    # and so a layer in exact mode differs from ideal mode by about that much, not more
    W, x = random_layer(rng)
    config = sonos_config(select__model="ekv")
    y_ideal = analog_linear(W, config, "ideal", x)(torch.tensor(x)).numpy()
    y_exact = analog_linear(W, config, "exact", x)(torch.tensor(x)).numpy()
    difference = np.abs(y_exact - y_ideal).max() / np.abs(y_ideal).max()
    assert 1e-9 < difference < 1e-4


def test_variation_draws_have_the_requested_sigma_and_are_reproducible_by_seed():
    # The engine's draws as Python sees them: g_sigma as a fraction of G_max - G_min, and the
    # SONOS fit sigma_I(I) = B (1 - exp(-A I)) (A = 0.00188704 /nA, B = 39.5656 nA) at the top
    # level, where the current error is largest; n = 2000 cells, 4 standard errors allowed.
    rows, cols, g_max, on_off = 40, 50, 1e-4, 10
    n = rows * cols
    tolerance = 4 / np.sqrt(2 * n)

    def resistor(seed):
        config = {"array": {"rows": rows, "cols": cols, "cell": "1r"}, "weights": {"kind": "level"},
                  "resistor": {"g_max": g_max, "on_off": on_off}, "variation": {"g_sigma": 0.05, "seed": seed}}
        return np.asarray(xbar.Crossbar(config, weights=np.full((rows, cols), 64.0)).conductance).copy()

    g = resistor(3)
    g_nominal = g_max / on_off + 64 * (g_max - g_max / on_off) / (L - 1)
    assert np.std(g - g_nominal, ddof=1) == pytest.approx(0.05 * (g_max - g_max / on_off), rel=tolerance)
    assert abs(np.mean(g) - g_nominal) < 4 * 0.05 * (g_max - g_max / on_off) / np.sqrt(n)
    np.testing.assert_array_equal(resistor(3), g)
    assert not np.any(resistor(4) == g)

    def sonos(seed):
        config = {"array": {"rows": rows, "cols": cols, "cell": "2t-sonos"}, "weights": {"kind": "level"},
                  "variation": {"vt_sigma": "sonos-fit", "seed": seed}}
        crossbar = xbar.Crossbar(config, weights=np.full((rows, cols), L - 1.0))
        return np.asarray(crossbar.vt).copy(), np.asarray(crossbar.current_programmed).copy()

    vt, current = sonos(5)
    sigma_i = 39.5656e-9 * (1 - np.exp(-0.00188704 * I_MAX * 1e9))
    # the current is exponential in V_T: a 2.4 % relative spread widens by far less than 1 %
    assert np.std(current, ddof=1) == pytest.approx(sigma_i, rel=tolerance + 0.01)
    assert abs(np.mean(current) - I_MAX) < 4 * sigma_i / np.sqrt(n) + 1e-3 * I_MAX
    assert np.std(vt, ddof=1) > 0
    again_vt, again_current = sonos(5)
    np.testing.assert_array_equal(again_vt, vt)
    np.testing.assert_array_equal(again_current, current)
    assert not np.any(sonos(6)[0] == vt)


def test_each_tile_has_a_programming_error_draw_of_its_own():
    # Identical weights in two row tiles and two layers: different draws; the same seed again:
    # the same draws; another variation.seed: other draws.
    W = np.tile(np.random.default_rng(9).normal(size=(4, 16)), (1, 2))  # 32 rows: 2 row tiles
    config = sonos_config(variation__vt_sigma="sonos-fit", variation__seed=4)

    def programmed(config, index):
        layer = xnn.AnalogLinear(torch.tensor(W), None, config, mode="ideal", index=index)
        return [np.asarray(layer.crossbar(r, c, key).current_programmed).copy() for r, c, key in layer.tiles()]

    first = programmed(config, 0)
    assert len(first) == 2 and not np.any(first[0] == first[1])
    assert not np.any(programmed(config, 1)[0] == first[0])
    for a, b in zip(programmed(config, 0), first):
        np.testing.assert_array_equal(a, b)
    other = programmed(sonos_config(variation__vt_sigma="sonos-fit", variation__seed=5), 0)
    assert not np.any(other[0] == first[0])
