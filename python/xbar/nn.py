"""Analog PyTorch layers on xbar crossbars: the network-level accuracy stage.

``convert(model, config, mode)`` returns a copy of a model whose ``Linear`` and ``Conv2d`` layers
are ``AnalogLinear`` / ``AnalogConv2d``; ``calibrate(model, x)`` fixes each analog layer's input
range and ADC range on a calibration batch. One layer, weights W [out, in] (a convolution as its
im2col matrix), input x >= 0 flattened to length in (= array rows):

- w = W / max|W| over the layer, mapped to levels [in, physical cols] by the config's
  ``mapping.scheme`` (default differential) and level count (``xbar.map_weights``).
- Tiles: rows in blocks of at most ``array.rows``, physical columns in blocks of at most
  ``array.cols``; each tile is one array (``xbar.Crossbar``), with its own programming-error
  draw when the config has ``[variation]``.
- Inputs: q = round(clip(x, 0, x_max) / x_max * (2^B - 1)), B = ``network.input_bits``. Select
  cells: the bit planes b = 0..B-1 of q, one input vector each; 1r: one vector q / (2^B - 1).
- y^(b): the signed output of bit plane b (I_2j - I_2j+1, or I_j - I_ref) of each row tile; with
  ``network.adc_bits`` > 0 rounded to 2^bits levels spread uniformly over [-r, r] (clipped
  outside), r per layer from ``calibrate``; then summed over row tiles in float64.
- Select cells: y_j = x_max/(2^B - 1) * max|W| / (s (I_{L-1} - I_0)) * sum_b 2^b y_j^(b);
  1r: y_j = x_max * max|W| / (s v_read (G_{L-1} - G_0)) * y_j^(1); s = 1 (differential) or 1/2
  (offset); I_k are the level currents (SONOS), G_k v_read for resistor cells. Bias added
  digitally, the result returned in the input's dtype.

Modes: "ideal" takes each tile's column currents as the sum of its active cells' isolated
currents as programmed (``Crossbar.current_programmed``: the level currents, plus the
programming error with ``[variation]``); "exact" solves every bit plane of every tile through the
engine, the tile's vectors as one batch, tile after tile (each batch uses both cores).
"""
import copy
import math
import os
import sys
import threading
import time
import tomllib

import numpy as np
import torch
import torch.nn.functional as F

import xbar
from xbar import tables as xtables

MODES = ("ideal", "exact", "table")

__all__ = ["convert", "calibrate", "resolve_table", "AnalogLinear", "AnalogConv2d", "MODES"]


class LayerSettings:
    """What a layer reads from the config: the analog array, the mapping and the quantisation.

    The tile configs are the user's config with its [mapping] and [sweep] removed (a tile takes
    levels, not real weights), each tile's shape, and a programming-error seed of its own.
    """

    def __init__(self, config):
        self.config = config if isinstance(config, xbar.Config) else xbar.Config(config)
        # The effective config is complete (every key, defaults included) and carries the
        # derived values in [derived]: nothing is defaulted or derived again here.
        self.table = tomllib.loads(self.config.text)
        array, derived = self.table["array"], self.table["derived"]
        self.rows = int(array["rows"])
        self.cols = int(array["cols"])
        self.cell = array["cell"]
        self.scheme = self.table.get("mapping", {}).get("scheme", "differential")
        self.input_bits = int(self.table["network"]["input_bits"])
        self.adc_bits = int(self.table["network"]["adc_bits"])
        self.v_read = float(self.table["bias"]["v_read"])
        self.variation_seed = int(self.table["variation"]["seed"])
        self.levels = int(derived["levels"])
        # I_{L-1} - I_0: the level currents at full-scale input (G_k v_read for resistor cells)
        self.level_current_span = float(derived["i_max"]) - float(derived["i_min"])
        self.s = 1.0 if self.scheme == "differential" else 0.5

    @property
    def select(self):
        return self.cell != "1r"

    def circuit(self):
        """What a table must share with this config: cell (and select law), resolved line
        resistances, bias, levels."""
        array = self.table["array"]
        circuit = {"cell": self.cell, "r_row": float(array["r_row"]), "r_col": float(self.table["derived"]["r_col"]),
                   "r_driver": float(array["r_driver"]), "r_sense": float(array["r_sense"]),
                   "v_read": self.v_read, "v_sense": float(array["v_sense"]), "levels": self.levels}
        if self.select:
            circuit["select_model"] = self.table["select"]["model"]
        return circuit

    @property
    def has_variation(self):
        variation = self.table["variation"]
        return any(variation[key] not in (0, 0.0) for key in ("vt_sigma", "g_sigma"))

    def tile_config(self, rows, cols, seed):
        table = copy.deepcopy(self.table)
        for name in ("mapping", "sweep", "derived"):
            table.pop(name, None)
        table["weights"] = {"kind": "level"}
        table.setdefault("array", {}).update(rows=rows, cols=cols)
        table.setdefault("variation", {})["seed"] = seed
        return xbar.Config(table)

    def describe(self):
        return (f"{self.rows}x{self.cols} {self.cell}, {self.scheme}, {self.levels} levels, "
                f"{self.input_bits}-bit inputs, adc {self.adc_bits or 'none'}")


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"xbar.nn: mode '{mode}': expected 'ideal', 'exact' or 'table'")


