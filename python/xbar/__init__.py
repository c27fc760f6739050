"""xbar: circuit-level solver for analog in-memory-computing crossbars, in process.

The same C++ engine as the ``xbar`` command line: every number is computed there, and every
error carries the command line's one-line message.

    import numpy as np
    import xbar

    cfg = xbar.Config({"array": {"cell": "1r", "r_hat_p": 1e-5}, "mapping": {"scheme": "differential"}})
    w = np.random.default_rng(0).uniform(-1, 1, (64, 16))    # real weights [rows, outputs]
    array = xbar.Crossbar(cfg, weights=w)                     # circuit and solver built once
    result = array.solve(np.full((1, 64), 0.5))               # inputs [count, rows]
    result.output, result.output_ideal                        # [count, outputs] (A)

Names: Config, Crossbar, Result, CheckResult, map_weights, table, sweep, check, and the
exceptions InputError (a ValueError), NoSolutionError and SpiceError. Reference: docs/python.md.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from . import _core
from ._core import InputError, NoSolutionError, SpiceError

__all__ = ["Config", "Crossbar", "Result", "CheckResult", "map_weights", "table", "sweep", "check",
           "InputError", "NoSolutionError", "SpiceError"]

InputError.__module__ = NoSolutionError.__module__ = SpiceError.__module__ = "xbar"

ArrayLike = Any  # anything numpy.asarray takes
Source = Union[str, os.PathLike, Mapping, "Config", None]
Overrides = Union[Mapping[str, Any], Iterable[str], None]


def _override_lines(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [_core.override_text(str(key), value) for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return [str(line) for line in overrides]


def _forward(**docs: str):
    """Class decorator: read-only properties returning the engine object's attribute of each name."""
    def decorate(cls):
        for name, doc in docs.items():
            setattr(cls, name, property(lambda self, attribute=name: getattr(self._impl, attribute), doc=doc))
        return cls
    return decorate


def _is_path(source: str) -> bool:
    """A string names a file (or a folder, an error) if it is one line and either exists or ends
    in .toml; anything else is TOML text."""
    return "\n" not in source and (source.endswith(".toml") or os.path.exists(source))


@_forward(text="effective TOML (overrides applied)", name="file path, '<string>', '<dict>' or the embedded name",
          rows="array.rows", cols="array.cols (logical outputs with a mapping)", physical_cols="columns of the array",
          cell='"1r", "1t1r" or "2t-sonos"', mapping='"" or "differential" or "offset"',
          levels="programmable levels of the cell", weights_kind="level, vt, conductance or real",
          v_read="read voltage (V)")
class Config:
    """A validated array configuration, as the command line reads it.

    Config(source=None, overrides=None)

    source: a TOML file path (str or os.PathLike), TOML text, a dict (sections as nested dicts,
        or dotted keys: {"array.rows": 32}), another Config, or None for the embedded default
        study (examples/default_study.toml, what ``xbar solve`` without CONFIG uses).
    overrides: {"array.rows": 32, "array.cell": "1r"}, the same as ``--set array.rows=32
        --set array.cell=1r`` (or a list of such "key=value" strings; values are TOML).

    Unknown keys (with a did-you-mean), wrong types and out-of-range values raise InputError with
    the command line's message. Read-only attributes: text (the complete effective TOML, overrides
    applied, defaults and the [derived] values included),
    name (the path or "<string>", "<dict>"), rows, cols (logical outputs with a mapping),
    physical_cols, cell ("1r", "1t1r", "2t-sonos"), mapping ("" or the scheme), levels,
    weights_kind, v_read (V).
    """

    def __init__(self, source: Source = None, overrides: Overrides = None):
        lines = _override_lines(overrides)
        if isinstance(source, Config):
            text, name, lines = source._impl.source_text, source._impl.name, source._impl.overrides + lines
        elif source is None:
            text, name = _core.default_study()
        elif isinstance(source, Mapping):
            text, name = _core.toml_text(dict(source)), "<dict>"
        elif isinstance(source, os.PathLike) or (isinstance(source, str) and _is_path(source)):
            name = os.fspath(source)
            text = _core.read_config_text(name)
        elif isinstance(source, str):
            text, name = source, "<string>"
        else:
            raise TypeError(f"Config source: expected a path, TOML text, a dict or None, got {type(source).__name__}")
        self._impl = _core.Config(text, name, lines)

    def with_overrides(self, overrides: Overrides) -> "Config":
        """A new Config: this one with more overrides applied (like more --set flags)."""
        return Config(self, overrides)

    def __repr__(self) -> str:
        return (f"xbar.Config({self.name!r}: {self.rows} x {self.physical_cols} {self.cell}"
                f"{', mapping ' + self.mapping if self.mapping else ''})")


