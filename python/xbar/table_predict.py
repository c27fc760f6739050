#!/usr/bin/env python3
"""Predicts the column currents of an `xbar solve` output from an effective-weight table and
prints the prediction errors against the full solve.

    PYTHONPATH=build/python /usr/bin/python3 -m xbar.table_predict TABLE.h5 SOLVE.h5 [--method response]

Errors are (predicted - solved) / solved per (input vector, physical column), over the columns
whose ideal current exceeds 1e-3 of the largest; "ideal" is the no-parasitics prediction.
Exit status: 0, or 2 when a file does not fit (missing datasets, a different array size).
"""

import argparse
import sys
import time

import h5py
import numpy as np

from xbar import tables as xbar_tables


def read_solve(path):
    """(levels [rows, cols], inputs [count, rows], column currents and their ideal [count, cols])
    of a solve."""
    with h5py.File(path, "r") as f:
        if "/weights/level" not in f:
            raise ValueError(f"{path}: no /weights/level (the table predicts arrays given as levels)")
        return (f["/weights/level"][()], f["/inputs"][()], f["/columns/current"][()],
                f["/columns/current_ideal"][()])


def geometry_mismatch(table, path):
    """Array keys of the solve's config (root attribute `config`) that differ from the table's.
    The config is complete (every key, defaults included), with the resolved bit-line resistance
    in [derived]; a file without them (an older xbar) is not compared."""
    try:
        import tomllib
    except ImportError:      # Python < 3.11: no TOML reader in the standard library
        return []
    with h5py.File(path, "r") as f:
        text = f["config"][()] if "config" in f else f.attrs.get("config")
    if text is None:
        return []
    config = tomllib.loads(text.decode() if isinstance(text, bytes) else text)
    array, derived = config.get("array", {}), config.get("derived", {})
    if "r_col" not in derived:
        return []
    solved = {key: array[key] for key in ("r_row", "r_driver", "r_sense", "v_sense", "cell")}
    solved["r_col"] = derived["r_col"]
    solved["v_read"] = config["bias"]["v_read"]
    return [f"{key} = {value} (table: {table.attrs[key]})" for key, value in solved.items()
            if (value != table.attrs[key] if key == "cell" else
                not np.isclose(float(value), float(table.attrs[key]), rtol=1e-12, atol=0))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="TABLE.h5 from `xbar table`")
    parser.add_argument("solve", help="SOLVE.h5 from `xbar solve` (same array geometry)")
    parser.add_argument("--method", choices=["response", "correction", "all"], default="all",
                        help="prediction method(s) to report (default: all)")
    args = parser.parse_args(argv)
    try:
        table = xbar_tables.load(args.table)
        levels, inputs, solved, solved_ideal = read_solve(args.solve)
        for difference in geometry_mismatch(table, args.solve):
            print(f"xbar.table_predict: warning: {args.solve} solved {difference}", file=sys.stderr)
        predictions = {"ideal": lambda: xbar_tables.ideal(table, levels, inputs)}
        for method in (["response", "correction"] if args.method == "all" else [args.method]):
            predictions[method] = lambda m=method: xbar_tables.predict(table, levels, inputs, method=m)
        results = {}
        for name, run in predictions.items():
            start = time.perf_counter()
            current = run()
            results[name] = (*xbar_tables.column_errors(current, solved, solved_ideal), time.perf_counter() - start)
    except (OSError, KeyError, ValueError) as e:
        print(f"xbar.table_predict: error: {e}", file=sys.stderr)
        return 2
    print(f"{table.rows} x {table.cols} {table.attrs['cell']} array, {len(inputs)} input vector(s); "
          f"relative column-current error against {args.solve}:")
    print(f"  {'prediction':<12} {'rms':>11} {'max':>11} {'time (s)':>9}")
    for name, (rms, largest, seconds) in results.items():
        print(f"  {name:<12} {rms:11.3e} {largest:11.3e} {seconds:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
