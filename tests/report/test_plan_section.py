"""The report's "What to train next": the table of proposed runs (escaped) and the (N, D) figure on a given axis."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import scalekit
from scalekit.report import figures
from scalekit.report.sections import plan_html

from ..helpers import synthetic_frame


@pytest.fixture(scope="module")
def analysis() -> scalekit.BatchAnalysis:
    df = synthetic_frame(noise=0.005).rename(columns={"loss": "<b>loss</b>"})
    return scalekit.analyze(scalekit.load_batch(df, name="syn"), n_boot=20, form="two_var", checks=False)


def test_the_table_lists_each_proposed_run_in_order_and_escapes_the_metric(analysis):
    name, p = next(iter(analysis.plans.items()))
    html = plan_html(p, name).html
    assert "<b>loss</b>" not in html and "&lt;b&gt;loss&lt;/b&gt;" in html
    body = html.split("<tbody>", 1)[1]
    assert body.count("<tr>") == len(p.runs) > 0
    for h in ("shape: layers × width", "expected 95% interval after", "cumulative FLOP"):
        assert h in html


def test_the_figure_draws_runs_and_numbered_proposals_on_the_axis_given(analysis):
    p = next(iter(analysis.plans.values()))
    fig, ax = plt.subplots()
    out = figures.plan_figure(p, analysis.batch, ax=ax)
    assert out is fig and ax.get_xscale() == ax.get_yscale() == "log"
    labels = {t.get_text() for t in ax.texts}
    numbers = {int(n) for text in labels for n in text.split(",")}
    assert numbers == set(range(1, len(p.runs) + 1))  # every proposed run is labelled by its order
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert all(x0 < r.N < x1 and y0 < r.D < y1 for r in p.runs)
    plt.close(fig)
