#!/usr/bin/python3
"""The benchmark table: times xbar and, where feasible, ngspice and SciPy's SuperLU on the
same problems in one run, and writes bench/results.md (table, ratios, machine, date).

    /usr/bin/python3 bench/run.py [--build build] [--baseline OTHER_BUILD] [--skip-ngspice] [--big N]
                                  [--only ROW...] [--output FILE]

xbar rows are timed twice: the whole `xbar solve` process (wall clock) and the solve phase
(`xbar_bench`, which also reports peak memory). ngspice runs `ngspice -b` on the deck from
`xbar netlist`; SciPy factors and solves the Jacobian xbar itself factors (dumped by xbar_bench
--dump-matrix) with scipy.sparse.linalg.splu. Rows where a reference would take far longer than
a couple of minutes are skipped and say so. With --baseline, the same rows are also timed with the
binaries of another build (e.g. of an earlier commit) in the same run, interleaved, and the table
gains its times and the ratio baseline / this build; the sparse bit-plane rows (2t-sonos 1152x256 at
activity 0.1 and 0.5) have that ratio as their target. --only runs some rows (numbers from 1, in
the order of CASES) and --output writes their table elsewhere than bench/results.md. A benchmark,
never a test: it asserts nothing.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (name, config overrides, vectors, target text, references to run)
CASES = [
    ("1r 128x128, r_row = r_col = 1 ohm", "1r", 128, 128, {"r_row": 1, "r_col": 1}, 1,
     ">= 2500x faster than ngspice (whole process)", ["ngspice", "scipy"]),
    ("1r 512x512, r_row = r_col = 1 ohm", "1r", 512, 512, {"r_row": 1, "r_col": 1}, 1,
     ">= 100x faster than SciPy SuperLU", ["scipy"]),
    ("1r 1024x1024, r_row = r_col = 1 ohm, one vector", "1r", 1024, 1024, {"r_row": 1, "r_col": 1}, 1,
     "<= 0.4 s", []),
    ("2t-sonos 1152x256, r_col = 1 ohm only, 64 vectors", "2t-sonos", 1152, 256, {"r_col": 1}, 64,
     "<= 20 ms per vector", ["scipy"]),
    ("2t-sonos 1024x1024, r_row = r_col = 1 ohm", "2t-sonos", 1024, 1024, {"r_row": 1, "r_col": 1}, 1,
     "<= 2 s per vector", []),
    ("1r 4096x4096, r_row = r_col = 1 ohm", "1r", 4096, 4096, {"r_row": 1, "r_col": 1}, 1,
     "solves; time and peak memory", []),
    # Sparse bit planes (the network stage's batches): against the baseline build (--baseline).
    ("2t-sonos 1152x256, r_col = 1 ohm only, 64 vectors at activity 0.1", "2t-sonos", 1152, 256,
     {"r_col": 1}, 64, ">= 4x faster per vector than the baseline", []),
    ("2t-sonos 1152x256, r_col = 1 ohm only, 64 vectors at activity 0.5", "2t-sonos", 1152, 256,
     {"r_col": 1}, 64, ">= 1.5x faster per vector than the baseline", []),
]
# Input activity (fraction of 1 bits) of the select-cell rows; 0.2 where not listed.
ACTIVITY = {7: 0.1, 8: 0.5}
# Rows whose target is a speed-up against the baseline build: the goal (baseline / this build).
BASELINE_GOAL = {7: 4.0, 8: 1.5}
SKIPPED = {
    ("1r 512x512, r_row = r_col = 1 ohm", "ngspice"): "skipped: hours (> 11 min at 256x256, measured on the 2-core machine)",
    ("1r 1024x1024, r_row = r_col = 1 ohm, one vector", "ngspice"): "skipped: hours",
    ("1r 1024x1024, r_row = r_col = 1 ohm, one vector", "scipy"): "skipped: ~10x the 512x512 time, minutes",
    ("2t-sonos 1152x256, r_col = 1 ohm only, 64 vectors", "ngspice"): "skipped: the deck needs > 4 GB at 128x128 already",
    ("2t-sonos 1024x1024, r_row = r_col = 1 ohm", "ngspice"): "skipped: 257 s at 128x128",
    ("2t-sonos 1024x1024, r_row = r_col = 1 ohm", "scipy"): "skipped: minutes per Newton step",
    ("1r 4096x4096, r_row = r_col = 1 ohm", "ngspice"): "skipped",
    ("1r 4096x4096, r_row = r_col = 1 ohm", "scipy"): "skipped: hours",
}


def config_text(cell, rows, cols, lines, vectors, activity=0.2):
    text = f'[array]\nrows = {rows}\ncols = {cols}\ncell = "{cell}"\n'
    text += "".join(f"{k} = {float(v)}\n" for k, v in lines.items())
    text += f"[inputs]\ncount = {vectors}\n"
    if cell != "1r":
        text += f"activity = {activity}\n"
    return text


def run(cmd, timeout=None):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def time_xbar(build, config, workdir, baseline=None):
    """Whole `xbar solve` process (best of 3 when a run takes under 2 s: the machine is shared),
    then the phase timings of xbar_bench (best of the same count, by solve time). With a baseline
    build, its runs alternate with this build's (same load for both); returns (this, baseline)."""
    builds = [build] + ([baseline] if baseline else [])
    out = os.path.join(workdir, "out.h5")
    walls, peak, runs = [[] for _ in builds], [0.0 for _ in builds], 1
    while len(walls[0]) < runs:
        for b, folder in enumerate(builds):
            wall, proc = run(["/usr/bin/time", "-f", "%M", os.path.join(folder, "cli", "xbar"), "solve", config,
                              "-o", out, "-q"])
            if proc.returncode != 0:
                raise RuntimeError(f"xbar solve failed ({folder}): {proc.stderr.strip()}")
            walls[b].append(wall)
            peak[b] = max(peak[b], int(proc.stderr.strip().splitlines()[-1]) / 1024)
        runs = 3 if walls[0][-1] < 2 else 1
    infos = [[] for _ in builds]
    for _ in range(runs):
        for b, folder in enumerate(builds):
            _, bench = run([os.path.join(folder, "bench", "xbar_bench"), config])
            infos[b].append(json.loads(bench.stdout))
    result = []
    for b in range(len(builds)):
        info = min(infos[b], key=lambda i: i["solve_s"][0])
        info["process_wall_s"] = min(walls[b])
        info["process_peak_mb"] = peak[b]
        result.append(info)
    return result[0], (result[1] if baseline else None)