def _table_config(settings):
    """The config a layer's table is built from: the layer's, without [sweep]."""
    table = copy.deepcopy(settings.table)
    table.pop("sweep", None)
    return xbar.Config(table)


def resolve_table(config, table=None, cache=None):
    """The effective-weight table of mode "table": an ``xbar.tables.Table``, a TABLE.h5 path, or
    None to build one from config with ``xbar.table`` (its [table] keys). cache: a dict the caller
    keeps, effective config text -> built table, so that a config's table is built once however
    many models are converted with it (None: build it). A table of another circuit (cell, line
    resistances, bias, levels) than config raises ValueError."""
    settings = config if isinstance(config, LayerSettings) else LayerSettings(config)
    if table is None:
        built = _table_config(settings)
        cache = {} if cache is None else cache
        if built.text not in cache:
            cache[built.text] = xbar.table(built)
        table = cache[built.text]
    elif not isinstance(table, xtables.Table):
        table = xtables.load(os.fspath(table))
    for key, expected in settings.circuit().items():
        found = table.attrs[key]
        same = found == expected if isinstance(expected, str) else math.isclose(float(found), expected, rel_tol=1e-9, abs_tol=1e-15)
        if not same:
            raise ValueError(f"xbar.nn: the table is for {key} = {found}, the config has {expected}")
    return table


def _tile_seed(base, layer, tile_row, tile_col):
    """A programming-error seed per (layer, tile), reproducible from the config's seed."""
    state = np.random.SeedSequence([base, layer, tile_row, tile_col]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))  # the config takes seeds below 2^63


class _Progress:
    """Progress and ETA on stderr, at most every 2 s, once a run has taken more than 2 s."""

    def __init__(self, label, total):
        self.label, self.total, self.done = label, total, 0
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()
        self.printed = False

    def advance(self, count):
        with self.lock:
            self.done += count
            now = time.monotonic()
            if now - self.last < 2.0 and self.done < self.total:
                return
            if now - self.start < 2.0 and not self.printed:
                return
            self.last, self.printed = now, True
            elapsed = now - self.start
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            end = "\n" if self.done >= self.total else "\r"
            print(f"xbar.nn: {self.label}: {self.done}/{self.total} vectors, {elapsed:.0f} s, "
                  f"ETA {eta:.0f} s   ", end=end, file=sys.stderr, flush=True)


class _TileCache(dict):
    """Crossbars (engine objects) built once per tile; not copied, pickled or saved."""

    def __deepcopy__(self, memo):
        return _TileCache()

    def __reduce__(self):
        return (_TileCache, ())


