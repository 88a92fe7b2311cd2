"""The report's sections as escaped HTML fragments: what the notebooks display.

The notebooks stay thin: every number comes from :func:`scalekit.analyze`; these functions only
turn results into HTML, escaping every user string (batch, run, metric and column names, and
error texts that quote them). Notebooks build no HTML themselves.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import numpy as np

from .. import __version__, display
from ..analyses.bottom_line import BottomLine
from ..analyses.hparams_at_scale import HparamsAtScale
from ..analyses.metric import MetricAnalysis
from ..analyses.plan import Plan, interval_width
from ..analyses.profiles import Allocation, Target
from ..analyses.sweeps import Sweep
from ..data.batch import Batch
from ..data.ranges import TrainedRange
from ..laws.result import FitResult
from ..laws.schedule_law import ScheduleLawFit
from ..options import report_command
from ..pipeline.analyze import BatchAnalysis
from ..pipeline.compare import MetricComparison
from .format import compute, data, factor, fmt, fmt_ci, interval, metric_value, num, params, pct, prose
from .html import HTML, paragraph, slug, table
from .two_step import two_step_html

__all__ = [
    "allocations_html",
    "along_html",
    "batch_html",
    "beyond_label",
    "bottom_line",
    "cap_html",
    "compare_title",
    "comparison_heading",
    "comparison_sentence",
    "comparison_table",
    "findings_summary",
    "fit_failed",
    "goodness",
    "heading",
    "headline",
    "hparams_answers_html",
    "hparams_details_html",
    "method",
    "no_findings",
    "no_grid",
    "optimal_notes",
    "overview",
    "plan_html",
    "reproduce",
    "schedule_law_html",
    "skipped",
    "sweep_html",
    "targets_html",
    "title",
    "two_step_html",
]


def batch_html(batch: Batch) -> str:
    r = batch.ranges()
    rows: list[list[Any]] = [
        ["runs", batch.runs], ["rows", batch.rows],
        ["model size N", f"{params(r['N'][0])} to {params(r['N'][1])} ({batch.frame['N'].nunique()} sizes)"],
        *([[f"data D ({batch.data_unit})", f"{data(r['D'][0], batch.data_unit)} to {data(r['D'][1], batch.data_unit)}"],
           [f"compute C ({batch.compute})", f"{compute(r['C'][0])} to {compute(r['C'][1])}"]] if batch.has_data_size else
          [["data D", "none: the batch has no data size"]]),
        *([f"{k} ({', '.join(batch.config.variables.get(k, ('unique_tokens',) if k == 'U' else (k,)))})",
           f"{num(lo)} to {num(hi)} ({batch.frame[k].nunique()} values)"] for k, (lo, hi) in r.items() if k not in ("N", "D", "C")),
        ["metrics", ", ".join(f"{m.name} ({'lower' if m.direction == 'min' else 'higher'} is better)"
                              for m in batch.metrics.values())],
        ["excluded runs", len(batch.excluded)],
    ]
    out = table(["", ""], rows, caption=f"Batch {batch.name}")
    if batch.excluded:
        out += table(["run", "reason"], [[e.run, e.reason] for e in batch.excluded], caption="Excluded runs")
    return out



def targets_html(targets: list[Target], metric: str, unit: str = "tokens", rng: TrainedRange | None = None,
                 extrapolation_factor: float = 2.0) -> HTML:
    rows = [[pct(t.improvement), metric_value(t.value), params(t.N), data(t.D, unit), compute(t.C), factor(t.compute_multiple),
             prose(t.note) or beyond_label(rng.distance(N=t.N, D=t.D, C=t.C) if rng else None, extrapolation_factor)]
            for t in targets]
    return HTML(table(["better by", f"target {metric}", "N", "D", "C", "× compute of best run", "beyond the trained range"],
                      rows, caption=f"Cheapest run predicted to reach each target ({metric})"))


def allocations_html(allocs: list[Allocation], metric: str, unit: str = "tokens", rng: TrainedRange | None = None,
                     extrapolation_factor: float = 2.0) -> HTML:
    rows = [[compute(a.C), fmt_ci(a.N, a.N_ci, params), f"{fmt_ci(a.D, a.D_ci, params)} {unit}",
             fmt_ci(a.value, a.value_ci), "capped" if a.capped else "",
             beyond_label(rng.distance(N=a.N, D=a.D, C=a.C) if rng else None, extrapolation_factor)]
            for a in allocs]
    return HTML(table(["budget C", "optimal N [95%]", "optimal D [95%]", f"predicted {metric} [95%]", "",
                       "beyond the trained range"], rows, caption=f"Compute-optimal allocation at each budget ({metric})"))


def overview(batch: Batch) -> HTML:
    notes = "".join(f"<li>{escape(n)}</li>" for n in batch.notes)
    desc = f"<p>{escape(batch.config.description)}</p>" if batch.config.description else ""
    return HTML(desc + batch_html(batch) + (f"<ul>{notes}</ul>" if notes else ""))


def findings_summary(an: BatchAnalysis) -> HTML:
    c = an.counts()
    if not an.findings:
        return HTML('<p class="sk-clean">No limitation check fired: within the checks run, '
                    'the laws below can be used as fitted.</p>')
    items = "".join(
        f'<li class="sk-{escape(f.severity)}"><b>{escape(f.severity)}</b> &mdash; {escape(f.title)}'
        f"{' (' + escape(f.metric) + ')' if f.metric else ''}: {escape(prose(f.message))}</li>" for f in an.findings)
    return HTML(f"<p>{c['critical']} critical, {c['warning']} warning(s), {c['info']} note(s).</p>"
                f"<ul class='sk-findings'>{items}</ul>")


def _floor_text(ma: MetricAnalysis, law: FitResult) -> str:
    """The law's floor E on the metric's own scale (a ceiling bound − E for a higher-is-better metric), or "–"."""
    p, ci = law.params, law.ci or {}
    if "E" not in p:
        return "–"
    if ma.spec.direction == "max":  # the floor of the error is a ceiling of the metric: show it on the metric's scale
        bound = ma.spec.bound if ma.spec.bound is not None else 1.0
        eci = ci.get("E")
        return f"{ma.name} ceiling = {num(bound)} − E = " + fmt_ci(bound - p["E"], [bound - eci[1], bound - eci[0]] if eci else None)
    return f"floor E = {fmt_ci(p['E'], ci.get('E'))}"


def _params_text(law: FitResult) -> str:
    ci = law.ci or {}
    return ", ".join(f"{k} = {fmt_ci(v, ci.get(k))}" for k, v in law.params.items())


def headline(an: BatchAnalysis) -> HTML:
    """The law each metric's report uses (chosen by backtest or pinned), then the additive law labelled as a comparison."""
    rows = []
    for m in an.metrics.values():
        law = m.law or m.fit
        if law is None:
            rows.append([m.name, "fit failed: " + (m.fit_error or ""), None, None, None, None])
            continue
        opt = m.optimal.get("parametric")
        better = "lower" if m.spec.direction == "min" else "higher"
        rows.append([m.name, better, law.form.name, _params_text(law), _floor_text(m, law), fmt(opt.a) if opt and opt.ok else "–"])
        if m.fit is not None and m.fit is not law:
            rows.append([m.name, better, "additive (comparison only)", _params_text(m.fit), _floor_text(m, m.fit), "–"])
    other = any(r[2] == "additive (comparison only)" for r in rows)
    return HTML(table(["metric", "better", "law", "parameters [95%]", "floor or ceiling [95%]", "a (N_opt ∝ C^a)"], rows,
                      caption="The law per metric: the form chosen by backtest (or pinned), with 95% intervals"
                      + ("; the additive law fitted beside it is shown for comparison only" if other else "")))


