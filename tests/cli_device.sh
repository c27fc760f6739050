#!/usr/bin/env bash
# End to end through the command line: xbar characterize -> DEVICE.h5 -> solve with
# [select] model = "table"; xbar fit -> a [select] snippet that is itself a config; bad input
# exits 2 with one line and no output file.  Usage: cli_device.sh XBAR EXAMPLES_DIR
set -euo pipefail
xbar=$1
examples=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
card=("$examples/nch40_bsim4.cir" --device nch40 --w 120e-9 --l 40e-9)

"$xbar" characterize "${card[@]}" --vg-step 0.05 --v-step 0.02 --check-points 50 -q -o "$dir/nch40.h5"
# select.file = "nch40.h5" is relative to the config's folder, not the working one.
cp "$examples/1t1r_nch40.toml" "$dir/"
(cd / && "$xbar" solve "$dir/1t1r_nch40.toml" -q -o "$dir/solve.h5")
test -s "$dir/solve.h5"

"$xbar" fit "${card[@]}" -q -o "$dir/fit.toml"
grep -q '^model = "ekv"' "$dir/fit.toml"
"$xbar" solve "$dir/fit.toml" --set array.rows=8 --set array.cols=8 -q -o "$dir/fitted.h5"

# -c CONFIG gives the biases; the file's [select] may name the table about to be made (no such
# file yet) and is left out, while a --set select key is taken as given.
printf '[bias]\nv_read = 0.2\n[select]\nmodel = "table"\nfile = "made_next.h5"\n' >"$dir/next.toml"
"$xbar" fit "${card[@]}" -c "$dir/next.toml" -q -o "$dir/fit_next.toml"
status=0
"$xbar" fit "${card[@]}" -c "$dir/next.toml" --set select.model=table --set select.file=absent.h5 -q 2>"$dir/err" || status=$?
test "$status" -eq 2
grep -q "absent.h5" "$dir/err"

status=0
"$xbar" characterize "$examples/nch40_bsim4.cir" --device nch40 -o "$dir/bad.h5" 2>"$dir/err" || status=$?
test "$status" -eq 2
grep -q "needs the device size" "$dir/err"
test "$(wc -l <"$dir/err")" -eq 1
test ! -e "$dir/bad.h5"
echo "cli_device: ok"