class _AnalogLayer(torch.nn.Module):
    """The analog matrix-vector product shared by AnalogLinear and AnalogConv2d."""

    #: vectors per engine call in exact mode (the unit of progress)
    chunk = 256

    def __init__(self, weight, bias, config, mode="exact", index=0, name="", table=None):
        super().__init__()
        _check_mode(mode)
        self.settings = LayerSettings(config)
        self.mode = mode
        self.table = resolve_table(self.settings, table) if mode == "table" else None
        self.index = index  # the layer's number in its model: part of its tiles' seeds
        self.name = name
        matrix = weight.detach().to(torch.float64).reshape(weight.shape[0], -1)
        scale = matrix.abs().max().item()
        self.register_buffer("weight", weight.detach().clone())
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.register_buffer("weight_scale", torch.tensor(scale if scale > 0 else 1.0, dtype=torch.float64))
        w = (matrix / self.weight_scale).T.numpy()  # [in, out]: rows are inputs
        self.register_buffer("levels", torch.from_numpy(
            xbar.map_weights(w, scheme=self.settings.scheme, levels=self.settings.levels)).to(torch.int32))
        self.register_buffer("x_max", torch.tensor(float("nan"), dtype=torch.float64))
        self.register_buffer("adc_range", torch.tensor(float("nan"), dtype=torch.float64))
        self.calibrating = False
        self._crossbars = _TileCache()

    # -- tiles -------------------------------------------------------------------------------

    @property
    def in_features(self):
        return self.levels.shape[0]

    def tiles(self):
        """(row slice, physical-column slice, (tile row, tile col)) of every tile."""
        rows, cols = self.levels.shape
        for tr, r0 in enumerate(range(0, rows, self.settings.rows)):
            for tc, c0 in enumerate(range(0, cols, self.settings.cols)):
                yield (slice(r0, min(r0 + self.settings.rows, rows)),
                       slice(c0, min(c0 + self.settings.cols, cols)), (tr, tc))

    def crossbar(self, row_slice, col_slice, key):
        if key not in self._crossbars:
            levels = self.levels[row_slice, col_slice].numpy().astype(np.float64)
            seed = _tile_seed(self.settings.variation_seed, self.index, *key)
            config = self.settings.tile_config(levels.shape[0], levels.shape[1], seed)
            self._crossbars[key] = xbar.Crossbar(config, weights=levels)
        return self._crossbars[key]

    def array_model(self, row_slice, col_slice, key):
        """The table method of a tile (xbar.tables.ArrayModel), built once; with [variation] each
        cell's current scaled by its programmed over its nominal isolated current, and its leakage
        that of its programmed weight."""
        cache_key = ("table", key)
        if cache_key not in self._crossbars:
            levels = self.levels[row_slice, col_slice].numpy().astype(np.intp)
            scale = weight = None
            if self.settings.has_variation:
                crossbar = self.crossbar(row_slice, col_slice, key)
                scale = np.asarray(crossbar.current_programmed) / self.table.device_current[levels]
                weight = np.asarray(crossbar.vt if self.settings.cell == "2t-sonos" else crossbar.conductance)
            self._crossbars[cache_key] = xtables.ArrayModel(self.table, levels, cell_scale=scale, cell_weight=weight)
        return self._crossbars[cache_key]

    # -- the product -------------------------------------------------------------------------

    def input_vectors(self, x, planes=True, bits=np.float64):
        """Input vectors [planes, n, in] from x [n, in] (float64): bit planes (of type bits), or
        q/(2^B-1); with planes=False (select cells) q itself, one plane of weight 1."""
        top = 2 ** self.settings.input_bits - 1
        q = np.rint(np.clip(x, 0.0, self.x_max.item()) / self.x_max.item() * top).astype(np.int64)
        if not self.settings.select:
            return (q / top)[None]
        if not planes:
            return q[None].astype(np.float64)
        vectors = np.empty((self.settings.input_bits,) + q.shape, bits)
        for b, plane in enumerate(vectors):
            plane[...] = (q >> b) & 1
        return vectors

    def signed(self, currents):
        """Section-7 outputs [..., out] from physical column currents [..., physical cols]."""
        if self.settings.scheme == "differential":
            return currents[..., 0::2] - currents[..., 1::2]
        return currents[..., :-1] - currents[..., -1:]

    def column_currents(self, vectors, mode):
        """Physical column currents per row tile: {tile row: [planes, n, physical cols]}."""
        planes, n, _ = vectors.shape
        out = {}
        jobs = []
        for row_slice, col_slice, key in self.tiles():
            block = out.setdefault(key[0], np.empty((planes, n, self.levels.shape[1])))  # every column written
            tile_in = vectors[:, :, row_slice].reshape(planes * n, -1)
            jobs.append((row_slice, col_slice, key, tile_in, block))
        if mode == "ideal":
            for row_slice, col_slice, key, tile_in, block in jobs:
                programmed = np.asarray(self.crossbar(row_slice, col_slice, key).current_programmed)
                block[:, :, col_slice] = (tile_in @ programmed).reshape(planes, n, -1)
        elif mode == "table":
            for row_slice, col_slice, key, tile_in, block in jobs:
                model = self.array_model(row_slice, col_slice, key)
                model.column_currents(tile_in, out=block.reshape(planes * n, -1)[:, col_slice])
        else:
            self.solve_tiles(jobs, planes, n)
        return out

    def solve_tiles(self, jobs, planes, n):
        """Exact mode: each tile's distinct input vectors solved by the engine, tile after tile."""
        work = []
        for row_slice, col_slice, key, tile_in, block in jobs:
            unique, inverse = np.unique(tile_in, axis=0, return_inverse=True)
            work.append((row_slice, col_slice, key, unique, inverse.reshape(-1), block))
        progress = _Progress(f"{self.name or type(self).__name__} exact", sum(len(w[3]) for w in work))

        def run(item):
            row_slice, col_slice, key, unique, inverse, block = item
            crossbar = self.crossbar(row_slice, col_slice, key)
            currents = np.empty((len(unique), col_slice.stop - col_slice.start))
            for start in range(0, len(unique), self.chunk):
                part = unique[start:start + self.chunk]
                currents[start:start + len(part)] = crossbar.solve(part).column_current
                progress.advance(len(part))
            block[:, :, col_slice] = currents[inverse].reshape(planes, n, -1)

        for item in work:  # one at a time: each batch already keeps both cores busy
            run(item)

    def adc(self, y):
        """Rounds y to 2^adc_bits levels spread uniformly over [-r, r], clipping outside."""
        bits = self.settings.adc_bits
        if bits == 0 or self.calibrating:
            return y
        r = self.adc_range.item()
        step = 2 * r / (2 ** bits - 1)
        return -r + np.rint((np.clip(y, -r, r) + r) / step) * step

    def matmul(self, x):
        """The analog product of x [n, in] (float64 numpy): y [n, out] before bias."""
        if self.calibrating:
            top = float(np.max(x)) if x.size else 0.0
            self.x_max.fill_(top if top > 0 else 1.0)
        elif math.isnan(self.x_max.item()):
            raise RuntimeError("xbar.nn: layer not calibrated: run xbar.nn.calibrate(model, x) first")
        mode = "ideal" if self.calibrating else self.mode
        st = self.settings
        # Ideal mode without ADC is linear in the input: sum_b 2^b (bits_b @ I) = q @ I, one
        # product instead of B (equal to rounding)
        planes = not (mode == "ideal" and not self.calibrating and st.adc_bits == 0)
        # table mode reads its bit planes as bytes (the method only asks which rows are active)
        vectors = self.input_vectors(x, planes, np.uint8 if mode == "table" else np.float64)
        per_tile = [self.signed(c) for c in self.column_currents(vectors, mode).values()]
        if self.calibrating:  # r: the largest |y^(b)| of any row tile
            self.adc_range.fill_(max(float(np.max(np.abs(y))) for y in per_tile) or 1e-30)
        y_planes = sum(self.adc(y) for y in per_tile)
        weights = 2.0 ** np.arange(st.input_bits) if st.select and planes else np.ones(1)
        total = np.tensordot(weights, y_planes, axes=(0, 0))
        gain = self.x_max.item() / (2 ** st.input_bits - 1) if st.select else self.x_max.item()
        return total * gain * self.weight_scale.item() / (st.s * st.level_current_span)

    def finish(self, y, like):
        out = torch.from_numpy(y)
        if self.bias is not None:
            out = out + self.bias.to(torch.float64)
        return out.to(like.dtype)

    def extra_repr(self):
        calibrated = "" if math.isnan(self.x_max.item()) else f", x_max={self.x_max.item():.4g}"
        return f"mode={self.mode}, {self.settings.describe()}{calibrated}"


