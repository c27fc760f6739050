#!/usr/bin/env bash
# Set-up, build and the main job: the default study (embedded defaults, examples/default_study.toml)
# with its outputs in study/ (override with XBAR_STUDY_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out="${XBAR_STUDY_DIR:-study}"
mkdir -p "$out"
xbar=build/cli/xbar
echo "== solve: 64x64 2t-sonos, 1 ohm per cell on both lines, 16 input vectors"
"$xbar" solve -o "$out/solve.h5"
echo "== netlist: the SPICE deck of input vector 0"
"$xbar" netlist -o "$out/default_study.cir"
echo "== outputs in $out/"
