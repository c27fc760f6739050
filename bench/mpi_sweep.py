#!/usr/bin/python3
"""MPI scaling of `xbar sweep` on this machine, and the cost of the MPI path. A benchmark, never a
test: it measures and prints (and, with --markdown FILE, writes the tables); it asserts nothing.

1. Heterogeneous points (a 16-row linear array next to 1024-row nonlinear ones: costs differ by
   orders of magnitude): the threaded path on one core (taskset), then mpirun -n 1 and -n 2 with
   one core per rank (--bind-to core, -j 1). Speed-up = time(1 rank) / time(2 ranks); how the
   point costs were balanced: the points and busy seconds of each rank, as xbar reports them.
2. 1,000 tiny points (4x4 1r arrays, one input vector): threaded (-j 1 and -j 2) against
   mpirun -n 1 and -n 2 (-j 1): the MPI path's overhead per point, after its start-up (mpirun and
   MPI_Init, timed on a 1-point sweep).

    /usr/bin/python3 bench/mpi_sweep.py [--build build] [--repeat 3] [--markdown FILE]

Every run is timed as a whole process (wall clock), the best of --repeat. The machine's load
(os.getloadavg) is printed with each measurement: other work on the cores shows there first.
"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HETEROGENEOUS = """
[array]
rows = 64
cols = 64
cell = "2t-sonos"
r_row = 1.0
[inputs]
count = 8
[sweep]
"array.rows" = [16, 128, 1024]
circuit = [ { name = "linear", "array.cell" = "1t1r", "select.model" = "ideal" },
            { name = "sonos", "array.cell" = "2t-sonos" } ]
"array.r_hat_p" = [1e-5, 1e-3]
"inputs.seed" = [1, 2]
"""

TINY = """
[array]
rows = 4
cols = 4
cell = "1r"
[inputs]
count = 1
[sweep]
"inputs.seed" = [{}]
"""

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, repeat):
    """Best wall-clock time of `repeat` runs, the CPU time (user + system, every process of the
    run: mpirun and its ranks included) of that run, its stdout, and the load before it."""
    best, cpu, out = None, None, ""
    load = os.getloadavg()[0]
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), cpu_seconds()
        result = subprocess.run(command, capture_output=True, text=True, env=ENV)
        elapsed, used = time.perf_counter() - start, cpu_seconds() - start_cpu
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")
        if best is None or elapsed < best:
            best, cpu, out = elapsed, used, result.stdout
    return best, cpu, out, load


def rank_loads(stdout):
    """[(points, busy s)] by rank, from xbar's "N ranks: rank 0 ran P points, busy S s; ..." line."""
    return [(int(p), float(s)) for p, s in re.findall(r"rank \d+ ran (\d+) points, busy ([0-9.e+-]+) s", stdout)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown")
    args = parser.parse_args()
    xbar = os.path.abspath(os.path.join(args.build, "cli", "xbar"))
    mpirun = shutil.which("mpirun")
    if not mpirun or not os.path.exists(os.path.join(os.path.dirname(xbar), "libxbar_mpi.so")):
        sys.exit("needs mpirun and an xbar built with MPI (libxbar_mpi.so next to it)")
    work = tempfile.mkdtemp(prefix="xbar_mpi_bench_")
    hetero = os.path.join(work, "hetero.toml")
    tiny = os.path.join(work, "tiny.toml")
    single = os.path.join(work, "single.toml")
    open(hetero, "w").write(HETEROGENEOUS)
    open(tiny, "w").write(TINY.format(", ".join(str(s) for s in range(1, 1001))))
    open(single, "w").write(TINY.format("1"))
    out = os.path.join(work, "out.h5")
    mpi = [mpirun, "--bind-to", "core", "-n"]
    lines = [f"xbar MPI benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} cores ({os.uname().nodename})", ""]

    lines += ["## Heterogeneous sweep: 24 points (16 to 1024 rows x 64, 1t1r linear and 2t-sonos, 8 vectors), one core per rank", "",
              "| run | wall s | CPU s | load | points by rank | busy s by rank |", "|---|---|---|---|---|---|"]
    runs = [("threads, taskset 1 core, -j 1", ["taskset", "-c", "0", xbar, "sweep", hetero, "-o", out, "-j", "1"]),
            ("mpirun -n 1, -j 1", [*mpi, "1", xbar, "sweep", hetero, "-o", out, "-j", "1"]),
            ("mpirun -n 2, -j 1 each", [*mpi, "2", xbar, "sweep", hetero, "-o", out, "-j", "1"]),
            ("threads, -j 2 (both cores)", [xbar, "sweep", hetero, "-o", out, "-j", "2"])]
    times, balance = {}, {}
    for name, command in runs:
        seconds, cpu, stdout, load = timed(command, args.repeat)
        times[name] = seconds
        loads = rank_loads(stdout)
        balance[name] = loads
        lines.append(f"| {name} | {seconds:.2f} | {cpu:.2f} | {load:.2f} | {', '.join(str(p) for p, _ in loads) or '-'} | "
                     f"{', '.join(f'{s:.2f}' for _, s in loads) or '-'} |")
        print(lines[-1], flush=True)
    two = balance["mpirun -n 2, -j 1 each"]
    busy = [b for _, b in two]
    lines += ["", f"speed-up, 2 ranks over 1: {times['mpirun -n 1, -j 1'] / times['mpirun -n 2, -j 1 each']:.2f}x "
              f"(wall clock, start-up included); balance at 2 ranks: the busier rank has "
              f"{max(busy) / (sum(busy) / len(busy)):.3f}x the mean busy time, so the speed-up the "
              f"hand-out allows is {sum(busy) / max(busy):.2f}x (busy time of both / of the busier)", ""]

    lines += ["## 1,000 tiny points (4x4 1r, one vector): the MPI path against threads", "",
              "| run | wall s | start-up s | load | wall - start-up s | per point (ms) | CPU s | start-up CPU s "
              "| CPU per point (ms) |",
              "|---|---|---|---|---|---|---|---|---|"]
    # Start-up: the same launch on a 1-point sweep (process start, and for MPI mpirun and MPI_Init).
    plain = [xbar, "sweep"]
    startup = {"": timed([*plain, single, "-o", out, "-q"], args.repeat)[:2]}
    for n in (1, 2):
        startup[n] = timed([*mpi, str(n), *plain, single, "-o", out, "-q"], args.repeat)[:2]
    for name, launch, start, jobs in [("threads -j 1", plain, startup[""], "1"),
                                      ("threads -j 2", plain, startup[""], "2"),
                                      ("mpirun -n 1, -j 1", [*mpi, "1", *plain], startup[1], "1"),
                                      ("mpirun -n 2, -j 1 each", [*mpi, "2", *plain], startup[2], "1")]:
        seconds, cpu, _, load = timed([*launch, tiny, "-o", out, "-q", "-j", jobs], args.repeat)
        lines.append(f"| {name} | {seconds:.2f} | {start[0]:.2f} | {load:.2f} | {seconds - start[0]:.3f} | "
                     f"{1000 * (seconds - start[0]) / 1000:.3f} | {cpu:.2f} | {start[1]:.2f} | "
                     f"{1000 * (cpu - start[1]) / 1000:.3f} |")
        print(lines[-1], flush=True)
    lines += ["", "start-up: the same launch on a 1-point sweep; per point: (wall - start-up) / 1,000, and the "
              "same in CPU time (every process of the run, mpirun included)", ""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        open(args.markdown, "w").write(text + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
