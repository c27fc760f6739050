#!/usr/bin/env python3
"""Time `xbar characterize` (default grid, partials, 400 check points) on PDK-style cards with a
growing number of BSIM4 bins (written by tests/pdk_card.py): what a real PDK's 180-bin subckt
costs.

  characterize_bins.py XBAR [BINS ...]      (default: 6 60 180)
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    xbar = sys.argv[1]
    counts = [int(b) for b in sys.argv[2:]] or [6, 60, 180]
    print(f"{'bins':>5} {'card MB':>8} {'wall s':>8} {'CPU s':>7}")
    for bins in counts:
        with tempfile.TemporaryDirectory() as work:
            subprocess.run([sys.executable, os.path.join(HERE, "..", "tests", "pdk_card.py"), work, "--bins", str(bins)],
                           check=True)
            size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(work) for name in names)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([xbar, "characterize", os.path.join(work, "nch_tt.cir"), "--device", "nch", "--w", "0.42",
                            "--l", "0.15", "-q", "-o", os.path.join(work, "nch.h5")], check=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            print(f"{bins:>5} {size / 1e6:>8.2f} {wall:>8.2f} {cpu:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
