#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/
# (RelWithDebInfo: optimised, with line numbers in reports). A sanitizer report fails the test
# that triggered it: UBSan stops at the first error, ASan/LSan end the process with status != 0,
# and the command-line tests also see the report as extra stderr lines. Leaks inside libngspice
# itself are suppressed (tests/lsan.supp). Prints ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXBAR_SANITIZE=ON >/dev/null
cmake --build build-asan --parallel "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
cd build-asan
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
