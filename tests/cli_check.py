"""End-to-end exit status of `xbar check` (README): 0 within tolerance, 1 over
it, 2 for an array above check.max_cells (with the ngspice time estimate and the override in
one line, and no output file); the -o file carries /columns/current_spice and the check_*
attributes. Usage: cli_check.py XBAR EXAMPLES_DIR"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

XBAR, EXAMPLES = sys.argv[1], sys.argv[2]
# 6x5 2t-sonos, every line resistance non-zero: ngspice agrees to ~1e-11, far above 1e-15.
SMALL = [f"{EXAMPLES}/2t_sonos_small.toml", "--set", "array.rows=6", "--set", "array.cols=5",
         "--set", "inputs.count=2"]


def check(*args):
    return subprocess.run([XBAR, "check", *args], capture_output=True, text=True, timeout=600)


def expect(result, status, stream_text=None):
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    if stream_text:
        assert stream_text in result.stdout + result.stderr, (stream_text, result.stdout, result.stderr)


def read(path):
    with h5py.File(path, "r") as f:
        return {"spice": f["/columns/current_spice"][()], "xbar": f["/columns/current"][()],
                **{k: f.attrs[k] for k in ("check_passed", "check_tolerance", "check_max_rel_diff",
                                           "spice_time", "xbar_time")}}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "check.h5")
        expect(check(*SMALL, "-o", out), 0, "PASS")
        passed = read(out)
        assert passed["spice"].shape == (2, 5) and passed["xbar"].shape == (2, 5)
        assert passed["check_passed"] == 1 and passed["check_tolerance"] == 1e-6
        figure = passed["check_max_rel_diff"]
        assert 1e-15 < figure <= 1e-6, figure
        recomputed = max(np.abs(x - s).max() / np.abs(s).max() for x, s in zip(passed["xbar"], passed["spice"]))
        assert np.isclose(recomputed, figure, rtol=1e-12), (recomputed, figure)

        # Over tolerance: exit 1, and the file is still written, with the verdict in it.
        expect(check(*SMALL, "--tolerance", "1e-15", "-o", out), 1, "FAIL")
        failed = read(out)
        assert failed["check_passed"] == 0 and failed["check_tolerance"] == 1e-15
        expect(check(*SMALL, "--set", "check.tolerance=1e-15", "-q"), 1)
        expect(check(*SMALL, "--set", "check.tolerance=1e-15", "--tolerance", "1e-6"), 0, "PASS")

        # Oversize: refused before ngspice runs, one line naming the override, no file left.
        big = os.path.join(tmp, "big.h5")
        result = check(*SMALL, "--set", "array.rows=65", "--set", "array.cols=64", "-o", big)
        expect(result, 2, "--set check.max_cells=4160")
        assert "ngspice would take about" in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert not os.path.exists(big) and os.listdir(tmp) == ["check.h5"], os.listdir(tmp)
        expect(check(*SMALL, "--tolerance", "-1"), 2)
    print("xbar check exit statuses: ok")


if __name__ == "__main__":
    main()