def time_general(build, config):
    """The same solve on xbar's general path (`solver.method = "lines"`: nodal system, CSC pattern,
    line-reduced Krylov), the baseline the grid replaced, measured in the same run (best of 3
    under 2 s). Returns its phase timings, or None where it would take too long."""
    infos, runs = [], 1
    while len(infos) < runs:
        _, proc = run([os.path.join(build, "bench", "xbar_bench"), config, "--set", "solver.method=lines"])
        if proc.returncode != 0:
            return None
        infos.append(json.loads(proc.stdout))
        runs = 3 if infos[-1]["solve_s"][0] < 2 else 1
    return min(infos, key=lambda i: i["solve_s"][0])


def time_ngspice(build, config, workdir, timeout):
    deck = os.path.join(workdir, "deck.cir")
    _, proc = run([os.path.join(build, "cli", "xbar"), "netlist", config, "-o", deck, "-q"])
    if proc.returncode != 0:
        return None, f"netlist failed: {proc.stderr.strip()}"
    try:
        wall, proc = run(["ngspice", "-b", deck], timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"> {timeout} s (stopped)"
    # ngspice 39 exits 1 on successful batch runs of B-source decks: judge by the output.
    if "vsense_0#branch" not in proc.stdout.lower():
        return None, "ngspice failed: " + (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return wall, "ok"


SCIPY_SNIPPET = r"""
import sys, time, numpy as np, scipy.io, scipy.sparse.linalg as sla
a = scipy.io.mmread(sys.argv[1]).tocsc()
b = np.loadtxt(sys.argv[1] + '.rhs')
t = time.perf_counter()
x = sla.splu(a).solve(b)
print(time.perf_counter() - t, np.max(np.abs(a @ x - b)))
"""


def time_scipy(build, config, workdir):
    mtx = os.path.join(workdir, "jacobian.mtx")
    _, proc = run([os.path.join(build, "bench", "xbar_bench"), config, "--set", "inputs.count=1",
                   "--dump-matrix", mtx])
    if proc.returncode != 0:
        return None, "dump failed"
    _, proc = run(["/usr/bin/python3", "-c", SCIPY_SNIPPET, mtx])
    if proc.returncode != 0:
        return None, "scipy failed: " + proc.stderr.strip().splitlines()[-1]
    seconds, _ = proc.stdout.split()
    return float(seconds), "ok"


def machine_info():
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    load = os.getloadavg()
    # The "standard 2-core machine" is not one CPU: hosts differ (seen: AMD families 25 and 26,
    # with and without AVX-512), and the EKV kernel runs on the widest vectors the CPU has.
    family = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("CPU family")), "?")
    flags = next((l.split(":", 1)[1].split() for l in lscpu.splitlines() if l.startswith("Flags")), [])
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    model = f"{model} (family {family}, {simd})"
    return (f"{model}, {os.cpu_count()} cores (nproc), {int(mem) / 2**20:.1f} GiB RAM, "
            f"{platform.system()} {platform.release()}; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


def fmt_s(x):
    return "-" if x is None else (f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--skip-ngspice", action="store_true")
    ap.add_argument("--big", type=int, default=4096, help="size of the last 1r row (default 4096)")
    ap.add_argument("--ngspice-timeout", type=float, default=900)
    ap.add_argument("--only", type=int, nargs="*", help="row numbers (1-based) to run")
    ap.add_argument("--baseline", help="another build folder (e.g. of an earlier commit), timed in the same run")
    ap.add_argument("--output", default=os.path.join(HERE, "results.md"),
                    help="where the table goes (default bench/results.md)")
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    info = machine_info()
    rows = []
    for number, (name, cell, m, n, lines, vectors, target, refs) in enumerate(CASES, 1):
        if args.only and number not in args.only:
            continue
        if name.startswith("1r 4096"):
            m = n = args.big
            name = f"1r {m}x{n}, r_row = r_col = 1 ohm"
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory() as work:
            config = os.path.join(work, "case.toml")
            with open(config, "w") as f:
                f.write(config_text(cell, m, n, lines, vectors, ACTIVITY.get(number, 0.2)))
            try:
                x, b = time_xbar(args.build, config, work, args.baseline)
            except Exception as e:  # e.g. out of memory: the row says so, the table goes on
                print(f"   xbar failed: {e}", flush=True)
                rows.append({"name": name, "target": target, "error": str(e)[:200]})
                continue
            row = {"name": name, "number": number, "target": target, "vectors": vectors, "xbar": x}
            if b:
                row["baseline"] = b
                print(f"   baseline: process {fmt_s(b['process_wall_s'])}, solve {fmt_s(b['solve_s'][0])}, "
                      f"column 0 {b['column0']:.12g} A vs {x['column0']:.12g} A", flush=True)
            print(f"   xbar: process {fmt_s(x['process_wall_s'])}, solve {fmt_s(x['solve_s'][0])} "
                  f"({x['newton_iterations']} Newton, {x['linear_iterations']} linear iterations, "
                  f"{x['backend']}), peak {x['process_peak_mb']:.0f} MB", flush=True)
            row["general"] = (time_general(args.build, config)
                              if m * n <= 1024 * 1024 and number not in BASELINE_GOAL else None)
            if row["general"]:
                g = row["general"]
                print(f"   general path: solve {fmt_s(g['solve_s'][0])}, setup {fmt_s(g['setup_s'][0])}, "
                      f"column 0 {g['column0']:.12g} A vs grid {x['column0']:.12g} A", flush=True)
            for ref in ("ngspice", "scipy"):
                if ref not in refs or (ref == "ngspice" and args.skip_ngspice):
                    row[ref] = (None, SKIPPED.get((name, ref), "skipped" if ref in refs else "not run"))
                    continue
                row[ref] = (time_ngspice(args.build, config, work, args.ngspice_timeout) if ref == "ngspice"
                            else time_scipy(args.build, config, work))
                print(f"   {ref}: {fmt_s(row[ref][0])} ({row[ref][1]})", flush=True)
            rows.append(row)
    write_results(rows, info, started, args.baseline, args.output)


# Target of each row (by its number in CASES): (measured value, goal, unit, larger is better).
def target_value(number, row):
    x = row["xbar"]
    per = x["solve_s"][0] / row["vectors"]
    if number == 1:
        ng = row["ngspice"][0]
        return (ng / x["process_wall_s"] if ng else None), 2500, "x faster than ngspice (process)", True
    if number == 2:
        sp = row["scipy"][0]
        return (sp / per if sp else None), 100, "x faster than SciPy", True
    if number == 3:
        return per, 0.4, "s", False
    if number == 4:
        return per, 0.020, "s per vector", False
    if number == 5:
        return per, 2.0, "s per vector", False
    if number in BASELINE_GOAL:
        base = row.get("baseline")
        speedup = base["solve_s"][0] / x["solve_s"][0] if base else None
        return speedup, BASELINE_GOAL[number], "x faster per vector than the baseline", True
    return None, None, "", True


# What the profiles (perf record on xbar_bench) show for the rows that miss; see README.
LIMITS = """\
What limits each row (perf profiles of `build/bench/xbar_bench`, this machine):

- 1r 512x512 and 1024x1024 (grid, CG on the Schur complement of the row lines, 1e-3 of the KCL
  tolerance at every node): 14 and 7 iterations. At 1024 the line preconditioner alone leaves
  ~5 modes smooth along both line families (rows x cols x g_cell / (pi^2 g_wire)) and needs 23;
  a balancing coarse correction on ~24x24 blocks of cells removes them (at 512, ~1.3 such
  modes: the line preconditioner alone is faster and is used). A two-level iteration costs
  about twice a plain one (three row-line sweeps, one bit-line sweep, three passes), memory
  bound; the CG is about half of the solve phase at 1024, the first touch of the results' fresh
  memory (every node's voltage and five per-cell matrices, 64 MB: the kernel zeroes each page,
  0.1-2 ms per MB on this VM) about a quarter, chain factors and the coarse matrix ~10%, the two
  assemblies (the second evaluates only the residual) ~8%.
- 2t-sonos 1152x256, r_col only (grid batch: every block of 8 bit lines through all vectors in
  turn, a vector's first evaluation on the rows whose inputs changed): 3 Newton evaluations per
  block and vector. The bit lines move by up to a few mV from one vector to the next; each step
  adds Chebyshev's second-order correction, so the two steps land within ~1e-14 V of the answer
  and the third evaluation certifies. That third one is the devices' Taylor series about the
  second (its remainder bounded by e^0.01 F'' |dv|^3 / 6 and counted against each node's
  tolerance), not the law: the law runs on the changed rows and once on every cell, the fewest
  with which the off cells' internal nodes meet KCL to 1e-18 A (the second evaluation must be
  exact: the bit lines moved mV since the last one). Of the solve phase (every loop AVX-512
  here; the law's exp and log1p by 8-entry tables and short series): the EKV kernel (with second
  derivatives) ~35%, Chebyshev's terms and solve ~16%, the bit-line Thomas factors and solves
  (from both ends, latency-bound) ~14%, the series ~12%, elimination ~7%, bit-line stamps ~6%,
  the warm start and input refresh of switched rows ~4%, curvatures ~2%, the report ~2%; the
  elementwise passes stream a block's ~2 MB of arrays through a 1 MB L2. Vector 0 (a cold
  start, 4 evaluations) is ~6% of the 64 vectors' solve.
- Times on this VM vary by +-15% from run to run (shared host): compare ratios measured in one run.
"""


def baseline_lines(rows, baseline):
    """The baseline build's times against this build's, row by row (ratio > 1: this build faster)."""
    lines = ["", f"## Against the baseline build `{baseline}` (same run, same configs)", "",
             "| case | process: baseline / this | ratio | solve per vector: baseline / this | ratio |",
             "|---|---|---|---|---|"]
    for r in rows:
        b, x = r.get("baseline"), r.get("xbar")
        if not b or not x:
            continue
        bp, xp = b["process_wall_s"], x["process_wall_s"]
        bs, xs = b["solve_s"][0] / r["vectors"], x["solve_s"][0] / r["vectors"]
        lines.append(f"| {r['name']} | {fmt_s(bp)} / {fmt_s(xp)} | {bp / xp:.2f}x | "
                     f"{fmt_s(bs)} / {fmt_s(xs)} | {bs / xs:.2f}x |")
    return lines


def write_results(rows, info, started, baseline=None, output=os.path.join(HERE, "results.md")):
    lines = ["# xbar benchmark", "",
             f"Run {started:%Y-%m-%d %H:%M} UTC by `/usr/bin/python3 bench/run.py` on {info}.", "",
             "xbar process = whole `xbar solve` run, wall clock (config, weights, array, all solves, HDF5 "
             "output; best of 3 for runs under 2 s); xbar solve = the solve phase alone (`xbar_bench`), per input vector where there are "
             "several. ngspice = `ngspice -b` on the deck of `xbar netlist`, whole process. SciPy = "
             "`splu(J)` + solve on xbar's own Newton Jacobian at the initial guess (one linear solve; for a "
             "linear 1r array that is the whole answer). Ratios = reference / xbar (process time for "
             "ngspice, solve time for SciPy). General path = the same solve with `solver.method = \"lines\"` "
             "(the general nodal system and its line-reduced Krylov backend, xbar's solver before the grid), "
             "set-up + solve, per vector; its column-0 current agrees with the grid's to the digits shown "
             "in the run log.", "",
             "| case | target | xbar process | xbar solve | Newton / linear its | backend | peak memory | "
             "ngspice | SciPy SuperLU | general path | ngspice / xbar | SciPy / xbar | general / grid |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | {r['target']} | failed: {r['error']} |" + " |" * 10)
            continue
        x = r["xbar"]
        per = x["solve_s"][0] / r["vectors"]
        ng, sp = r["ngspice"], r["scipy"]
        ng_text = fmt_s(ng[0]) if ng[0] is not None else ng[1]
        sp_text = fmt_s(sp[0]) if sp[0] is not None else sp[1]
        ng_ratio = f"{ng[0] / x['process_wall_s']:.0f}x" if ng[0] else "-"
        sp_ratio = f"{sp[0] / per:.0f}x" if sp[0] else "-"
        solve = fmt_s(per) + (" / vector" if r["vectors"] > 1 else "")
        g = r.get("general")
        g_per = (g["setup_s"][0] + g["solve_s"][0]) / r["vectors"] if g else None
        g_text = fmt_s(g_per) if g else "not run (too large)"
        g_ratio = f"{g_per / ((x['setup_s'][0] + x['solve_s'][0]) / r['vectors']):.1f}x" if g else "-"
        lines.append(f"| {r['name']} | {r['target']} | {fmt_s(x['process_wall_s'])} | {solve} | "
                     f"{x['newton_iterations']} / {x['linear_iterations']} | {x['backend']} | "
                     f"{x['process_peak_mb']:.0f} MB | {ng_text} | {sp_text} | {g_text} | {ng_ratio} | {sp_ratio} | {g_ratio} |")
    lines += ["", "## Targets", ""]
    for r in rows:
        if "error" in r:
            lines.append(f"- {r['name']}: failed ({r['error']})")
            continue
        value, goal, unit, larger = target_value(r["number"], r)
        if goal is None:
            x = r["xbar"]
            lines.append(f"- {r['name']}: solved in {fmt_s(x['solve_s'][0])} (process {fmt_s(x['process_wall_s'])}), "
                         f"peak memory {x['process_peak_mb'] / 1024:.1f} GiB: met.")
        elif value is None:
            lines.append(f"- {r['name']}: target {r['target']}: not measured (reference skipped).")
        else:
            met = value >= goal if larger else value <= goal
            shown = (f"{value:.1f}" if value < 10 else f"{value:.0f}") if larger else fmt_s(value)
            factor = (goal / value) if larger else (value / goal)
            lines.append(f"- {r['name']}: {shown}{unit if larger else ''} against {r['target']}: "
                         + ("met." if met else f"missed by {factor:.1f}x."))
    if baseline:
        lines += baseline_lines(rows, baseline)
    lines += ["", LIMITS]
    solved = [r for r in rows if "xbar" in r]
    if solved:
        big = max(solved, key=lambda r: r["xbar"]["rows"] * r["xbar"]["cols"])
        cells = big["xbar"]["rows"] * big["xbar"]["cols"]
        lines += ["", f"Peak memory per cell, {big['name']}: "
                  f"{big['xbar']['process_peak_mb'] * 2**20 / cells:.0f} bytes (whole process)."]
    with open(output, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
