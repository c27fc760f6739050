"""Shared fixtures of the Python package tests: the built binary (XBAR) and a runner for it.

Run by ctest with PYTHONPATH=build/python and XBAR=build/cli/xbar; by hand:
    XBAR=build/cli/xbar PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
"""
import os
import subprocess

import h5py
import pytest

XBAR = os.environ.get("XBAR", "build/cli/xbar")
SOURCE_DIR = os.environ.get("XBAR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE_DIR, "examples")


def run_xbar(*args):
    """Runs the binary; returns (exit status, stderr)."""
    done = subprocess.run([XBAR, *args, "--quiet"], capture_output=True, text=True)
    return done.returncode, done.stderr


def solve_file(config, out, *sets):
    """`xbar solve CONFIG --set ... -o out`; returns the file's datasets and attributes as a dict."""
    status, err = run_xbar("solve", config, *[f"--set={s}" for s in sets], "-o", out)
    assert status == 0, err
    with h5py.File(out, "r") as f:
        data = {}
        f.visititems(lambda name, obj: data.__setitem__("/" + name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        data.update({k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()})
        return data


def cli_error(*args):
    """The binary's one-line error for a command that must fail with status 2, without 'xbar: error: '."""
    status, err = run_xbar(*args)
    assert status == 2, f"{args}: status {status}: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xbar: error: "), err
    return lines[0][len("xbar: error: "):]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