class AnalogLinear(_AnalogLayer):
    """``torch.nn.Linear`` on crossbar tiles (see the module's description)."""

    def __init__(self, weight, bias, config, mode="exact", index=0, name="", table=None):
        super().__init__(weight, bias, config, mode, index, name, table)
        self.out_features = weight.shape[0]

    @classmethod
    def from_linear(cls, layer, config, mode="exact", index=0, name="", table=None):
        return cls(layer.weight, layer.bias, config, mode, index, name, table)

    def forward(self, x):
        flat = x.detach().reshape(-1, x.shape[-1]).to(torch.float64).numpy()
        y = self.matmul(flat)
        return self.finish(y, x).reshape(*x.shape[:-1], self.out_features)


class AnalogConv2d(_AnalogLayer):
    """``torch.nn.Conv2d`` (groups = 1, zero padding) as its im2col matrix on crossbar tiles:
    the same as ``AnalogLinear`` on ``torch.nn.functional.unfold`` of the input."""

    def __init__(self, weight, bias, config, mode="exact", index=0, name="", stride=1, padding=0, dilation=1,
                 table=None):
        super().__init__(weight, bias, config, mode, index, name, table)
        self.out_channels, self.kernel_size = weight.shape[0], tuple(weight.shape[2:])
        self.stride, self.padding, self.dilation = stride, padding, dilation

    @classmethod
    def from_conv(cls, layer, config, mode="exact", index=0, name="", table=None):
        if layer.groups != 1 or layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise ValueError(f"xbar.nn: {name or 'Conv2d'}: only groups=1 with numeric zero padding is supported")
        return cls(layer.weight, layer.bias, config, mode, index, name, layer.stride, layer.padding, layer.dilation,
                   table)

    def forward(self, x):
        n, _, height, width = x.shape
        columns = F.unfold(x.detach().to(torch.float64), self.kernel_size, dilation=self.dilation,
                           padding=self.padding, stride=self.stride)  # [n, in, positions]
        positions = columns.shape[2]
        flat = columns.transpose(1, 2).reshape(n * positions, -1).numpy()
        y = self.finish(self.matmul(flat), x)  # [n * positions, out]
        out_h = _output_size(height, self.kernel_size[0], self.stride, self.padding, self.dilation, 0)
        out_w = _output_size(width, self.kernel_size[1], self.stride, self.padding, self.dilation, 1)
        return y.reshape(n, out_h, out_w, self.out_channels).permute(0, 3, 1, 2).contiguous()


