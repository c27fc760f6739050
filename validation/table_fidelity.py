#!/usr/bin/python3
"""Fidelity of the effective-weight tables: for each case, build a table with
`xbar table` (timed), solve NEW random arrays and input sets with `xbar solve` (seeds no table
sample uses), and compare the column currents predicted by xbar.tables (python/xbar/tables.py) with the
solved ones. Pass: the RMS relative column-current error of the table prediction (method "response",
the default) is at least 10x below that of the ideal prediction, in every case.

    bash validation/table_fidelity.sh              # builds xbar first
    /usr/bin/python3 validation/table_fidelity.py --xbar build/cli/xbar [--cases 256c,1152]

Errors are (predicted - solved) / solved over every (array, input vector, physical column) whose
ideal current is above 1e-3 of the largest (xbar.tables.column_errors). Outputs (tables, solves, fidelity.txt) go to --out.
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
from xbar import tables as xbar_tables  # noqa: E402  (PYTHONPATH=build/python)

SONOS = ["array.cell=2t-sonos", "array.cols=64"]
# name: (description, array keys, table keys). The 1152-row table draws 8 arrays instead of 32:
# 4.5x the cells per array, about the same number of active-cell samples as the 256-row ones.
CASES = {
    "256c": ("2t-sonos 256x64, r_col = 2 ohm, r_row = 0",
             SONOS + ["array.rows=256", "array.r_col=2", "array.r_row=0"], []),
    "256rc": ("2t-sonos 256x64, r_row = r_col = 2 ohm",
              SONOS + ["array.rows=256", "array.r_col=2", "array.r_row=2"], []),
    "1152": ("2t-sonos 1152x64, r_row = r_col = 1 ohm",
             SONOS + ["array.rows=1152", "array.r_col=1", "array.r_row=1"], ["table.samples=8"]),
    "1152lap": ("2t-sonos 1152x64, r_row = r_col = 1 ohm, laplace weights, activity 0.2",
                SONOS + ["array.rows=1152", "array.r_col=1", "array.r_row=1",
                         "weights.distribution=laplace", "inputs.activity=0.2"],
                ["table.samples=8"]),
}
METHODS = ("ideal", "response", "correction")


def sets(keys):
    return [arg for key in keys for arg in ("--set", key)]


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def build_table(xbar, out_dir, name, array_keys, table_keys):
    path = os.path.join(out_dir, f"table_{name}.h5")
    start = time.perf_counter()
    run([xbar, "table", *sets(array_keys + table_keys), "-o", path, "--quiet"])
    return path, time.perf_counter() - start


def solve_arrays(xbar, out_dir, name, array_keys, arrays, vectors, workers):
    """Solves arrays with seeds 10000+k (weights) and 20000+k (inputs), k < arrays, in parallel."""
    def solve(k):
        path = os.path.join(out_dir, f"solve_{name}_{k:02d}.h5")
        seeds = [f"weights.seed={10000 + k}", f"inputs.seed={20000 + k}", f"inputs.count={vectors}"]
        run([xbar, "solve", *sets(array_keys + seeds), "-o", path, "--quiet"])
        return path
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        paths = list(pool.map(solve, range(arrays)))
    return paths, time.perf_counter() - start


def compare(table_path, solve_paths):
    """Pooled (rms, max) relative error and seconds per method over every solve."""
    table = xbar_tables.load(table_path)
    predicted = {m: [] for m in METHODS}
    seconds = dict.fromkeys(METHODS, 0.0)
    solved, solved_ideal = [], []
    for path in solve_paths:
        with h5py.File(path, "r") as f:
            levels, inputs = f["/weights/level"][()], f["/inputs"][()]
            solved.append(f["/columns/current"][()])
            solved_ideal.append(f["/columns/current_ideal"][()])
        for m in METHODS:
            start = time.perf_counter()
            predicted[m].append(xbar_tables.ideal(table, levels, inputs) if m == "ideal" else
                                xbar_tables.predict(table, levels, inputs, method=m))
            seconds[m] += time.perf_counter() - start
    solved, solved_ideal = np.concatenate(solved), np.concatenate(solved_ideal)
    return {m: (*xbar_tables.column_errors(np.concatenate(predicted[m]), solved, solved_ideal), seconds[m])
            for m in METHODS}, table


def report_case(name, description, table, build_seconds, solve_seconds, errors, arrays, vectors):
    lines = [f"== {name}: {description}",
             f"   table: {int(table.attrs['samples'])} arrays x {int(table.attrs['vectors'])} vectors, "
             f"{int(table.attrs['cells'])} active cells, built in {build_seconds:.1f} s wall "
             f"(elapsed_time {table.attr('elapsed_time'):.1f} s)",
             f"   test: {arrays} new arrays x {vectors} vectors solved in {solve_seconds:.1f} s wall",
             f"   {'prediction':<11} {'rms rel err':>12} {'max rel err':>12} {'ideal/this':>11} {'time (s)':>9}"]
    ideal_rms = errors["ideal"][0]
    for m in METHODS:
        rms, largest, seconds = errors[m]
        lines.append(f"   {m:<11} {rms:12.3e} {largest:12.3e} {ideal_rms / rms:11.1f} {seconds:9.2f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--xbar", default=os.path.join(HERE, "..", "build", "cli", "xbar"))
    parser.add_argument("--out", default="table_fidelity")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated: {', '.join(CASES)}")
    parser.add_argument("--arrays", type=int, default=20, help="new random arrays per case")
    parser.add_argument("--vectors", type=int, default=4, help="input vectors per new array")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel solves")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    report, passed = [], True
    for name in args.cases.split(","):
        description, array_keys, table_keys = CASES[name]
        print(f"{name}: building the table ...", file=sys.stderr, flush=True)
        table_path, build_seconds = build_table(args.xbar, args.out, name, array_keys, table_keys)
        print(f"{name}: solving {args.arrays} new arrays ...", file=sys.stderr, flush=True)
        solve_paths, solve_seconds = solve_arrays(args.xbar, args.out, name, array_keys, args.arrays,
                                                  args.vectors, args.workers)
        errors, table = compare(table_path, solve_paths)
        report.append(report_case(name, description, table, build_seconds, solve_seconds, errors,
                                  args.arrays, args.vectors))
        print(report[-1], flush=True)
        passed &= errors["response"][0] * 10 <= errors["ideal"][0]
    verdict = "PASS: table (response) error >= 10x below ideal in every case" if passed else "FAIL"
    with open(os.path.join(args.out, "fidelity.txt"), "w") as f:
        f.write("\n".join(report + [verdict, ""]))
    print(verdict)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
