#!/usr/bin/python3
"""What the Python package costs over the engine (measures, never asserts; not a test).

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--runs 5] [--cli-runs 100]

1. A 128 x 128 1r array (r_row = r_col = 1 ohm), one input vector: the solve phase that
   build/bench/xbar_bench reports (a fresh solver's first solve), against Crossbar.solve from
   Python on a fresh Crossbar (the same first solve) and on one already used (warm).
2. The 32 x 32 1r example (examples/1r_small.toml, one vector): one Crossbar solved 1,000 times
   against `xbar solve` run --cli-runs times (scaled to 1,000): the whole run, start-up included.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import xbar

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ARRAY_128 = """[array]
rows = 128
cols = 128
cell = "1r"
r_row = 1.0
r_col = 1.0
[inputs]
count = 1
"""


def bench_solve_seconds(config, runs):
    """Median wall time of xbar_bench's solve phase."""
    times = []
    for _ in range(runs):
        out = subprocess.run([os.path.join(ROOT, "build", "bench", "xbar_bench"), config], check=True,
                             capture_output=True, text=True).stdout
        times.append(json.loads(out)["solve_s"][0])
    return statistics.median(times)


def python_solve_seconds(config, runs):
    """Median wall time of Crossbar.solve: (first solve of a fresh Crossbar, later solves)."""
    first, warm = [], []
    for _ in range(runs):
        array = xbar.Crossbar(xbar.Config(config))
        for k in range(11):
            start = time.perf_counter()
            array.solve(array.inputs)
            (first if k == 0 else warm).append(time.perf_counter() - start)
    return statistics.median(first), statistics.median(warm)


def repeated(config, solves, cli_runs):
    array = xbar.Crossbar(xbar.Config(config))
    start = time.perf_counter()
    for _ in range(solves):
        array.solve(array.inputs)
    python = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "out.h5")
        start = time.perf_counter()
        for _ in range(cli_runs):
            subprocess.run([os.path.join(ROOT, "build", "cli", "xbar"), "solve", config, "-o", out, "--quiet"],
                           check=True)
        cli = (time.perf_counter() - start) * solves / cli_runs
    return python, cli


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = os.path.join(folder, "1r_128.toml")
        with open(config, "w") as f:
            f.write(ARRAY_128)
        bench = bench_solve_seconds(config, args.runs)
        first, warm = python_solve_seconds(config, args.runs)
    print(f"128x128 1r, one vector: xbar_bench solve phase {bench * 1e3:.3f} ms; Crossbar.solve first "
          f"{first * 1e3:.3f} ms ({first / bench:.2f}x), warm {warm * 1e3:.3f} ms ({warm / bench:.2f}x)")
    python, cli = repeated(os.path.join(ROOT, "examples", "1r_small.toml"), 1000, args.cli_runs)
    print(f"32x32 1r, 1000 solves: Crossbar built once {python:.3f} s, xbar solve x1000 "
          f"(from {args.cli_runs} runs) {cli:.2f} s: {cli / python:.0f}x faster")


if __name__ == "__main__":
    main()