def _output_size(size, kernel, stride, padding, dilation, axis):
    pick = lambda v: v[axis] if isinstance(v, (tuple, list)) else v
    return (size + 2 * pick(padding) - pick(dilation) * (kernel - 1) - 1) // pick(stride) + 1


def convert(model, config, mode="exact", table=None, tables=None):
    """A copy of model with every Linear and Conv2d replaced by its analog layer (the caller's
    model is untouched). config: an ``xbar.Config`` or what ``xbar.Config`` takes. mode:
    "ideal", "exact" or "table"; table (mode "table"): an ``xbar.tables.Table``, a TABLE.h5 path,
    or None to build one from config, once for all the model's layers (they share it).
    tables: a dict the caller keeps to build each config's table once across conversions (see
    resolve_table); without it each conversion builds its own. No table outlives the objects
    that hold it: nothing is kept at module level."""
    _check_mode(mode)
    config = config if isinstance(config, xbar.Config) else xbar.Config(config)
    if mode == "table":
        table = resolve_table(config, table, tables)
    converted = copy.deepcopy(model)
    counter = [0]

    def replace(parent, prefix):
        for child_name, child in parent.named_children():
            name = f"{prefix}{child_name}"
            if isinstance(child, torch.nn.Linear):
                setattr(parent, child_name, AnalogLinear.from_linear(child, config, mode, counter[0], name, table))
                counter[0] += 1
            elif isinstance(child, torch.nn.Conv2d):
                setattr(parent, child_name, AnalogConv2d.from_conv(child, config, mode, counter[0], name, table))
                counter[0] += 1
            else:
                replace(child, name + ".")

    replace(converted, "")
    return converted


def analog_layers(model):
    """The model's analog layers, in module order."""
    return [m for m in model.modules() if isinstance(m, _AnalogLayer)]


@torch.no_grad()
def calibrate(model, x):
    """Runs the calibration batch x through model in ideal mode, without ADC, and fixes each
    analog layer's x_max (the largest value of its input over the batch) and ADC range r (the
    largest |y^(b)| of its tiles over the batch). Returns model."""
    layers = analog_layers(model)
    for layer in layers:
        layer.calibrating = True
    try:
        model(x)
    finally:
        for layer in layers:
            layer.calibrating = False
    return model