def additive_comparison(ma: MetricAnalysis) -> HTML:
    """The additive law fitted beside a chosen form, labelled as a comparison (empty when it is the chosen law)."""
    law = ma.law or ma.fit
    if ma.fit is None or ma.fit is law:
        return HTML("")
    assert law is not None
    return HTML(f'<details class="sk-comparison"><summary>For comparison only: the additive law E + A/N^α + B/D^β, fitted '
                f"beside the {escape(law.form.name)} law this report uses</summary>"
                f"<p>The checks about the runs (convergence, overfitting, returns) read its terms; its parameters are not "
                f"this batch's law.</p>{display.html(ma.fit)}</details>")


def goodness(ma: MetricAnalysis) -> HTML:
    f = ma.law or ma.fit
    assert f is not None  # shown only for a metric with a fitted law
    r = f.residuals
    rows: list[list[Any]] = [
        ["points fitted", f.ndata, f"{f.method.get('points')} checkpoints"],
        ["objective (summed loss)", f.objective, f.method["loss"]],
        *([["RMSE of log residuals", float(np.sqrt(np.mean(r ** 2))), "about the typical relative error"],
           ["max |log residual|", float(np.max(np.abs(r))), ""]] if f.residual_scale == "log" else
          [["RMSE of residuals", float(np.sqrt(np.mean(r ** 2))),
            f"in {f.metric}'s own units: fitted on linear residuals, as the metric has values of zero or below"],
           ["max |residual|", float(np.max(np.abs(r))), ""]]),
        ["AIC / BIC", f"{num(f.aic)} / {num(f.bic)}", f"Gaussian, {f.residual_scale} residuals"],
        ["converged", f.success, f.message]]
    return HTML(table(["", "value", "note"], rows, caption=f"Goodness of fit ({ma.name}, {f.form.name} law)"))


