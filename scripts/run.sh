#!/usr/bin/env bash
# Set-up, build and the main job: the default study (embedded defaults, examples/default_study.toml)
# with its outputs in study/ (override with XBAR_STUDY_DIR). One short block per step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out="${XBAR_STUDY_DIR:-study}"
mkdir -p "$out"
xbar=build/cli/xbar
python="${XBAR_PYTHON:-/usr/bin/python3}"   # the Debian interpreter: numpy, h5py, matplotlib
start=$SECONDS

echo "== solve: 64x64 2t-sonos, 1 ohm per cell on both lines, 16 input vectors"
"$xbar" solve -o "$out/solve.h5"

echo "== netlist: the SPICE deck of input vector 0"
"$xbar" netlist -o "$out/default_study.cir"

echo "== check: xbar against ngspice (in-process) on the first 2 input vectors"
"$xbar" check -o "$out/check.h5"

echo "== table: effective-weight lookup tables from full solves of random arrays"
"$xbar" table -o "$out/table.h5"
PYTHONPATH=build/python "$python" -m xbar.table_predict "$out/table.h5" "$out/solve.h5" | sed 's/^/  /'

echo "== sweep: R_hat_p x rows x input activity (the [sweep] table of examples/default_study.toml)"
"$xbar" sweep -o "$out/sweep.h5"

echo "== plots"
PYTHONPATH=build/python "$python" -m xbar.plots "$out/solve.h5" "$out/sweep.h5" -o "$out" | sed 's/^/  /'

echo "== outputs in $out/ ($((SECONDS - start)) s after the build)"
