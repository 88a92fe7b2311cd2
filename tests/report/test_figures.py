"""Report figures draw whatever the user's names contain."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pandas as pd

import scalekit
from scalekit.report import figures

from ..helpers import finals_frame


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
