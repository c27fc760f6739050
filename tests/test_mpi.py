#!/usr/bin/python3
"""`xbar sweep` and `xbar table` across MPI ranks, and sweeps that survive being stopped (ctest
runs each case with the built binary; mpirun with --oversubscribe, as root allowed by the
environment, so that 4 ranks run on a 2-core machine):

- mpirun -n 1, 2, 4 give the serial run's file: every dataset to 1e-12 relative (NaN where NaN),
  the same names, shapes and attributes, apart from timings (solve_time, elapsed_time);
- a sweep killed with SIGKILL part-way and resumed (under mpirun) gives the uninterrupted run's
  file, and no journaled point is computed again: each keeps the solve_time its journal record
  holds, bit for bit (a recomputed point would have a new wall-clock time);
- a point that fails (no solution, bad input) under MPI ends the run with one error line naming
  the point and the rank, the serial run's exit status, no output file, the journal kept;
- --resume refuses a journal of another config, or a file that is not a journal (exit 2), and
  starts afresh when there is none.

    /usr/bin/python3 tests/test_mpi.py --xbar build/cli/xbar --workdir DIR [unittest args]
"""
import argparse
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import unittest

import h5py
import numpy as np

XBAR = None
WORKDIR = None
RTOL = 1e-12
TIMINGS = {"solve_time", "elapsed_time"}
SCALARS = ["col_err_rms", "col_err_max", "out_err_nrms", "out_err_gain_nrms", "out_err_fullscale", "solve_time",
           "newton_iterations"]
