"""The law-selection section: the backtest table, the form chosen and why, and the chosen law's parameters."""

from __future__ import annotations

from html import escape
from typing import Any

from ..analyses.metric import MetricAnalysis
from ..laws.forms import ROLES
from ..laws.select import Selection
from .format import fmt
from .html import HTML, table

__all__ = ["law_selection", "selection_table"]


def selection_table(sel: Selection) -> str:
    """The backtest table: one row per form, the chosen one marked."""
    rows: list[list[Any]] = []
    for r in sel.rows:
        rows.append([("* " if r.form == sel.chosen else "") + r.form, r.n_params, r.heldout,
                     "" if r.rel_error is None else f"{r.rel_error:+.2%}",
                     "" if r.abs_rel_error is None else f"{r.abs_rel_error:.2%}",
                     "" if r.median_abs_rel_error is None else f"{r.median_abs_rel_error:.2%}",
                     ("—" if r.heldout else "") if r.coverage is None else f"{r.coverage:.0%}", r.note])
    windows = "; ".join(f"{w['window']} ({len(w['runs'])} runs)" for w in sel.windows) or "none"
    caption = f"Backtest of {sel.metric}: windows {windows}"
    if any(r.coverage is None and r.heldout for r in sel.rows):
        caption += "; 95% coverage measured for the chosen form only (option backtest_coverage: all for every form)"
    return table(["form", "parameters", "held-out predictions", "signed rel. error", "mean abs. rel. error",
                  "median abs. rel. error (ranked by)", "95% coverage", "note"], rows, caption=caption)


def law_selection(ma: MetricAnalysis) -> HTML:
    """The chosen form with its formula, the reason, the backtest table and the chosen fit's parameters."""
    sel = ma.selection
    law = ma.law or ma.fit
    if law is None:
        return HTML("")
    if sel is None:
        return HTML(f"<p>The form <b>{escape(law.form.name)}</b> (<code>{escape(law.form.formula)}</code>) was pinned "
                    "in the options; no backtest was run (set <code>form: auto</code> to choose by backtest).</p>")
    cov = sel.coverage
    covtxt = (f" Its 95% prediction intervals held {cov:.0%} of the held-out runs." if cov is not None else "")
    params = ", ".join(f"{escape(k)} = {fmt(v)}" + (f" [{fmt(law.ci[k][0])}, {fmt(law.ci[k][1])}]" if law.ci else "")
                       for k, v in law.params.items())
    if len(law.form.variables) == 1 and ma.fit is not None:
        extra = (f"<p>{escape(law.form.name)} is a law in one variable: targets, profiles and Approach 3 below use the "
                 "additive law L(N, D), fitted beside it; where the two disagree, trust the chosen form's predictions.</p>")
    elif ma.nd_slice is not None:
        held = ", ".join(f"{k} = {fmt(v)}" for k, v in (ma.nd_slice.method.get("sliced_at") or {}).items())
        extra = (f"<p>{escape(law.form.name)} reads {escape(', '.join(law.form.variables))}: targets, profiles and "
                 f"Approach 3 below read it along N and D at {escape(held)} (the best run's).</p>")
    else:
        extra = ""
    role = ROLES.get(law.form.name) or getattr(law.form, "reference", "")
    return HTML(f"<p>Chosen form: <b>{escape(law.form.name)}</b>" + (f", {escape(role)}" if role else "") + ": "
                f"<code>{escape(law.form.formula)}</code>. {escape(sel.reason)}{escape(covtxt)}</p>"
                f"<p>Parameters (95% bootstrap intervals): {params}.</p>{extra}" + selection_table(sel))
