"""The two-step prediction section: the fits, the predictions with intervals, and the plain-text report.

Tables come from ``BatchAnalysis.two_step`` (or a :class:`~scalekit.laws.two_step.TwoStepFit`);
every user string (column and run names) is escaped by :func:`~scalekit.report.html.table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ..laws.two_step import TwoStepFit
from ..pipeline.two_step import TwoStep
from .format import fmt
from .html import HTML, table

__all__ = ["two_step_fit_html", "two_step_html", "two_step_text"]


def _ci(ci: dict[str, tuple[float, float]] | None, k: str) -> str:
    return f"[{fmt(ci[k][0])}, {fmt(ci[k][1])}]" if ci and k in ci else "–"


def two_step_fit_html(r: TwoStepFit) -> str:
    """One fit: both steps' parameters with 95% intervals."""
    s1 = r.step1
    rows: list[list[Any]] = [["step 1", k, v, _ci(s1.ci, k)] for k, v in s1.params.items()]
    rows += [["step 2", k, v, _ci(r.ci, k)] for k, v in r.params.items()]
    head = (f"<p><b>Two-step prediction</b> of <b>{escape(r.target)}</b> through <b>{escape(r.intermediate)}</b>: "
            f"step 1 <code>{escape(s1.form.formula)}</code> on {s1.ndata} points; step 2 "
            f"<code>{escape(r.map.formula)}</code> ({escape(r.map.reference)}) on {r.ndata['step2']} points, "
            f"RMSE {fmt(r.rmse)}; joint bootstrap over {r.ndata['runs']} runs ({r.method['n_boot']} resamples).</p>")
    return head + table(["step", "parameter", "estimate", "95% interval"], rows,
                        caption=f"{r.intermediate} -> {r.target}: fitted parameters")


def two_step_html(two_step: Mapping[str, TwoStep]) -> HTML:
    """The report's table: per declared pair (``BatchAnalysis.two_step``), the predictions (value, 95% prediction
    interval, how far beyond the fitted range), then each fit's parameters."""
    block = {k: v.summary() for k, v in two_step.items()}
    rows: list[list[Any]] = []
    notes = []
    for key, e in block.items():
        if e.get("error"):
            notes.append(f"<p>{escape(key)}: no two-step fit: {escape(str(e['error']))}</p>")
            continue
        s2 = e["step2"]
        for p in e.get("predictions", []):
            ext = p.get("extrapolation") or {}
            far = max((v for v in ext.values() if isinstance(v, (int, float))), default=1.0)
            rows.append([e["target"], e["intermediate"], s2["map"], p["where"], p["N"], p["D"], p["intermediate"],
                         p["value"], f"[{fmt(p['lo'])}, {fmt(p['hi'])}]" if p.get("lo") is not None else "–",
                         f"{far:.3g}x" if far > 1 else "inside"])
    tab = table(["target", "intermediate", "step 2", "at", "N", "D", "intermediate predicted", "target predicted",
                 "95% prediction interval", "beyond the fitted range"], rows,
                caption="Two-step predictions: the intermediate by its law, the target by the map")
    fits = "".join(two_step_fit_html(v.fit) for v in two_step.values() if v.fit is not None)
    return HTML(tab + "".join(notes) + fits)


def two_step_text(r: TwoStepFit) -> str:
    """lmfit-style text."""
    lines = [f"[[Two-step fit: {r.intermediate} -> {r.target}]]",
             f"    step 1 = {r.step1.form.formula} ({r.method['step1_points']} points, {r.step1.ndata})",
             f"    step 2 = {r.map.formula} ({r.method['step2_points']} points, {r.ndata['step2']}, "
             f"anchor {r.method['anchor']}), RMSE {r.rmse:.4g}",
             f"    joint bootstrap = {r.method['n_boot']} resamples over {r.ndata['runs']} runs (seed {r.method['seed']})",
             "[[Step 1]]"]
    for k, v in r.step1.params.items():
        lines.append(f"    {k:>6} = {v:.6g}   95% CI {_ci(r.step1.ci, k)}")
    lines.append("[[Step 2]]")
    for k, v in r.params.items():
        lines.append(f"    {k:>6} = {v:.6g}   95% CI {_ci(r.ci, k)}")
    return "\n".join(lines)
