#!/usr/bin/env bash
# Fidelity of the effective-weight tables (issue 5): builds xbar, then runs
# validation/table_fidelity.py (tables for 256x64 and 1152x64 2t-sonos arrays, 20 new random
# arrays each, table vs ideal RMS errors). Outputs in table_fidelity/ (override with
# XBAR_FIDELITY_DIR); extra arguments go to the script (e.g. --cases 256c --arrays 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
PYTHONPATH=build/python /usr/bin/python3 validation/table_fidelity.py --xbar build/cli/xbar \
  --out "${XBAR_FIDELITY_DIR:-table_fidelity}" "$@"