def method(ma: MetricAnalysis, an: BatchAnalysis) -> HTML:
    f = ma.law or ma.fit
    assert f is not None  # shown only for a metric with a fitted law
    m = dict(f.method)
    rows = [[k, ", ".join(fmt(x) for x in v) if isinstance(v, (list, tuple)) else
             json.dumps(v) if isinstance(v, dict) else v] for k, v in m.items()]
    rows.append(["excluded points", "; ".join(f"{e['run']}: {e['reason']}" for e in f.excluded) or "none"])
    rows.append(["scalekit", __version__])
    return HTML(table(["setting", "value"], rows, caption=f"How {ma.name} was fitted ({f.form.name} law; enough to reproduce it)"))


def optimal_notes(ma: MetricAnalysis) -> HTML:
    items = []
    for name, law in ma.optimal.items():
        for n in law.notes:
            items.append(f"<li><b>{escape(name)}</b>: {escape(prose(n))}</li>")
    return HTML(f"<ul>{''.join(items)}</ul>" if items else "")


def cap_html(ma: MetricAnalysis, unit: str = "tokens", rng: TrainedRange | None = None,
             extrapolation_factor: float = 2.0) -> HTML:
    c = ma.cap
    if c is None:
        return HTML("<p>No cap on model size was given (set <code>max_params</code> in the batch config).</p>")
    ci = f" {interval(c.floor_ci[0], c.floor_ci[1])}" if c.floor_ci else ""
    tgt = (f"Reaching the target {fmt(c.target_value)} at N = {params(c.max_params)} needs D = {data(c.D_for_target, unit)} "
           f"(C = {compute(c.C_for_target)})." if c.D_for_target else
           f"The target {fmt(c.target_value)} cannot be reached at N = {params(c.max_params)} with any amount of data.")
    return HTML(f"<p>With model size capped at N = {params(c.max_params)}, the best {escape(ma.name)} reachable with "
                f"unlimited data is {fmt(c.floor)}{escape(ci)}. {escape(tgt)}</p>"
                + allocations_html(list(c.allocations), ma.name, unit, rng, extrapolation_factor).html)


def title(batch: Batch) -> HTML:
    return HTML(f'<h1 class="sk-title">Scaling-law report: {escape(batch.name)}</h1>'
                f'<p class="sk-sub">{batch.runs} runs, {batch.rows} rows, source <code>{escape(batch.source)}</code></p>')


def heading(text: str, level: int = 3) -> HTML:
    return HTML(f"<h{level}>{escape(text)}</h{level}>")


def comparison_table(rows: list[dict[str, Any]]) -> HTML:
    body = [[r["batch"], r["metric"], *(fmt_ci(r[k], r[f"{k}_ci"]) for k in ("alpha", "beta", "E", "a")), r["runs"]]
            for r in rows]
    return HTML(table(["batch", "metric", "alpha", "beta", "E", "a", "runs"], body, caption="Exponents side by side",
                      csv_name="exponents"))


def fit_failed(ma: MetricAnalysis) -> HTML:
    """The note shown where a metric's law could not be fitted (the error text escaped)."""
    return paragraph(prose(f"The law could not be fitted: {ma.fit_error}"))


def _variables_words(bl: BottomLine) -> str:
    """Which variables the law reads, and where its answers in N and D hold the others."""
    if not bl.variables:
        return ""
    held = ", ".join(f"{k} = {num(v)}" for k, v in bl.held_at.items())
    where = (f" Its answers in N and D below hold {held} (the best run's)." if held else "")
    return (f'<p class="sk-variables">The {escape(bl.form or "")} law reads <b>{escape(", ".join(bl.variables))}</b>.'
            f"{escape(where)}</p>")


def along_html(bl: BottomLine) -> str:
    """Predictions beyond the trained range along each of the law's variables, the others at the best run's values."""
    rows = []
    for p in bl.along:
        others = ", ".join(f"{k} {num(v)}" for k, v in p["at"].items() if k != p["variable"])
        dist = ", ".join(f"{k} {factor(v)}" for k, v in p["extrapolation"].items() if v is not None and v > 1.0) or "inside"
        rows.append([p["variable"], f"{factor(p['factor'])} its largest: {num(p['at'][p['variable']])}", others,
                     fmt_ci(p["value"], [p["lo"], p["hi"]] if p["lo"] is not None else None), dist])
    return table(["variable", "moved to", "others held at (best run)", f"predicted {bl.metric} [95%]", "beyond the trained range"],
                 rows, caption=f"{bl.metric} along each variable of the {bl.form} law",
                 csv_name=f"{bl.metric} along each variable")


def skipped(ma: MetricAnalysis) -> HTML:
    """Why an analysis in N and D is left out for this metric (a batch without a data size), or nothing."""
    return paragraph(f"{ma.name}: {prose(ma.skipped)}." if ma.skipped else "")


def no_grid(ma: MetricAnalysis) -> HTML:
    return paragraph(f"{ma.name}: the runs do not form a grid of model and data scales.")