def _config(config: Union[Config, Source]) -> Config:
    return config if isinstance(config, Config) else Config(config)


@dataclass(frozen=True)
class Result:
    """The solution of a batch of input vectors (Crossbar.solve). Currents in A, voltages in V.

    column_current, column_current_ideal: [count, physical cols], into each column's sense
        source; the ideal is the same array without line resistance, each active cell at its
        isolated current.
    output, output_ideal: [count, logical cols] signed outputs with a mapping (differential:
        I_2j - I_2j+1; offset: I_j - I_ref), else None.
    cell_current, cell_current_ideal: [count, rows, cols] with cells=True, else None.
    v_row, v_col: [count, rows, cols] row- and bit-line voltage at each cell with nodes=True.
    newton_iterations, linear_iterations: over every vector; method: the methods used
        ("newton", or with fallbacks "newton,gmin-stepping"); backend: "grid", "klu" or "lines";
        max_residual (A); solve_time (s, wall clock).
    """
    column_current: np.ndarray
    column_current_ideal: np.ndarray
    output: Optional[np.ndarray]
    output_ideal: Optional[np.ndarray]
    cell_current: Optional[np.ndarray]
    cell_current_ideal: Optional[np.ndarray]
    v_row: Optional[np.ndarray]
    v_col: Optional[np.ndarray]
    newton_iterations: int
    linear_iterations: int
    method: str
    backend: str
    max_residual: float
    solve_time: float

    def __repr__(self) -> str:
        count, cols = self.column_current.shape
        return (f"xbar.Result({count} vector(s) x {cols} columns, {self.method}, {self.backend}, "
                f"{self.newton_iterations} Newton iterations, {self.solve_time:.3g} s)")


@_forward(levels="[rows, physical cols] levels, or None",
          vt="[rows, physical cols] V_T (V) of 2t-sonos cells, or None",
          conductance="[rows, physical cols] conductance (S) of resistor cells, or None",
          weights="[rows, logical cols] real weights (with a mapping), or None",
          inputs="the config's input vectors [count, rows]", rows="rows of the array",
          cols="array.cols (logical outputs with a mapping)", physical_cols="columns of the array",
          backend='solver backend: "grid", "klu" or "lines"',
          current_programmed="[rows, physical cols] isolated current (A) of every cell as programmed "
                             "([variation]'s error included) at nominal bias: row at v_read, bit line at "
                             "v_sense, select on")
class Crossbar:
    """One crossbar array: its circuit and solver, built once, solved for any input vectors.

    Crossbar(config, weights=None)

    config: a Config (or anything Config() takes).
    weights: None (the config's [weights]: random or from a file), or a 2-D array of the kind
        the config's weights.kind names: "level" (integers 0..levels-1), "vt" (V, 2t-sonos) or
        "conductance" (S, resistor cells), [rows, physical cols]; or with a [mapping] section
        "real", [rows, logical cols] in [-1, 1]. array.rows and array.cols come from the
        array's shape unless the config sets them (then they must agree).

    Any integer, boolean or float array is taken (C-contiguous float64 without conversion).
    A wrong dtype, shape or value raises InputError naming the argument, its shape and what was
    expected. Solving releases the GIL: Crossbar objects solve in parallel from Python threads.

    Attributes (read-only NumPy arrays shared with the engine): levels [rows, physical cols]
    (None when the weights were physical), vt (2t-sonos) or conductance (resistor cells), the
    other None; weights (the real matrix with a mapping, else None); inputs (the config's input
    vectors, [count, rows]); current_programmed (each cell's isolated current as programmed,
    [rows, physical cols]); rows, cols (logical), physical_cols, backend, config.
    """

    def __init__(self, config: Union[Config, Source], weights: Optional[ArrayLike] = None):
        self.config = _config(config)
        self._impl = _core.Crossbar(self.config._impl, weights)

    def solve(self, inputs: ArrayLike, cells: bool = False, nodes: bool = False) -> Result:
        """Solves the array for every input vector.

        inputs: [count, rows] (a 1-D array is one vector): bits (0 or 1) for select cells, each
            row's select gate on or off; reals for 1r cells, row i driven at inputs[i] * v_read.
        cells: also return cell_current and cell_current_ideal [count, rows, cols].
        nodes: also return v_row and v_col [count, rows, cols].

        Each vector is warm-started from an earlier solution in an order fixed by the batch
        alone (docs/python.md): the same bits from run to run. Ctrl-C stops the solve between
        vectors (KeyboardInterrupt). Raises InputError for bad inputs and
        NoSolutionError when Newton and its fallbacks fail (the message names the vector, the
        methods tried and the worst node).
        """
        return Result(**self._impl.solve(inputs, cells, nodes))

    def __repr__(self) -> str:
        return f"xbar.Crossbar({self.rows} x {self.physical_cols} {self.config.cell}, {self.backend})"


