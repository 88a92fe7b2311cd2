"""How each result is shown: HTML fragments and plain text, dispatched on the result's type.

Results call these through :mod:`scalekit.display` (their ``_repr_html_`` and ``report()``), so
the result classes hold numbers only. A result without its own renderer is shown from its
``summary()``.
"""

from __future__ import annotations

from dataclasses import is_dataclass
from functools import singledispatch
from html import escape
from typing import Any

from ..analyses.metric import MetricAnalysis
from ..analyses.optimal import Comparison
from ..analyses.plan import Plan
from ..analyses.sweeps import Sweep
from ..checks.base import Finding
from ..data.batch import Batch
from ..laws.result import FitResult
from ..laws.schedule_law import ScheduleLawFit
from ..laws.select import Selection
from ..laws.two_step import TwoStepFit
from ..pipeline.analyze import BatchAnalysis
from .format import compute, fmt, params, prose
from .html import table
from .lawforms import selection_table
from .sections import batch_html, findings_summary, headline, schedule_law_html, sweep_html
from .two_step import two_step_fit_html, two_step_text

__all__ = ["to_html", "to_text"]


def _short(v: Any) -> str:
    if isinstance(v, float):
        return fmt(v)
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return f"[{fmt(v[0])}–{fmt(v[1])}]"
    s = fmt(v)
    return s if len(s) <= 160 else s[:157] + "..."


def _summary_items(obj: Any) -> list[tuple[str, Any]]:
    summary = getattr(obj, "summary", None)
    return list(summary().items()) if callable(summary) else []


@singledispatch
def to_html(obj: Any) -> str:
    """An escaped HTML fragment for ``obj`` (generic: its ``summary()`` as a two-column table)."""
    if not is_dataclass(obj):
        return f"<pre>{escape(repr(obj))}</pre>"
    return table(["", ""], [[k, _short(v)] for k, v in _summary_items(obj)], caption=type(obj).__name__)


@singledispatch
def to_text(obj: Any) -> str:
    """Plain text for ``obj`` (generic: its ``summary()``, one field a line)."""
    lines = [f"[[{type(obj).__name__}]]"]
    lines += [f"    {k:>24} = {_short(v)}" for k, v in _summary_items(obj)]
    return "\n".join(lines)


@to_html.register
def _(obj: FitResult) -> str:
    rows = []
    for k, v in obj.params.items():
        lo, hi = obj.ci[k] if obj.ci else (None, None)
        rows.append([k, v, obj.stderr[k] if obj.stderr else None, lo, hi])
    head = (f"<p><b>{escape(obj.metric)}</b>: <code>{escape(obj.form.formula)}</code>, fitted to "
            f"{escape(obj.fitted_quantity)} on {'log' if obj.residual_scale == 'log' else 'linear'} residuals"
            f"{'' if obj.residual_scale == 'log' else ' (the metric has values <= 0, which have no log, or linear residuals were asked for)'}"
            f"; {obj.ndata} points, objective {fmt(obj.objective, 6)}, "
            f"{'converged' if obj.success else 'NOT converged'}.</p>")
    return head + table(["parameter", "estimate", "std. error", "95% lo", "95% hi"], rows)


@to_text.register
def _(obj: FitResult) -> str:
    m = obj.method
    lines = [
        f"[[Fit: {obj.metric}]]  {obj.form.formula}",
        f"    fitted quantity = {obj.fitted_quantity} ({'higher' if obj.direction == 'max' else 'lower'} is better)",
        f"    loss = {m['loss']}" + (f" (delta {m['delta']:g})" if m["loss"] == "huber" else "")
        + (" on log residuals, summed" if obj.residual_scale == "log" else
           " on linear residuals (predicted minus observed, over the median |value|; the metric has values <= 0 or "
           "residuals: linear was asked), summed"),
        f"    residual scale = {obj.residual_scale}",
        f"    data points = {obj.ndata}, free parameters = {obj.nfree}, starts = {m['starts']}, "
        f"bootstrap = {m['n_boot']} (seed {m['seed']})",
        f"    objective = {obj.objective:.10g}, AIC = {obj.aic:.4f}, BIC = {obj.bic:.4f}, success = {obj.success}",
        f"    {obj.message}",
        "[[Parameters]]",
    ]
    for k, v in obj.params.items():
        s = f"    {k:>6} = {v:.6g}"
        if obj.stderr:
            s += f" +/- {obj.stderr[k]:.3g}"
        if obj.ci:
            lo, hi = obj.ci[k]
            s += f"   95% CI [{lo:.6g}, {hi:.6g}]"
        lines.append(s)
    if obj.excluded:
        lines.append("[[Excluded points]]")
        lines += [f"    {e['run']}: {e['reason']}" for e in obj.excluded]
    if m.get("selection"):
        lines += _selection_lines(m["selection"])
    return "\n".join(lines)