def no_findings() -> HTML:
    return paragraph("No check fired.")


def compare_title(summaries: list[Any], rows: list[dict[str, Any]]) -> HTML:
    return HTML(f"<h1>Batches compared</h1><p>{len(summaries)} batch(es), {len(rows)} fitted metric(s).</p>")


def comparison_heading(mc: MetricComparison) -> HTML:
    return heading(mc.metric)


def comparison_sentence(mc: MetricComparison | None) -> HTML:
    if mc is None:
        return paragraph("No metric was fitted in two or more batches.")
    return paragraph(prose(mc.sentence))


def section(title: str) -> HTML:
    """A section heading for a part of the report shown only when the batch has it."""
    return HTML(f"<h2>{escape(title)}</h2>")


def inference_html(ma: MetricAnalysis) -> HTML:
    """The inference-aware optimum (Sardana et al. 2024) at the target and at each budget, per inference demand."""
    if ma.inference_note:
        return paragraph(f"{ma.name}: {ma.inference_note}.")
    rows: list[list[Any]] = []
    for r in ma.inference:
        where = f"budget C = {fmt(r.budget)}" if r.budget is not None else f"target {fmt(r.target)}"
        sav = f"{r.saving:.1%}" + (f" [{r.saving_ci[0]:.1%}, {r.saving_ci[1]:.1%}]" if r.saving_ci else "")
        rows.append([where, r.inference_tokens, fmt_ci(r.N, r.optimum.N_ci), fmt_ci(r.D, r.optimum.D_ci), r.training_flops,
                     r.inference_flops, r.total_flops, r.compute_optimal.N, r.compute_optimal.total_flops, sav])
    return HTML(table(["reaching", "inference tokens", "N [95%]", "D [95%]", "training FLOP", "inference FLOP", "total FLOP",
                       "compute-optimal N", "its total FLOP", "saving [95%]"], rows,
                      caption=f"{ma.name}: the model that minimises training plus inference compute"))


def transfer_html(transfers: dict[str, Any]) -> HTML:
    """Loss-to-loss maps from the primary loss to the batch's other losses, and how far they hold out."""
    rows: list[list[Any]] = []
    for t in transfers.values():
        if t.map is None:
            rows.append([t.source, t.target, "–", "–", "–", "–", "–", "–", "–", t.error or "no map"])
            continue
        p, bt = t.map.params, t.backtest
        rows.append([t.source, t.target, p["K"], p["kappa"], p["E_A"], p["E_B"], f"{t.map.rmse:.2%}",
                     "–" if bt is None else f"{bt.error_via_map:.2%}", "–" if bt is None else f"{bt.error_own_law:.2%}",
                     "fits" if t.fits_well else "does not fit"])
    return HTML(table(["source", "target", "K", "kappa", "E_A", "E_B", "RMSE (relative)", "held-out error via map",
                       "held-out error, own law", "map"], rows,
                      caption="L_target = K (L_source - E_A)^kappa + E_B, fitted over every run and checkpoint"))


def sweep_html(sw: Sweep) -> HTML:
    """A declared sweep: its sentence, the best run per cell and, per hyperparameter, how the best value moves with N."""
    cols = ["N", "D", "run", "value", "runs", *sw.hparams]
    rows = [[r.get(c) for c in cols] for r in sw.best.to_dict(orient="records")]
    moves = [[h, m.get("k"), fmt_ci(m["k"], m.get("k_ci")) if m.get("k") is not None else m.get("note", "–"),
              ", ".join(f"{v:.3g} at N={n}" for n, v in (m.get("at_N") or {}).items())] for h, m in sw.moves.items()]
    return HTML(paragraph(sw.sentence()).html
                + table(["hyperparameter", "k (best ~ N^k)", "k [95%]", "best value by size"], moves,
                        caption=f"How the best value moves with model size ({sw.metric})")
                + table([*cols[:3], f"best {sw.metric}", *cols[4:]], rows, caption="Best run per (N, D) cell: what the laws use"))


def schedule_law_html(law: ScheduleLawFit) -> HTML:
    """The loss-curve law with annealing per model size, and its half-curve backtest."""
    rows = []
    for c in law.laws.values():
        ci = c.ci or {}
        rows.append([c.N, *(fmt_ci(c.params[k], ci.get(k)) for k in ("L0", "A", "alpha", "C")), c.decay, c.rmse_log, c.ndata,
                     len(c.runs)])
    out = table(["N", "L0 [95%]", "A [95%]", "alpha [95%]", "C [95%]", "lambda", "RMSE log", "points", "runs"], rows,
                caption=f"{law.metric}: L(s) = L0 + A*S1^-alpha - C*S2 per model size (S1 in steps at peak learning rate)")
    bt = law.backtest
    if bt and bt.get("runs"):
        out += paragraph(f"Backtest: fitted on the first {bt['until']:.0%} of each run, the law predicts each run's last "
                         f"{law.metric} with mean absolute relative error {bt['mean_abs_rel_error']:.2%}, against "
                         f"{bt['baseline_mean_abs_rel_error']:.2%} for the last value seen.").html
        out += table(["run", "N", "actual", "predicted", "rel. error", "last value seen"],
                     [[r["run"], r["N"], r["actual"], r["predicted"], f"{r['rel_error']:+.2%}", r["baseline"]]
                      for r in bt["runs"]], caption="Half-curve backtest")
    return HTML(out)