def map_weights(w: ArrayLike, scheme: str = "differential", levels: int = 128) -> np.ndarray:
    """Levels [rows, physical cols] (float64 integers) of a real matrix w [rows, cols] in [-1, 1].

    differential: column 2j = round(max(w, 0) (L-1)), column 2j+1 = round(max(-w, 0) (L-1));
    offset: column j = round((w + 1) / 2 (L-1)), plus a last reference column at level L/2.
    Rounding is half away from zero; the engine's own mapping ([mapping] in a config).
    """
    return _core.map_weights(w, scheme, levels)


def table(config: Union[Config, Source], path: Optional[Union[str, os.PathLike]] = None):
    """``xbar table`` in process: effective-weight tables from full solves of random arrays.

    Writes TABLE.h5 to path (atomically: nothing is left behind on an error or Ctrl-C) if given,
    else to a temporary file, and returns it read back as an xbar.tables.Table (its predict()
    gives column currents from levels and inputs without solving circuits).
    """
    from . import tables
    return _written(lambda out: _core.write_table(_config(config)._impl, out), path, "table.h5", tables.load)


def sweep(config: Union[Config, Source], path: Optional[Union[str, os.PathLike]] = None, threads: int = 0):
    """``xbar sweep`` in process: every point of the config's [sweep] table, scored.

    Writes SWEEP.h5 to path (atomically) if given, else to a temporary file, and returns it read
    back as an xbar.sweepfile.Sweep (axes, and each metric as an array over the axes). threads:
    points solved in parallel (0: one per core).
    """
    from . import sweepfile
    return _written(lambda out: _core.write_sweep(_config(config)._impl, out, threads), path, "sweep.h5",
                    sweepfile.load)


def _written(write, path, name, load):
    if path is not None:
        write(os.fspath(path))
        return load(os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="xbar-") as folder:
        out = os.path.join(folder, name)
        write(out)
        return load(out)


@dataclass(frozen=True)
class CheckResult:
    """The comparison of ``xbar check`` (xbar against ngspice on the same circuit).

    passed: max_rel_diff <= tolerance. max_rel_diff: max over vectors of
    max_j |I_xbar - I_spice| / max_j |I_spice|; max_abs_diff (A); max_col_rel_diff over the
    columns whose ideal current exceeds 1e-3 of the largest (counted_columns); max_node_diff
    (V) over every circuit node; vectors: the same figures per input vector (dicts);
    column_current, column_current_ideal, column_current_spice [count, cols] (A); xbar_time,
    spice_time (s).
    """
    passed: bool
    tolerance: float
    max_rel_diff: float
    max_abs_diff: float
    max_col_rel_diff: float
    counted_columns: int
    max_node_diff: float
    vectors: list = field(repr=False)
    column_current: np.ndarray = field(repr=False)
    column_current_ideal: np.ndarray = field(repr=False)
    column_current_spice: np.ndarray = field(repr=False)
    xbar_time: float = 0.0
    spice_time: float = 0.0


def check(config: Union[Config, Source], path: Optional[Union[str, os.PathLike]] = None,
          tolerance: Optional[float] = None) -> CheckResult:
    """``xbar check`` in process: solve with xbar and with ngspice (libngspice), compare.

    tolerance: default check.tolerance. path: also write the check file (what ``xbar check -o``
    writes), whether the check passes or not. Raises SpiceError if ngspice fails, InputError
    for arrays above check.max_cells.
    """
    out = None if path is None else os.fspath(path)
    return CheckResult(**_core.check(_config(config)._impl, out, tolerance))