@to_text.register
def _(obj: Plan) -> str:
    s = obj.summary()
    now = s["interval_now"]
    lines = [f"[[What to train next]]  decision: {s['decision']['label']}",
             f"    estimate {obj.estimate:.4g}; 95% interval now [{now[0]:.4g}, {now[1]:.4g}] (delta method)"
             + (f", [{s['interval_now_bootstrap'][0]:.4g}, {s['interval_now_bootstrap'][1]:.4g}] (bootstrap)"
                if s["interval_now_bootstrap"] else ""),
             f"    allowance {obj.allowance:.3g} FLOPs (C = {obj.k:g} N D); each pick shrinks the interval most per FLOP",
             f"    {'#':>3} {'N':>10} {'D':>10} {'FLOPs':>10} {'interval after':>24} {'cumulative':>11}  shape (layers x width)"]
    for i, r in enumerate(s["runs"], 1):
        lo, hi = r["interval_after"]
        sh = r["shape"]
        shape = "-" if sh is None else f"{sh['layers']} x {sh['d_model']}"
        after = f"[{lo:.4g}, {hi:.4g}]"
        lines.append(f"    {i:>3} {r['N']:>10.3g} {r['D']:>10.3g} {r['flops']:>10.3g} {after:>24} {r['cumulative_flops']:>11.3g}  {shape}")
    if not s["runs"]:
        lines.append("    no candidate run fits the allowance or narrows the interval")
    return "\n".join(lines)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.2%}"


def _selection_lines(sel: dict[str, Any]) -> list[str]:
    """The backtest behind ``form="auto"``: every form tried, its held-out errors, which was chosen and why."""
    windows = "; ".join(f"{w['window']} ({len(w['runs'])} runs)" for w in sel.get("windows", [])) or "none"
    lines = [f"[[Form selection]]  backtest windows: {windows}",
             f"    {'form':<18} {'held-out':>8} {'median err':>10} {'worst err':>10}  chosen  note"]
    for r in sel.get("table", []):
        chosen = "*" if r["form"] == sel.get("chosen") else ""
        lines.append(f"    {r['form']:<18} {r['heldout']:>8} {_pct(r.get('median_abs_rel_error')):>10} "
                     f"{_pct(r.get('max_abs_rel_error')):>10}  {chosen:^6}  {r.get('note') or ''}".rstrip())
    lines.append(f"    reason: {sel.get('reason', '')}")
    return lines


def _evidence(v: Any) -> str:
    if isinstance(v, (float, bool)) or v is None:
        return fmt(v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_evidence(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return ", ".join(_evidence(x) for x in v[:12]) + f", ... ({len(v)} in all)"
    if isinstance(v, (list, tuple)):
        return ", ".join(_evidence(x) for x in v)
    return prose(str(v))


@to_html.register
def _(obj: Finding) -> str:
    ev = "".join(f"<li><code>{escape(str(k))}</code>: {escape(_evidence(v))}</li>" for k, v in obj.evidence.items())
    return (f'<div class="sk-finding sk-{escape(obj.severity)}"><b>[{escape(obj.severity)}] {escape(obj.title)}</b>'
            f"{' (' + escape(obj.metric) + ')' if obj.metric else ''}<p>{escape(prose(obj.message))}</p>"
            f"<p><i>Why it matters:</i> {escape(obj.why)}</p><p><i>What to do:</i> {escape(obj.remedy)}</p>"
            f"<details><summary>evidence</summary><ul>{ev}</ul></details></div>")


@to_html.register
def _(obj: Comparison) -> str:
    rows: list[list[Any]] = []
    for k, v in obj.laws.items():
        if v.ok:
            rows.append([k, v.a, f"[{fmt(v.a_ci[0])}–{fmt(v.a_ci[1])}]" if v.a_ci else "–", v.b,
                         f"[{fmt(v.b_ci[0])}–{fmt(v.b_ci[1])}]" if v.b_ci else "–", params(float(v.N_opt(obj.C_ref))),
                         v.n_points])
        else:
            rows.append([k, None, "–", None, "–", None, prose("; ".join(v.notes[:1]))])
    return (table(["approach", "a (N_opt ∝ C^a)", "95% CI", "b (data ∝ C^b)", "95% CI", f"N_opt at {compute(obj.C_ref)}",
                   "points"], rows, caption="The approaches compared at the largest trained compute")
            + f"<p>{escape(prose(obj.sentence))}</p>")


@to_html.register
def _(obj: Batch) -> str:
    return batch_html(obj)


@to_html.register
def _(obj: BatchAnalysis) -> str:
    return headline(obj).html + findings_summary(obj).html


@to_text.register
def _(obj: BatchAnalysis) -> str:
    counted = f"C counted as {obj.batch.compute}" if obj.batch.has_data_size else "no data size, so no compute"
    lines = [f"[[Batch {obj.batch.name}]] {obj.batch.runs} runs, {obj.batch.rows} rows, {counted}"]
    for m in obj.metrics.values():
        lines.append(to_text(m.fit) if m.fit is not None else f"[[Fit: {m.name}]] failed: {m.fit_error}")
        if m.comparison is not None:
            lines.append(f"    optimal: {m.comparison.sentence}")
    lines.append(f"[[Findings]] {len(obj.findings)}")
    lines += [f"    [{f.severity}] {f.check} ({f.metric or 'batch'}): {f.message}" for f in obj.findings]
    return "\n".join(lines)


@to_html.register
def _(obj: MetricAnalysis) -> str:
    if obj.fit is not None:
        return to_html(obj.fit)
    return f"<p>{escape(obj.name)}: the law could not be fitted: {escape(obj.fit_error or '')}</p>"


@to_html.register
def _(obj: Sweep) -> str:
    return sweep_html(obj).html


@to_html.register
def _(obj: ScheduleLawFit) -> str:
    return schedule_law_html(obj).html


@to_html.register
def _(obj: Selection) -> str:
    return selection_table(obj)


@to_html.register
def _(obj: TwoStepFit) -> str:
    return two_step_fit_html(obj)


@to_text.register
def _(obj: TwoStepFit) -> str:
    return two_step_text(obj)