# --- the bottom line, extrapolation labels, reproduce box (issue: reports read at a glance) -------------------------
def short_unit(data_unit: str) -> str:
    """The data unit without how it was counted: "samples (step x batch_size)" reads "samples" beside a number."""
    return data_unit.split(" (")[0]


def beyond_label(distance: dict[str, float | None] | None, factor: float) -> str:
    """How far a point lies beyond the trained range, in words: inside, near (within ``factor``), or an extrapolation."""
    from .format import factor as fx

    if not distance:
        return "–"
    far = {k: v for k, v in distance.items() if v is not None and v > 1.02}
    if not far:
        return "inside the trained range"
    worst = max(far.values())
    what = ", ".join(f"{fx(v)} {k}" for k, v in sorted(far.items(), key=lambda kv: -kv[1]))
    return f"extrapolation: {what} beyond" if worst > factor else f"slightly beyond: {what}"


def _law_words(bl: BottomLine) -> str:
    p, ci = bl.params, bl.ci
    m = escape(bl.metric)

    def v(k: str) -> str:
        return escape(fmt_ci(p[k], ci.get(k)))

    if bl.form not in (None, "two_var") or not {"E", "alpha", "beta"} <= set(p):
        scale = (f"its error {num(bl.bound if bl.bound is not None else 1.0)} − {m}" if bl.direction == "max" else m)
        terms = ", ".join(f"{escape(k)} = <b>{v(k)}</b>" for k in p)
        return (f"{m} ({'higher' if bl.direction == 'max' else 'lower'} is better) follows the <b>{escape(bl.form or '')}</b> "
                f"law chosen by backtest: {scale} = <code>{escape(bl.formula or '')}</code>, with {terms}.")
    if bl.direction == "max":
        bound = bl.bound if bl.bound is not None else 1.0
        ceil_ci = [bound - ci["E"][1], bound - ci["E"][0]] if ci.get("E") else None
        floor = (f"toward a ceiling of {m} = {num(bound)} − E = <b>{escape(fmt_ci(bound - p['E'], ceil_ci))}</b>")
        return (f"{m} (higher is better) rises as its error {num(bound)} − {m} falls with model size as "
                f"N<sup>−α</sup>, α = <b>{v('alpha')}</b>, and with data as D<sup>−β</sup>, β = <b>{v('beta')}</b>, {floor}.")
    return (f"{m} (lower is better) falls with model size as N<sup>−α</sup>, α = <b>{v('alpha')}</b>, and with data as "
            f"D<sup>−β</sup>, β = <b>{v('beta')}</b>, toward a floor E = <b>{v('E')}</b>.")


