"""Report figures draw whatever the user's names contain."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pandas as pd

import scalekit
from scalekit.report import figures

from ..helpers import curves_frame, finals_frame


def test_dollars_in_a_metric_name_do_not_break_figures():
    name = "a$_{b$_loss"  # mathtext would parse "_{b" and fail at draw time
    df: pd.DataFrame = finals_frame(metric=name)
    b = scalekit.load_batch(df)
    an = scalekit.analyze(b, n_boot=10, n_boot_optimal=5)
    ma = an.primary
    for fig in (figures.fit_diagnostics(ma.fit), figures.law_contour(ma, b), figures.grid_figure(ma.grid)):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"
        texts = [t.get_text() for ax in fig.axes for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
        if any(name in t for t in texts):
            break
    else:
        raise AssertionError("no figure shows the metric's name")


def test_huge_batches_draw_runs_as_one_image_without_per_run_tooltips(monkeypatch):
    from scalekit.report.svg import figure_html

    b = scalekit.load_batch(finals_frame())
    an = scalekit.analyze(b, n_boot=10, n_boot_optimal=5, form="two_var", checks=False)
    ma = an.primary
    small = figure_html(figures.law_contour(ma, b))
    assert small.count("<title>") == len(b.finals())  # one tooltip per run (the alt text is <title id=...>)
    monkeypatch.setattr(figures, "MAX_TIPS", 5)
    monkeypatch.setattr(figures, "MAX_RUN_LINES", 5)
    for fig in (figures.law_contour(ma, b), figures.envelope_figure(ma, b)):
        svg = figure_html(fig)
        assert svg.count("<title>") == 0 and svg.count("<title id=") == 1  # the alt text only
        assert "<image" in svg  # the runs' markers rasterized


def test_grid_with_many_data_sizes_keeps_its_labels_apart():
    """Checkpoint data sizes can give dozens of grid columns: at most 8 tick labels, no per-cell numbers."""
    import numpy as np

    from scalekit.analyses.grid import Grid

    N, D = np.geomspace(1e8, 1e9, 4), np.geomspace(1e9, 1e11, 40)
    rel = np.linspace(-0.3, 0.1, N.size * D.size).reshape(N.size, D.size)
    g = Grid("loss", "min", N, D, 2 + rel, rel, (float(N[0]), float(D[0])), 2.0)
    ax = figures.grid_figure(g).axes[0]
    assert 1 < len(ax.get_xticklabels()) <= 8 and len(ax.texts) == 0
    few = Grid("loss", "min", N, D[:5], 2 + rel[:, :5], rel[:, :5], (float(N[0]), float(D[0])), 2.0)
    assert len(figures.grid_figure(few).axes[0].texts) == N.size * 5  # small grids keep their numbers


def test_scatters_above_max_points_draw_a_sample_and_say_so(monkeypatch):
    """Every scatter of runs or points draws at most MAX_POINTS markers, and the figure's text names the sample."""
    b = scalekit.load_batch(finals_frame())
    an = scalekit.analyze(b, n_boot=10, n_boot_optimal=5, form="two_var", checks=False)
    ma = an.primary
    n = len(b.finals())
    monkeypatch.setattr(figures, "MAX_POINTS", 7)
    figs = {"diagnostics": figures.fit_diagnostics(ma.fit, b), "contour": figures.law_contour(ma, b),
            "envelope": figures.envelope_figure(ma, b)}
    for name, fig in figs.items():
        counts = [len(c.get_offsets()) for ax in fig.axes[:1] for c in ax.collections if len(c.get_offsets()) > 1]
        assert 7 in counts and max(counts) == 7, (name, counts)
        assert f"A random sample of 7 of the {n} points is drawn." in fig.get_label(), name
    monkeypatch.setattr(figures, "MAX_POINTS", 10_000)
    assert "random sample" not in figures.law_contour(ma, b).get_label()


def test_run_curves_drawn_as_one_collection_follow_each_run_in_order_of_compute(monkeypatch):
    b = scalekit.load_batch(curves_frame())
    an = scalekit.analyze(b, n_boot=10, n_boot_optimal=5, form="two_var", checks=False)
    monkeypatch.setattr(figures, "MAX_RUN_LINES", 2)
    from matplotlib.collections import LineCollection

    fig = figures.envelope_figure(an.primary, b)
    (lines,) = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    f = b.frame.sort_values("C")
    name = an.primary.name
    want = sorted(tuple(zip(g["C"], g[name])) for _, g in f.groupby("run"))
    got = sorted(tuple(map(tuple, seg)) for seg in lines.get_segments())
    assert got == want and len(got) == f["run"].nunique()


def test_importing_and_drawing_figures_leaves_the_users_matplotlib_settings_alone():
    """The report's style and rc keys hold per figure only: a user's session keeps its own rcParams."""
    import subprocess
    import sys

    code = """
import json, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
def snap():
    return {k: repr(v) for k, v in plt.rcParams.items() if k != "backend"}
before = snap()
import scalekit
from scalekit.report import figures
from scalekit.report.svg import figure_html
from tests.helpers import finals_frame
after_import = snap()
b = scalekit.load_batch(finals_frame())
an = scalekit.analyze(b, n_boot=5, n_boot_optimal=5, form="two_var", checks=False)
fig = figures.law_contour(an.primary, b)
svg = figure_html(fig)
after_draw = snap()
print(json.dumps({"import": sorted(k for k in before if before[k] != after_import[k]),
                  "draw": sorted(k for k in before if before[k] != after_draw[k]),
                  "styled": [t.get_parse_math() for t in fig.axes[0].texts + [fig.axes[0].xaxis.label]][:1],
                  "fonttype_none": "<text" in svg}))
"""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True, timeout=300)
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["import"] == [] and got["draw"] == []
    assert got["styled"] == [False]  # the figure itself was still drawn with parse_math off
    assert got["fonttype_none"]  # and its SVG text stays text


def test_the_law_along_each_declared_variable_is_one_panel_per_variable_drawn_into_given_axes():
    import matplotlib.pyplot as plt
    import numpy as np

    from ..data.test_variables import experts_frame

    b = scalekit.load_batch(experts_frame(), variables={"N": "params", "E": "num_experts"}, law="L0 + A * N^-alpha * E^-gamma")
    fit = scalekit.fit_law(b, n_boot=0)
    fig = figures.variable_slices(fit, b)
    assert [ax.get_xlabel() for ax in fig.axes] == ["N", "E"]
    along_e = fig.axes[1]
    curves = [ln for ln in along_e.get_lines() if ln.get_label().startswith("N ")]
    assert 2 <= len(curves) <= 5  # slices at the batch's values of N
    for ln in curves:  # each slice is the law at its N, through the trained E range and 2x beyond
        x, y = ln.get_data()
        N = float(ln.get_label().split()[1].replace("M", "e6").replace("B", "e9").replace("k", "e3"))
        assert x.max() == np.float64(64.0)
        assert np.allclose(y, fit.predict(np.full(x.size, N), x, warn=False), rtol=0.05)  # N from a 3-digit label
    plt.close(fig)
    own = plt.subplots(1, 2)[1]
    assert figures.variable_slices(fit, b, axes=own) is own[0].figure  # drawn into the caller's axes
    plain = scalekit.load_batch(finals_frame())
    assert figures.variable_slices(scalekit.fit_law(plain, n_boot=0), plain) is None  # only N and D: nothing to add
    plt.close("all")
