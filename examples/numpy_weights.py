"""From a NumPy weight matrix to column currents and a plot, in process (the xbar package).

    PYTHONPATH=build/python /usr/bin/python3 examples/numpy_weights.py [OUT.png]

A 64 x 16 layer of zero-peaked signed weights on a 1r array (differential mapping: 32 physical
columns) with bit-line resistance R_hat_p = 1e-4, 8 input vectors: solved outputs against ideal.
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import xbar  # noqa: E402

w = np.random.default_rng(0).laplace(size=(64, 16))
w /= np.abs(w).max()                                      # signed weights in [-1, 1]
cfg = xbar.Config({"array": {"cell": "1r", "r_hat_p": 1e-4}, "mapping": {"scheme": "differential"}})
array = xbar.Crossbar(cfg, weights=w)                     # levels, circuit and solver, once
x = np.random.default_rng(1).uniform(0, 1, (8, 64))       # row i driven at x[i] * v_read
r = array.solve(x)                                        # r.column_current: [8, 32] (A)
plt.plot(1e6 * r.output_ideal.ravel(), 1e6 * r.output.ravel(), ".")
plt.xlabel("ideal output (µA)"), plt.ylabel("solved output (µA)"), plt.axline((0, 0), slope=1, lw=0.5)
plt.savefig(sys.argv[1] if len(sys.argv) > 1 else "numpy_weights.png", dpi=100)
error = np.sqrt(np.mean((r.output - r.output_ideal) ** 2) / np.mean(r.output_ideal ** 2))
print(f"{array}: output error {100 * error:.3g} % rms of the ideal, {r.solve_time * 1e3:.2f} ms")
