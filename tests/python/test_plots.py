"""The command-line modules xbar.plots and xbar.sweepfile on files the binary writes: what each
figure draws (read back from the matplotlib figure before it is saved), and a reader piped into
a consumer that stops early."""
import os
import signal
import subprocess
import sys

import h5py
import matplotlib
import numpy as np
import pytest

from conftest import run_xbar
from test_subcommands import CHECK, TABLE  # a small table and check, as the binary writes them
from xbar import plots, sweepfile

matplotlib.use("Agg")

# 7 values on the first axis (the row-error figure has 4 panels), a 0 on the second.
SWEEP = """[array]
rows = 8
cols = 3
cell = "1t1r"
r_row = 1.0
[inputs]
count = 2
[sweep]
"inputs.activity" = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
"array.r_col" = [0.0, 0.1, 1.0, 10.0]
"""

def make(tmp, name, config, command):
    (tmp / f"{name}.toml").write_text(config)
    status, err = run_xbar(command, str(tmp / f"{name}.toml"), "-o", str(tmp / f"{name}.h5"))
    assert status == 0, err
    return str(tmp / f"{name}.h5")


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    return make(tmp_path_factory.mktemp("sweep"), "s", SWEEP, "sweep")


@pytest.fixture
def figures(monkeypatch):
    """Every figure the plots make, by file name, kept open instead of closed after saving."""
    made = {}

    def save(fig, path):
        fig.canvas.draw()  # lays the figure out as savefig would
        made[os.path.basename(path)] = fig
    monkeypatch.setattr(plots, "save", save)
    yield made
    for fig in made.values():
        matplotlib.pyplot.close(fig)


def data_lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 1]


def test_a_swept_zero_stays_on_the_plot_and_the_legend_says_how(tmp, figures, sweep_file):
    plots.plot_sweep(sweep_file, str(tmp))
    fig = figures["s_errors_vs_array.r_col.png"]
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert panels
    for ax in panels:
        # A log axis would drop r_col = 0: the axis is symmetric-log and 0 inside its limits.
        assert ax.get_xscale() == "symlog", ax.get_xscale()
        lo, hi = ax.get_xlim()
        assert lo < 0 < hi or lo == 0, (lo, hi)
        assert all(line.get_xdata()[0] == 0 for line in data_lines(ax))
        # Every curve is drawn to its 0 point, and that point has a hollow marker of its own.
        hollow = [line for line in ax.get_lines() if len(line.get_xdata()) == 1]
        assert len(hollow) == len(data_lines(ax)) and all(line.get_markerfacecolor() == "white" for line in hollow)
    legend = [text.get_text() for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
              for text in legend.get_texts()]
    assert any("array.r_col = 0" in text and "hollow" in text for text in legend), legend


def test_lines_of_a_sweep_with_one_other_axis_have_markers(tmp, figures, sweep_file):
    plots.plot_sweep(sweep_file, str(tmp))
    for name in ("s_errors_vs_array.r_col.png", "s_errors_vs_inputs.activity.png"):
        for ax in figures[name].axes:
            for line in data_lines(ax):
                assert line.get_marker() not in (None, "None", "", " "), (name, line.get_label())


def test_the_row_error_figure_says_which_values_it_shows(tmp, figures, sweep_file):
    plots.plot_sweep(sweep_file, str(tmp))
    fig = figures["s_row_error.png"]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    shown = [t.split(" = ")[1] for t in titles]
    assert len(shown) == 4, titles
    assert f"4 of 7 values of inputs.activity shown ({', '.join(shown)})" in fig._suptitle.get_text(), \
        fig._suptitle.get_text()


def test_a_check_file_gets_the_per_column_figure(tmp, figures):
    path = make(tmp, "c", CHECK, "check")
    plots.plot_solve(path, str(tmp))
    fig = figures["c_check.png"]
    left = fig.axes[0]
    with h5py.File(path) as f:
        current, spice = f["columns/current"][()], f["columns/current_spice"][()]
        tolerance, largest = f.attrs["check_tolerance"], f.attrs["check_max_rel_diff"]
    # Left: the check's own figure, per vector and column; its largest value is the one the
    # check computed (in C++) and stored.
    lines = data_lines(left)
    drawn = np.array([line.get_ydata() for line in lines if line.get_label().startswith("input vector")])
    expected = np.abs(current - spice) / np.abs(spice).max(axis=1, keepdims=True)
    np.testing.assert_allclose(drawn, expected, rtol=1e-12)
    assert drawn.max() == pytest.approx(largest, rel=1e-12)
    limit = [line for line in left.get_lines() if line.get_label().startswith("tolerance")]
    assert len(limit) == 1 and limit[0].get_ydata()[0] == tolerance


def test_a_table_file_gets_a_figure(tmp, figures):
    path = make(tmp, "t", TABLE, "table")
    plots.plot_table(path, str(tmp))
    fig = figures["t_table.png"]
    with h5py.File(path) as f:
        mean, count = f["correction/mean"][()], f["correction/count"][()]
    by_row = fig.axes[0]
    for b, line in enumerate(data_lines(by_row)):
        # Each row bin's ratio: the count-weighted average of its (column bin, level) bins.
        for r in range(mean.shape[0]):
            m, c = mean[r, :, :, b].ravel(), count[r, :, :, b].ravel()
            expected = 100 * (np.average(m[c > 0], weights=c[c > 0]) - 1)
            assert line.get_ydata()[r] == pytest.approx(expected, rel=1e-12)


def test_a_sweep_reader_piped_into_a_consumer_that_stops_ends_quietly(sweep_file):
    path = sweep_file
    read, write = os.pipe()
    os.close(read)  # the consumer has gone before the first line: every write fails
    done = subprocess.run([sys.executable, "-m", "xbar.sweepfile", path], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    os.close(write)
    assert done.stderr == "", done.stderr
    assert done.returncode == -signal.SIGPIPE, done.returncode
    assert sweepfile.load(path).shape == (7, 4)


@pytest.mark.parametrize("make_input, message", [
    (lambda tmp: str(tmp / "missing.h5"), "no such file"),
    (lambda tmp: str(tmp), "is a folder"),
    (lambda tmp: (tmp / "text.h5").write_text("not HDF5\n") and str(tmp / "text.h5"), "cannot be opened as HDF5"),
    (lambda tmp: h5py.File(tmp / "other.h5", "w").close() or str(tmp / "other.h5"), "neither a sweep"),
])
@pytest.mark.parametrize("module", ["xbar.plots", "xbar.sweepfile"])
def test_a_bad_input_file_is_one_line_naming_it_and_exit_2(tmp_path, sweep_file, make_input, message, module):
    path = make_input(tmp_path)
    out = tmp_path / "figures"
    # The bad file after a good one: every file is checked before any figure is drawn.
    args = [sweep_file, path, "-o", str(out)] if module == "xbar.plots" else [path]
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    expected = message if module == "xbar.plots" or message != "neither a sweep" else "not a sweep file"
    assert lines[0].startswith(f"{module}: {path}: ") and expected in lines[0], lines[0]
    assert not out.exists()