def bottom_line(an: BatchAnalysis) -> HTML:
    """The top of the report: per metric, the law in words, the optimum at the budgets, the cost of better, the caveat."""
    parts = []
    for name, bl in an.bottom_lines.items():
        anchor = "bottom-line-" + slug(name)
        out = [f'<section class="sk-bottom" id="{escape(anchor, quote=True)}" data-metric="{escape(name, quote=True)}">',
               f"<h3>{escape(name)}</h3>"]
        if not bl.params:
            out.append(f"<p>The law could not be fitted: {escape(prose(bl.fit_error or ''))}</p>")
        else:
            out.append(f'<p class="sk-law">{_law_words(bl)}</p>')
            out.append(_variables_words(bl))
        if bl.skipped:
            out.append(f'<p class="sk-skipped">{escape(prose(bl.skipped))}.</p>')
        unit = short_unit(bl.data_unit)
        for op in bl.optima:
            if op.withheld:
                out.append(f'<p class="sk-optimum sk-withheld" data-C="{op.C:.6g}">At <b>{escape(compute(op.C))}</b>, no optimum '
                           f"is given: {escape(bl.approach_reason)} puts it outside any sane range "
                           f"({escape(op.withheld)}). <span class=\"sk-extrap\">withheld</span></p>")
                continue
            others = ", ".join(f"{escape(k)} {params(v)}" for k, v in op.by_approach.items() if k != op.approach)
            pred = (f"; predicted {escape(name)} {escape(fmt_ci(op.value, op.value_ci))}" if op.value is not None else "")
            label = beyond_label(op.extrapolation, bl.extrapolation_factor)
            cls = "sk-extrap" if label.startswith("extrapolation") else "sk-near" if label.startswith("slightly") else "sk-inside"
            out.append(
                f'<p class="sk-optimum" data-C="{op.C:.6g}" data-N="{op.N:.6g}" data-D="{op.D:.6g}">At '
                f"<b>{escape(compute(op.C))}</b>, train <b>N = {escape(fmt_ci(op.N, op.N_ci, params))}</b> on "
                f"<b>D = {escape(fmt_ci(op.D, op.D_ci, params))} {escape(unit)}</b>{pred}. "
                f'<span class="{cls}">{escape(label)}</span>'
                f"<br><small>From {escape(bl.approach_reason)}"
                + (f"; the other approaches give N = {others}" if others else "")
                + (f" (spread {escape(factor(op.spread))} over {escape(', '.join(op.compared))})" if len(op.compared) > 1 else
                   " (the envelope of final points only is left out of the comparison)" if others else "") + ".</small></p>")
        if bl.costs:
            rows = [[pct(c.improvement), metric_value(c.value), "withheld" if c.withheld else "–", "–", "–", "–",
                     f"outside any sane range: {c.withheld}"] if c.withheld else
                    [pct(c.improvement), metric_value(c.value), params(c.N) if c.reachable else "not reachable",
                     data(c.D, unit) if c.reachable else "–", compute(c.C) if c.reachable else "–",
                     factor(c.compute_multiple) if c.compute_multiple else "–",
                     beyond_label(c.extrapolation, bl.extrapolation_factor) if c.reachable else prose(c.note)]
                    for c in bl.costs]
            out.append(table(["better by", f"target {name}", "N", "D", "C", "× compute of best run", "beyond the trained range"],
                             rows, caption=f"What better {name} costs (cheapest point from the fitted law)",
                             csv_name=f"{name} cost of better"))
        if bl.backtest is not None:
            b = bl.backtest
            out.append(f"<p><small>Backtest: refitted without the {len(b.held_out)} largest-compute runs, the law predicted "
                       f"them within {escape(pct(b.mean_abs_error))} on average (worst {escape(pct(b.max_abs_error))}), "
                       f"{escape(factor(b.distance_C))} beyond its compute range.</small></p>")
        if bl.along:
            out.append(along_html(bl))
        cav_cls = "sk-caveat" + (" sk-caveat-none" if bl.caveat_check is None else "")
        out.append(f'<p class="{cav_cls}"><b>Caveat:</b> {escape(prose(bl.caveat))}</p></section>')
        parts.append("".join(out))
    t = an.batch.ranges()
    u = short_unit(an.batch.data_unit)
    spans = [f"N {params(t['N'][0])}–{params(t['N'][1])}"]
    if an.batch.has_data_size:
        spans += [f"D {data(t['D'][0], u)}–{data(t['D'][1], u)}", f"C {compute(t['C'][0])}–{compute(t['C'][1])}"]
    spans += [f"{k} {num(lo)}–{num(hi)}" for k, (lo, hi) in t.items() if k not in ("N", "D", "C")]
    head = (f'<p class="sk-range">Trained range: {escape(", ".join(spans))}. Points more than '
            f"{escape(factor(an.options.thresholds.extrapolation_factor))} beyond it are labelled extrapolations.</p>")
    return HTML('<div class="sk-bottom-line">' + head + "".join(parts) + "</div>")


def reproduce(an: BatchAnalysis, job: dict[str, str], options: dict[str, Any], input_hash: str) -> HTML:
    """The exact command that renders this report again, the scalekit version, and the hash of the inputs."""
    import shlex

    cmd = ["scalekit", *report_command(job, options)]  # batch, experiment, batch config and options: the same report
    line = " ".join(shlex.quote(c) for c in cmd)
    note = (f" (this page is the {escape(job['version'])} report of that run)" if job.get("version") else "")
    return HTML(f'<div class="sk-reproduce" id="reproduce"><b>Reproduce</b>{note}<pre><code>{escape(line)}</code></pre>'
                f"<p>scalekit {escape(__version__)} &middot; input sha256 <code>{escape(input_hash[:16])}</code>"
                f'<span class="sk-visually-hidden">{escape(input_hash[16:])}</span></p></div>')


def _est(d: dict[str, tuple[float, tuple[float, float]]], key: str, f: Any = num) -> str:
    v = d.get(key)
    return "–" if v is None else fmt_ci(v[0], v[1], f)


def _tol(x: float) -> str:
    return f"{100 * x:g}%"


def _where_label(label: str) -> str:
    return label.replace("optimum at ", "budget ").replace(" than the best run", "")


