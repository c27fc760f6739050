#!/usr/bin/env python3
"""xbar characterize and fit on a card laid out as a PDK: tests/data/pdk/nch_tt.cir is a `.lib`
corner section that `.include`s a 6-bin BSIM4 subckt and a `.param` file, with `.option
scale=1u` (written by tests/pdk_card.py).

  cli_pdk.py XBAR DATA_DIR

Checks: DEVICE.h5 holds the true sizes (m) and the resolved card text as a compressed dataset;
an array deck with the tabulated select runs in ngspice (`xbar check`), also from a file in the
older layout (text as an attribute); without --w/--l one error line names --w/--l and the bin
ranges; --progress prints progress lines with an ETA; fit reports the error relative to the on
current and a parameter on its bound.
"""
import os
import re
import subprocess
import sys
import tempfile

import h5py

XBAR, DATA = sys.argv[1], sys.argv[2]
CARD = os.path.join(DATA, "pdk", "nch_tt.cir")
GRID = ["--vg-step", "0.1", "--v-step", "0.025"]


def run(*args, status=0):
    done = subprocess.run([XBAR, *args], capture_output=True, text=True)
    assert done.returncode == status, f"{args}: exit {done.returncode}, expected {status}\n{done.stdout}{done.stderr}"
    return done


def check_array(work, device_file):
    config = os.path.join(work, "array.toml")
    with open(config, "w") as f:
        f.write(f'[array]\nrows = 2\ncols = 2\ncell = "1t1r"\nr_row = 1.0\nr_col = 1.0\n'
                f'[select]\nmodel = "table"\nfile = "{device_file}"\n[inputs]\ncount = 1\nactivity = 1.0\n')
    return run("check", config, "-q")


with tempfile.TemporaryDirectory() as work:
    device = os.path.join(work, "nch.h5")
    done = run("characterize", CARD, "--device", "nch", "--w", "0.42", "--l", "0.15", *GRID, "--check-points", "60",
               "--progress", "-o", device)
    assert "W = 420 nm (0.42 x scale 1e-06 m), L = 150 nm" in done.stdout, done.stdout
    progress = [line for line in done.stderr.splitlines() if re.search(r"ngspice sweep.*\d+/\d+, [\d.]+ s, ETA \d+ s", line)]
    assert progress, done.stderr
    assert re.search(r"check against the card.*\d+/\d+ done in", done.stderr), done.stderr

    with h5py.File(device) as f:
        assert abs(f.attrs["w"] - 0.42e-6) < 1e-21 and abs(f.attrs["l"] - 0.15e-6) < 1e-21, dict(f.attrs)
        assert f.attrs["w_instance"] == 0.42 and f.attrs["l_instance"] == 0.15 and f.attrs["scale"] == 1e-6
        assert "model_text" not in f.attrs
        text_dataset = f["model_text"]
        assert text_dataset.compression == "gzip", text_dataset.compression
        text = bytes(text_dataset[()]).decode()
    for needed in (".model nch__model.5 nmos", ".param nch__vth0_diff_5", ".option scale=1u"):
        assert needed in text, needed
    assert not re.search(r"^\s*\.(include|inc|lib)\s", text, re.M | re.I), "unresolved .include/.lib"
    check_array(work, device)

    # A DEVICE.h5 of the older layout: the text as an attribute, `w`/`l` as on the instance line.
    old = os.path.join(work, "old.h5")
    with h5py.File(device) as f, h5py.File(old, "w") as g:
        for name in f:
            f.copy(name, g)
        for key, value in f.attrs.items():
            if key not in ("w_instance", "l_instance", "scale"):
                g.attrs[key] = value
        del g["model_text"]
        g.attrs["model_text"] = text
        g.attrs["w"], g.attrs["l"] = 0.42, 0.15
    check_array(work, old)

    # The subckt's default sizes (w=1, l=1) fall in no bin: one line, before any sweep, no output.
    bad = os.path.join(work, "bad.h5")
    done = run("characterize", CARD, "--device", "nch", *GRID, "-o", bad, status=2)
    assert len(done.stderr.splitlines()) == 1, done.stderr
    for needed in ("no bin of 'nch' covers the subckt's default W and L", "give --w and --l",
                   "units of 1e-06 m", "6 bins", "L from 0.15 to 0.9 and W from 0.36 to 0.99"):
        assert needed in done.stderr, (needed, done.stderr)
    assert not os.path.exists(bad)

    # The library itself given as the card: its sections are read only when named.
    done = run("characterize", os.path.join(DATA, "pdk", "lib", "models.lib"), "--device", "nch", "-o", bad, status=2)
    assert "is a library of sections tt, ff" in done.stderr and '.lib "' in done.stderr, done.stderr

    done = run("fit", CARD, "--device", "nch", "--w", "0.42", "--l", "0.15")
    assert re.search(r"I_on = [\d.e+-]+ A", done.stdout), done.stdout
    assert re.search(r"on state, V_G = v_on = 1.1 V: max [\d.]+ %", done.stdout), done.stdout
    assert re.search(r"note: eta = [\d.e+-]+ is at the bound 0 of its range", done.stdout), done.stdout
print("cli_pdk: ok")
