#pragma once
// XBAR_ISA_CLONES: a hot loop compiled for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the
// x86-64 baseline, the widest variant the CPU runs picked when the program loads (GCC's function
// multiversioning). The grid files that use it are compiled with -ffp-contract=off
// (solver/CMakeLists.txt): no variant fuses a multiply and an add, so all of them round alike
// (what the grid computes from the device loads does not depend on the machine; the EKV kernel's
// own variants, devices/ekv_batch.cpp, agree to a few ulp).
// Every call in such a function is inlined into each variant (flatten): a lambda or a helper left
// out of line would be compiled for the baseline alone.
#define XBAR_ISA_CLONES [[gnu::target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), gnu::flatten]]