def hparams_answers_html(h: HparamsAtScale, unit: str = "tokens", factor_limit: float = 2.0) -> HTML:
    """The top of the "Hyperparameters at scale" section: what was fitted, and the answers where the user will train."""
    laws = h.laws
    tol = _tol(laws.tolerance)
    seq = h.seq_len
    out = paragraph(
        f"{h.runs} runs in {len(laws.bowls)} (N, D) cells, learning rate {h.lr_column!r}"
        + (f", batch size {h.batch_column!r}" if h.batch_column else "") + f" ({h.metric}). Three estimates: a bowl fitted "
        "per cell (its vertex the cell's optimum, between grid points) and power laws through the vertices; the runs "
        f"within {tol} of their cell's best regressed on N and D (DeepSeek LLM, StepLaw); and one loss surface "
        "L(N, D, lr, B) over every run. The table uses the bowls; the cost of a setting off by 2x and the range within "
        f"{tol} of the optimum come from the surface."
        + (f" 95% intervals from {laws.n_boot} bootstrap resamples over runs, the count summary.json states."
           if laws.n_boot else " No intervals: the bootstrap is off (n_boot_optimal = 0).")
        + ("" if seq else " Batch sizes in sequences need the sequence length: set the option seq_len or a seq_len column.")).html
    two = h.batch_column is not None and laws.B is not None
    pens = [a.penalty_2x for a in h.answers]
    # the surface's relative curvature: one cost everywhere (point estimates compared: a missing interval is NaN)
    same = bool(pens) and all(set(p) == set(pens[0]) and all(p[k][0] == pens[0][k][0] for k in p) for p in pens)
    if same:
        p0 = pens[0]
        out += paragraph(f"A learning rate off by 2x (either way) costs {fmt_ci(p0['lr'][0], p0['lr'][1], pct)} of the loss"
                         + (f", a batch size off by 2x {fmt_ci(p0['B'][0], p0['B'][1], pct)}" if two and "B" in p0 else "")
                         + " (the surface's curvature, the same at every N and D).").html
    rows = []
    for a in h.answers:
        pen = a.penalty_2x
        row = [_where_label(a.label), params(a.N), params(a.D), beyond_label(dict(a.extrapolation), factor_limit),
               _est(a.lr, "bowls")]
        if two:
            row += [_est(a.B, "bowls", params)] + ([_est(a.B_seq, "bowls")] if seq else [])
        if not same:
            row += [fmt_ci(pen["lr"][0], pen["lr"][1], pct)] + ([fmt_ci(pen["B"][0], pen["B"][1], pct)] if two else [])
        row += [interval(*a.within["lr"]).strip("[]")] + ([interval(*a.within["B"], f=params).strip("[]")] if two else [])
        rows.append(row)
    head = ["where", "N", f"D ({unit})", "beyond the sweep", "lr* [95%]"]
    if two:
        head += [f"B* in {unit} [95%]"] + (["B* in sequences [95%]"] if seq else [])
    if not same:
        head += ["loss, lr off 2x"] + (["loss, B off 2x"] if two else [])
    head += [f"lr within {tol}"] + ([f"B within {tol}"] if two else [])
    if not rows:  # no budget optimum or target in (N, D) (e.g. a batch without a data size), and none asked
        return HTML(out + paragraph("No place to answer at: the law gives no compute-optimal (N, D) here; set the "
                                    "options hparam_N and hparam_D to ask at the sizes you will train.").html)
    out += table(head, rows, caption="Learning rate and batch size where you will train", csv_name="hyperparameters at scale")
    return HTML(out)


