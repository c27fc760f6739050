"""The package at run time: solves release the GIL (two arrays on two threads take well under the
time of one after the other), repeated solves do not leak, Ctrl-C interrupts a long solve, table
or sweep with KeyboardInterrupt and leaves no file behind, and the NumPy example runs."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import xbar
from conftest import EXAMPLES

# Under AddressSanitizer (tests/CMakeLists.txt) time and resident memory measure the sanitizer.
SANITIZED = os.environ.get("XBAR_SANITIZED") == "1"
unsanitized = pytest.mark.skipif(SANITIZED, reason="timing and memory are the sanitizer's under ASan")

# Both lines resistive, 40 x 40 2t-sonos: each solve runs on one core (below the engine's
# threshold for splitting a vector's kernels), a few ms per vector.
PARALLEL_ARRAY = {"array": {"rows": 40, "cols": 40, "cell": "2t-sonos", "r_row": 1.0, "r_col": 1.0},
                  "inputs": {"count": 3}}


def solve_repeatedly(array, times, spans):
    for _ in range(times):
        start = time.perf_counter()
        array.solve(array.inputs)
        spans.append((start, time.perf_counter()))


def overlap(spans_a, spans_b):
    """Seconds during which a solve of each thread was running at once (0 if the GIL were held)."""
    return sum(max(0.0, min(a1, b1) - max(a0, b0)) for a0, a1 in spans_a for b0, b1 in spans_b)


@unsanitized
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_two_arrays_on_two_threads_take_under_0_7_of_one_after_the_other():
    arrays = [xbar.Crossbar(xbar.Config(PARALLEL_ARRAY, {"weights.seed": seed})) for seed in (1, 2)]
    once = []
    solve_repeatedly(arrays[0], 1, once)
    times = max(2, int(0.5 / (once[0][1] - once[0][0])))    # about 0.5 s of solving per array
    best_ratio = np.inf
    for _ in range(3):                            # the best of three: other processes share the cores
        start = time.perf_counter()
        for a in arrays:
            solve_repeatedly(a, times, [])
        serial = time.perf_counter() - start
        spans = [[], []]
        threads = [threading.Thread(target=solve_repeatedly, args=(a, times, s)) for a, s in zip(arrays, spans)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel = time.perf_counter() - start
        # Whatever the machine's load: the solves of the two threads ran at the same time.
        assert overlap(*spans) > 0.5 * parallel, "the solves did not overlap: is the GIL released?"
        best_ratio = min(best_ratio, parallel / serial)
        if best_ratio < 0.7:
            return
    if os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5:
        pytest.skip(f"machine busy (load average {os.getloadavg()[0]:.1f}): two threads took "
                    f"{best_ratio:.2f} of the serial time, the solves overlapping")
    assert best_ratio < 0.7, f"two threads took {best_ratio:.2f} of the serial time"


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@unsanitized
def test_2000_solves_leave_resident_memory_flat():
    cfg = xbar.Config({"array": {"rows": 16, "cols": 16, "cell": "1t1r", "r_col": 1.0}, "inputs": {"count": 2}})
    array = xbar.Crossbar(cfg)
    for _ in range(200):                          # warm-up: allocator pools, first-use caches
        array.solve(array.inputs, cells=True, nodes=True)
    before = resident_bytes()
    for _ in range(2000):                         # 16 KB of results each: a leak would be 32 MB
        array.solve(array.inputs, cells=True, nodes=True)
        xbar.Crossbar(cfg, weights=array.levels)
    growth = resident_bytes() - before
    assert growth < 2 << 20, f"resident memory grew by {growth / 2**20:.1f} MiB over 2000 solves"


INTERRUPTED = r"""
import os, signal, sys, threading, time
import xbar
what, out = sys.argv[1], sys.argv[2]
cfg = xbar.Config({"array": {"rows": 64, "cols": 64, "cell": "2t-sonos", "r_row": 1.0, "r_col": 1.0},
                   # a sweep stops between points (each its own job): smaller points, more of them
                   "inputs": {"count": 400 if what == "sweep" else 4000},
                   "table": {"samples": 8, "vectors": 500, "v_bl_points": 5, "v_sup_points": 5},
                   "sweep": {"inputs.seed": list(range(500))}})
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    if what == "solve":
        array = xbar.Crossbar(cfg)
        array.solve(array.inputs)
    elif what == "table":
        xbar.table(cfg, out)
    else:
        xbar.sweep(cfg, out)
except KeyboardInterrupt:
    print(f"interrupted after {time.perf_counter() - start:.2f} s")
    sys.exit(0)
print("not interrupted")
sys.exit(1)
"""


@pytest.mark.parametrize("what", ["solve", "table", "sweep"])
def test_ctrl_c_raises_keyboard_interrupt_and_leaves_no_file(what, tmp):
    script = tmp / "interrupted.py"
    script.write_text(INTERRUPTED)
    out = tmp / "out" / "result.h5"
    out.parent.mkdir()
    done = subprocess.run([sys.executable, str(script), what, str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    seconds = float(done.stdout.split()[2])
    # "not interrupted" (exit 1) would mean the whole job ran: the interrupt is what ended it. The
    # bound only catches a run that ignored the signal for long (a loaded runner takes ~10 s).
    assert seconds < (90.0 if SANITIZED else 45.0), done.stdout   # the signal came at 0.5 s
    assert list(out.parent.iterdir()) == []       # neither the output nor its temporary


def test_the_numpy_example_writes_its_plot(tmp):
    png = tmp / "plot.png"
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "numpy_weights.py"), str(png)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "output error" in done.stdout