MPIRUN = shutil.which("mpirun")
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
# Under the sanitizer build (scripts/test_sanitize.sh), ranks run without leak detection: Open MPI's
# components allocate at MPI_Init, never free, and are unloaded at MPI_Finalize, so LeakSanitizer
# reports stacks it cannot attribute (and no suppression can name). The serial runs of these same
# tests, through the same xbar code, keep leak detection.
RANK_ENV = dict(MPI_ENV, ASAN_OPTIONS=":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""), "detect_leaks=0"])))

# Points of very different cost (16 to 64 rows, linear and nonlinear cells).
SWEEP_CONFIG = """
[array]
rows = 16
cols = 4
cell = "2t-sonos"
r_row = 2.0
[mapping]
scheme = "differential"
[inputs]
count = 2
[sweep]
"array.r_hat_p" = [1e-5, 1e-3]
"array.rows" = [8, 32]
circuit = [ { name = "sonos", "array.cell" = "2t-sonos" },
            { name = "ideal", "array.cell" = "1t1r", "select.model" = "ideal" } ]
"""

TABLE_CONFIG = """
[array]
rows = 12
cols = 6
cell = "2t-sonos"
r_row = 2
r_col = 3
[table]
samples = 5
vectors = 2
v_bl_points = 5
v_sup_points = 5
"""

# 8 points of a tenth of a second or so each on one thread: slow enough to be killed part-way.
SLOW_CONFIG = """
[array]
rows = 96
cols = 48
cell = "2t-sonos"
r_row = 1.0
[inputs]
count = 6
[sweep]
"array.r_hat_p" = [1e-5, 1e-4, 1e-3, 1e-2]
"inputs.seed" = [2, 3]
"""

# 8 samples of about 0.1 s each on one thread.
SLOW_TABLE_CONFIG = TABLE_CONFIG.replace("rows = 12", "rows = 128").replace("cols = 6", "cols = 64") \
    .replace("samples = 5", "samples = 8").replace("vectors = 2", "vectors = 4") + "threads = 1\n"

# The second value of solver.max_iterations leaves Newton one iteration and no fallback: no
# solution at exactly the points that use it.
FAILING_CONFIG = """
[array]
rows = 16
cols = 4
cell = "2t-sonos"
r_row = 2.0
[solver]
gmin_stepping = false
source_stepping = false
[inputs]
count = 1
[sweep]
"array.r_hat_p" = [1e-5, 1e-4, 1e-3]
"solver.max_iterations" = [100, 1]
"""


def path(name):
    return os.path.join(WORKDIR, name)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def xbar(*args, ranks=None, check=True, **kwargs):
    command = [XBAR, *args]
    if ranks is not None:
        command = [MPIRUN, "-n", str(ranks), *command]
    result = subprocess.run(command, capture_output=True, text=True, env=MPI_ENV if ranks is None else RANK_ENV,
                            cwd=WORKDIR, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}: {result.stderr}")
    return result


def contents(file_name):
    """Every dataset and attribute of an HDF5 file, by path."""
    datasets, attributes = {}, {}
    with h5py.File(file_name, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets[name] = obj[()]
        f.visititems(visit)
        attributes = {k: f.attrs[k] for k in f.attrs}
    return datasets, attributes


def journal_records(file_name):
    """The (index -> result bytes) records of a journal (layout: parallel/journal.hpp)."""
    with open(file_name, "rb") as f:
        data = f.read()
    magic = b"xbar journal 1\n"
    if magic.startswith(data) or (data.startswith(magic) and b"\n" not in data[len(magic):]):
        return {}  # opened, its header not yet written: no record yet
    assert data.startswith(magic), data[:40]
    offset = data.index(b"\n", len(magic)) + 1
    records = {}
    while len(data) - offset >= 16:
        index, length = struct.unpack_from("<QQ", data, offset)
        if len(data) - offset < 24 + length:
            break
        records[index] = data[offset + 16:offset + 16 + length]
        offset += 24 + length
    return records


class Case(unittest.TestCase):
    def assert_same_file(self, got, want, ignore=TIMINGS):
        got_data, got_attrs = contents(got)
        want_data, want_attrs = contents(want)
        self.assertEqual(sorted(got_data), sorted(want_data))
        for name, expected in want_data.items():
            if name.split("/")[-1] in ignore:
                continue
            actual = got_data[name]
            self.assertEqual(np.shape(actual), np.shape(expected), name)
            if np.asarray(expected).dtype.kind == "f":
                np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0, equal_nan=True, err_msg=name)
            else:
                self.assertTrue(np.array_equal(actual, expected), name)
        self.assertEqual(sorted(got_attrs), sorted(want_attrs))
        for name, expected in want_attrs.items():
            if name not in ignore:
                self.assertTrue(np.array_equal(got_attrs[name], expected), f"attribute {name}")

    def assert_one_error_line(self, stderr, *fragments):
        lines = [l for l in stderr.splitlines() if l.startswith("xbar: error:")]
        self.assertEqual(len(lines), 1, stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        return lines[0]


class Ranks(Case):
    def assert_ranks_write_the_serial_file(self, command, config_text, *options, ignore=TIMINGS):
        config = write(f"{command}.toml", config_text)
        serial = path(f"{command}_serial.h5")
        xbar(command, config, "-o", serial, "-q")
        for ranks in (1, 2, 4):
            with self.subTest(ranks=ranks):
                out = path(f"{command}_ranks{ranks}.h5")
                xbar(command, config, "-o", out, "-q", *options, ranks=ranks)
                self.assert_same_file(out, serial, ignore=ignore)
                self.assertFalse(os.path.exists(out + ".journal"))


class SweepRanks(Ranks):
    def test_ranks_write_the_serial_file(self):
        self.assert_ranks_write_the_serial_file("sweep", SWEEP_CONFIG, "-j", "1")


class TableRanks(Ranks):
    def test_ranks_write_the_serial_table(self):
        # table.threads is part of the config attribute: the rest of the file must be the same.
        self.assert_ranks_write_the_serial_file("table", TABLE_CONFIG, "--set", "table.threads=1",
                                                ignore=TIMINGS | {"config"})


def kill_part_way(command, journal, records):
    """Starts `command`, SIGKILLs it once its journal holds `records` records; returns them."""
    run = subprocess.Popen(command, env=MPI_ENV, cwd=WORKDIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and run.poll() is None:
        if os.path.exists(journal) and len(journal_records(journal)) >= records:
            break
        time.sleep(0.01)
    assert run.poll() is None, "the run ended before it could be killed: make its config slower"
    run.send_signal(signal.SIGKILL)
    run.wait()
    return journal_records(journal)


class Resume(Case):
    def kill_and_resume(self, command, config_text, jobs, unit, *options):
        """Runs `command` to the end (the reference), then again killed part-way and resumed under
        mpirun -n 2: the resumed file must be the reference's. Returns it and the journal's records."""
        config = write(f"{command}_slow.toml", config_text)
        reference = path(f"{command}_reference.h5")
        xbar(command, config, "-o", reference, "-q", *options)
        out = path(f"{command}_resumed.h5")
        journal = out + ".journal"
        journaled = kill_part_way([XBAR, command, config, "-o", out, "-q", *options], journal, 2)
        self.assertFalse(os.path.exists(out))
        self.assertLess(len(journaled), jobs)
        result = xbar(command, config, "-o", out, "-q", "--resume", *options, ranks=2)
        self.assertIn(f"{len(journaled)} of {jobs} {unit} journaled, {jobs - len(journaled)} to compute",
                      result.stderr)
        self.assert_same_file(out, reference)
        self.assertFalse(os.path.exists(journal))
        return out, journaled


class KillResume(Resume):
    def test_killed_sweep_resumes_without_recomputing(self):
        out, journaled = self.kill_and_resume("sweep", SLOW_CONFIG, 8, "points", "-j", "1")
        # A sweep record is the point's scalar metrics in SCALARS order, then row_err_mean
        # (docs/sweep.md). A journaled point keeps its record's numbers, its wall-clock solve_time
        # included: a point computed again would have a time of its own.
        with h5py.File(out, "r") as f:
            written = {name: f["points/" + name][()].ravel() for name in SCALARS}
        for index, record in journaled.items():
            values = struct.unpack_from(f"<{len(SCALARS)}d", record)
            for name, value in zip(SCALARS, values):
                self.assertTrue(written[name][index] == value or (np.isnan(value) and np.isnan(written[name][index])),
                                f"point {index}: {name} {written[name][index]} is not its journal's {value}")


class TableResume(Resume):
    def test_killed_table_resumes(self):
        self.kill_and_resume("table", SLOW_TABLE_CONFIG, 8, "samples")


class FailingPoint(Case):
    def test_no_solution_on_a_rank_stops_the_run(self):
        config = write("failing.toml", FAILING_CONFIG)
        serial = xbar("sweep", config, "-o", path("serial.h5"), "-q", "-j", "1", check=False)
        self.assertEqual(serial.returncode, 3, serial.stderr)
        out = path("failing.h5")
        result = xbar("sweep", config, "-o", out, "-q", "-j", "1", ranks=2, check=False)
        self.assertEqual(result.returncode, 3, result.stderr)
        line = self.assert_one_error_line(result.stderr, "sweep point array.r_hat_p = 1e-05, solver.max_iterations = 1",
                                          "of 2)", "no convergence")
        self.assertRegex(line, r"\(rank [01] of 2\)")
        self.assertFalse(os.path.exists(out))
        self.assertTrue(os.path.exists(out + ".journal"))

    def test_bad_input_at_one_point(self):
        config = write("badfile.toml", """
[array]
rows = 16
cols = 4
cell = "2t-sonos"
[weights]
source = "file"
file = "levels.h5"
dataset = "levels"
kind = "level"
[sweep]
"weights.file" = ["levels.h5", "missing.h5"]
""")
        with h5py.File(path("levels.h5"), "w") as f:
            f["levels"] = np.arange(64, dtype=float).reshape(16, 4)
        out = path("badfile.h5")
        result = xbar("sweep", config, "-o", out, "-q", ranks=2, check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assert_one_error_line(result.stderr, "missing.h5", "of 2)")
        self.assertFalse(os.path.exists(out))


def rank_process(launcher, rank):
    """The pid of an xbar process of the given MPI rank started under `launcher` (its child)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/environ", "rb") as f:
                environment = f.read().split(b"\0")
        except OSError:
            continue
        if parent == launcher and f"OMPI_COMM_WORLD_RANK={rank}".encode() in environment:
            return int(pid)
    return None


class RankDies(Case):
    def test_a_killed_rank_stops_the_run_naming_its_point(self):
        config = write("slow.toml", SLOW_CONFIG)
        out = path("dies.h5")
        journal = out + ".journal"
        run = subprocess.Popen([MPIRUN, "-q", "-n", "2", XBAR, "sweep", config, "-o", out, "-q", "-j", "1"],
                               env=RANK_ENV, cwd=WORKDIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and run.poll() is None:
            if os.path.exists(journal) and len(journal_records(journal)) >= 1:
                break
            time.sleep(0.01)
        victim = rank_process(run.pid, 1)
        self.assertIsNotNone(victim)
        os.kill(victim, signal.SIGKILL)
        _, stderr = run.communicate(timeout=60)
        self.assertNotEqual(run.returncode, 0)
        # The message names the points running when rank 1 died: rank 1's, or none of its own when
        # it died in the instant between two points (its result journaled, the next not yet sent;
        # the root's own thread may be running one then).
        self.assertRegex(stderr, r"xbar: interrupted \((running sweep point [^;]*; )?finished points "
                                 r"are kept in .*dies\.h5\.journal.*\); no output written")
        self.assertFalse(os.path.exists(out))
        self.assertGreaterEqual(len(journal_records(journal)), 1)
        self.assertEqual([f for f in os.listdir(WORKDIR) if f.startswith(".dies.h5.tmp")], [])


class Journals(Case):
    def test_foreign_or_broken_journal_is_refused(self):
        config = write("failing.toml", FAILING_CONFIG)
        out = path("out.h5")
        xbar("sweep", config, "-o", out, "-q", "-j", "1", check=False)
        journal = out + ".journal"
        self.assertTrue(os.path.exists(journal))
        before = open(journal, "rb").read()
        other = xbar("sweep", config, "-o", out, "-q", "--resume", "--set", "array.cols=5", ranks=2, check=False)
        self.assertEqual(other.returncode, 2, other.stderr)
        self.assert_one_error_line(other.stderr, journal, "another run", "never merged")
        self.assertEqual(open(journal, "rb").read(), before)
        self.assertFalse(os.path.exists(out))
        with open(journal, "wb") as f:
            f.write(b"not a journal\n")
        broken = xbar("sweep", config, "-o", out, "-q", "--resume", check=False)
        self.assertEqual(broken.returncode, 2, broken.stderr)
        self.assert_one_error_line(broken.stderr, "not an xbar journal")

    def test_resume_without_journal_starts_afresh(self):
        config = write("sweep.toml", SWEEP_CONFIG)
        xbar("sweep", config, "-o", path("serial.h5"), "-q")
        out = path("fresh.h5")
        result = xbar("sweep", config, "-o", out, "-q", "--resume")
        self.assertIn("0 of 8 points journaled", result.stderr)
        self.assert_same_file(out, path("serial.h5"))


def main():
    global XBAR, WORKDIR
    parser = argparse.ArgumentParser()
    parser.add_argument("--xbar", required=True)
    parser.add_argument("--workdir", required=True)
    args, rest = parser.parse_known_args()
    XBAR = os.path.abspath(args.xbar)
    WORKDIR = os.path.abspath(args.workdir)
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR)
    if MPIRUN is None:
        print("mpirun not found: install openmpi-bin (scripts/setup.sh)")
        return 1
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    sys.exit(main())