def hparams_details_html(h: HparamsAtScale, unit: str = "tokens") -> HTML:
    """The rest of the section: the three estimates compared at each place, their laws, the cells whose grid misses
    the optimum, and the critical batch."""
    laws = h.laws
    two = h.batch_column is not None and laws.B is not None
    cmp_rows = [[_where_label(a.label), _est(a.lr, "bowls"), _est(a.lr, "near"), _est(a.lr, "surface")]
                + ([_est(a.B, "bowls", params), _est(a.B, "near", params), _est(a.B, "surface", params)] if two else [])
                for a in h.answers]
    out = table(["where", "lr* bowls", "lr* near-optimal", "lr* surface"]
                 + ([f"B* bowls ({unit})", "B* near-optimal", "B* surface"] if two else []), cmp_rows,
                 caption="The three estimates at each place (they should agree within their intervals)")

    def law_row(name: str, p: dict[str, float] | None, ci: dict[str, tuple[float, float]] | None,
                keys: tuple[str, str, str]) -> list[Any]:
        if p is None:
            return [name, "–", "–", "–"]
        ci = ci or {}
        return [name, num(p[keys[0]])] + [fmt_ci(p[k], ci.get(k)) if k in p else "–" for k in keys[1:]]

    lr_rows = [law_row("bowls", laws.lr.fit.params, laws.lr.ci, ("c", "a", "b")),
               law_row("near-optimal", None if laws.lr_near is None else laws.lr_near.fit.params,
                       None if laws.lr_near is None else laws.lr_near.ci, ("c", "a", "b"))]
    sf = laws.surface
    lr_rows.append(law_row("surface", None if sf is None else sf.fit.params, None if sf is None else sf.fit.ci,
                           ("c_lr", "a_lr", "b_lr")))
    out += table(["estimate", "coefficient", "N exponent [95%]", "D exponent [95%]"], lr_rows,
                 caption="lr* = coefficient × N^(N exponent) × D^(D exponent)")
    if two and laws.B is not None:
        B_rows = [law_row("bowls", laws.B.fit.params, laws.B.ci, ("c", "a", "b")),
                  law_row("near-optimal", None if laws.B_near is None else laws.B_near.fit.params,
                          None if laws.B_near is None else laws.B_near.ci, ("c", "a", "b")),
                  law_row("surface", None if sf is None or not sf.form.vary_B else sf.fit.params,
                          None if sf is None else sf.fit.ci, ("c_B", "a_B", "b_B"))]
        out += table(["estimate", "coefficient", "N exponent [95%]", "D exponent [95%]"], B_rows,
                     caption=f"B* = coefficient × N^(N exponent) × D^(D exponent), in {unit}")
    if laws.unbracketed:
        out += paragraph(f"{len(laws.unbracketed)} cell(s) where the grid does not bracket the optimum (a bound, not an "
                         "estimate): " + "; ".join(laws.unbracketed[:6]) + ("; ..." if len(laws.unbracketed) > 6 else "")
                         + ".").html
    for n in laws.notes:
        out += paragraph(n).html
    c = h.critical
    if c is None:
        out += paragraph(f"No critical batch size: {h.critical_note}.").html
    else:
        rows_c = [[params(x.N), data(x.D, unit), num(x.target), fmt_ci(x.B_crit, x.B_crit_ci), num(x.S_min), num(x.E_min)]
                  for x in c.cells]
        out += table(["N", "D", "target loss", "B_crit [95%]", "S_min (steps)", "E_min"], rows_c,
                     caption="Critical batch per cell: S = S_min (1 + B_crit / B) (McCandlish et al. 2018)")
        if c.trend is not None:
            t, ci = c.trend.params, c.trend.ci or {}
            out += paragraph(f"B_crit ~ N^{fmt_ci(t['a'], ci.get('a'))} D^{fmt_ci(t['b'], ci.get('b'))} across "
                             f"{len(c.cells)} cells (Zhang et al. 2024 report growth with D and hardly with N).").html
    return HTML(out)


def _decision_value(plan: Plan, x: float) -> str:
    return params(x) if plan.decision.kind == "optimum" else num(x)


def plan_html(plan: Plan, metric: str, unit: str = "tokens") -> HTML:
    """What to train next for one metric: the decision, its interval now, and the runs picked in order, each with
    (for a batch that counts tokens) a decoder-only shape near its N, its cost, the decision's expected interval once
    it (and the earlier ones) are in, and the cumulative cost."""
    d = _decision_value
    what = (f"compute-optimal N at C = {compute(plan.decision.budget)}"
            if plan.decision.kind == "optimum" and plan.decision.budget else plan.decision.label())
    now = f"{d(plan, plan.now[0])}–{d(plan, plan.now[1])}"
    boot = (f" (from the bootstrap resamples alone: {d(plan, plan.now_bootstrap[0])}–{d(plan, plan.now_bootstrap[1])})"
            if plan.now_bootstrap is not None else "")
    head = f"{metric}: to pin down the {what}, now {d(plan, plan.estimate)} with a 95% interval {now}{boot}."
    if not plan.runs:
        return paragraph(head + f" No candidate run within {compute(plan.allowance)} narrows the interval by 1% or more.")
    after = plan.runs[-1]
    head += (f" The {len(plan.runs)} runs below narrow it to {d(plan, after.lo)}–{d(plan, after.hi)} "
             f"({plan.width_ratio:.0%} of its width now) for {compute(after.cumulative_flops)} of the "
             f"{compute(plan.allowance)} allowed.")
    tokens = unit == "tokens"
    if not tokens:
        head += f" No shapes: the batch counts {unit}, not tokens, and the shapes are those of language models."
    rows: list[list[Any]] = []
    for i, (r, sh) in enumerate(zip(plan.runs, plan.shapes() if tokens else [None] * len(plan.runs)), 1):
        shape = "–" if sh is None else f"{sh.layers} × {sh.d_model}, {sh.heads} head{'s' if sh.heads > 1 else ''}"
        rows.append([i, shape, params(r.N), data(r.D, unit), r.flops, f"{d(plan, r.lo)}–{d(plan, r.hi)}",
                     f"{interval_width(r.lo, r.hi) / interval_width(*plan.now):.0%}", r.cumulative_flops])
    return HTML(f"<p>{escape(head)}</p>" + table(
        ["#", "shape: layers × width", "N", "D", "FLOP", "expected 95% interval after", "its width / now",
         "cumulative FLOP"], rows, caption=f"What to train next ({metric}), in the order picked"))
