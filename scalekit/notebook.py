"""What the report notebooks call: parameter validation, loading, and section HTML.

The notebooks stay thin: every number comes from :func:`scalekit.analyze`; this module only
checks parameters and turns results into escaped HTML fragments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape  # noqa: F401  (re-exported for notebooks)
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._html import batch_html, fmt, fmt_ci, table
from .exceptions import ConfigError

if TYPE_CHECKING:
    from .analysis import BatchAnalysis, MetricAnalysis
    from .batch import Batch

__all__ = ["PARAMETERS", "validate_parameters", "load", "HTML"]

# name -> (type, allowed values or None). Defaults live in the notebook's parameters cell.
PARAMETERS: dict[str, tuple[type, tuple | None]] = {
    "batch_path": (str, None),
    "example": (str, ("behavior", "perception")),
    "version": (str, None),
    "batch_name": (str, None),
    "config_json": (str, None),
    "metrics": (list, None),
    "n_boot": (int, None),
    "seed": (int, None),
    "loss": (str, ("huber", "squared")),
    "delta": (float, None),
    "points": (str, ("auto", "final", "all")),
    "summary_path": (str, None),
}


def validate_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Check injected parameters' types and values right after papermill injects them.

    Papermill's ``-p`` guesses types, so ``-p batch_name 007`` arrives as the int 7: a string
    parameter that arrives as a number is refused with the fix (``-r`` passes it raw).
    """
    out = dict(params)
    for name, value in params.items():
        if name not in PARAMETERS:
            raise ConfigError(f"unknown parameter; expected one of {sorted(PARAMETERS)}", source="notebook parameters", key=name)
        typ, allowed = PARAMETERS[name]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if typ is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ConfigError(
                f"expected a string but got the number {value!r}: papermill's -p converts numbers-looking values "
                f"(007 becomes 7); pass it with -r {name} VALUE to keep it as text",
                source="notebook parameters", key=name)
        if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
            raise ConfigError(f"expected {typ.__name__}, got {type(value).__name__} {value!r}", source="notebook parameters", key=name)
        if allowed and value not in allowed and not (name == "example" and params.get("batch_path")):
            raise ConfigError(f"{value!r} is not one of {list(allowed)}", source="notebook parameters", key=name)
        out[name] = value
    if out.get("n_boot", 0) < 0:
        raise ConfigError("must be >= 0", source="notebook parameters", key="n_boot")
    try:
        cfg = json.loads(out.get("config_json") or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", source="notebook parameters", key="config_json") from None
    if not isinstance(cfg, dict):
        raise ConfigError("must be a JSON object", source="notebook parameters", key="config_json")
    out["config"] = cfg
    return out


def load(params: dict[str, Any]) -> "Batch":
    """The batch the parameters name (a file, or an embedded example), filtered to ``version``."""
    from .batch import load_batch
    from .examples import example_source

    cfg = dict(params.get("config") or {})
    if params.get("batch_name"):
        cfg["name"] = params["batch_name"]
    if params.get("batch_path"):
        source: Any = Path(params["batch_path"])
        frame = None
    else:
        frame, ex_cfg = example_source(params.get("example") or "behavior")
        cfg = {**ex_cfg, **cfg}
        source = frame
    batch = load_batch(source, **cfg)
    if params.get("version"):
        batch = batch.select_version(params["version"])
    return batch


@dataclass(frozen=True)
class HTML:
    """An HTML fragment that notebooks display as such."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


def overview(batch: "Batch") -> HTML:
    notes = "".join(f"<li>{escape(n)}</li>" for n in batch.notes)
    desc = f"<p>{escape(batch.config.description)}</p>" if batch.config.description else ""
    return HTML(desc + batch_html(batch) + (f"<ul>{notes}</ul>" if notes else ""))


def findings_summary(an: "BatchAnalysis") -> HTML:
    c = an.counts()
    if not an.findings:
        return HTML('<p class="sk-clean">No limitation check fired: within the checks run, the laws below can be used as fitted.</p>')
    items = "".join(
        f'<li class="sk-{escape(f.severity)}"><b>{escape(f.severity)}</b> &mdash; {escape(f.title)}'
        f"{' (' + escape(f.metric) + ')' if f.metric else ''}: {escape(f.message)}</li>" for f in an.findings)
    return HTML(f"<p>{c['critical']} critical, {c['warning']} warning(s), {c['info']} note(s).</p><ul class='sk-findings'>{items}</ul>")


def headline(an: "BatchAnalysis") -> HTML:
    rows = []
    for m in an.metrics.values():
        if m.fit is None:
            rows.append([m.name, "fit failed: " + (m.fit_error or ""), None, None, None, None])
            continue
        p, ci = m.fit.params, m.fit.ci or {}
        opt = m.optimal.get("parametric")
        rows.append([m.name, "lower" if m.spec.direction == "min" else "higher",
                     *(fmt_ci(p[k], ci.get(k)) for k in ("alpha", "beta", "E")),
                     fmt(opt.a) if opt and opt.ok else "–"])
    return HTML(table(["metric", "better", "alpha [95%]", "beta [95%]", "E [95%]", "a (N_opt ~ C^a)"], rows))


def goodness(ma: "MetricAnalysis") -> HTML:
    import numpy as np

    f = ma.fit
    r = f.residuals
    rows = [["points fitted", f.ndata, f"{f.method.get('points')} checkpoints"], ["objective (summed loss)", f.objective, f.method["loss"]],
            ["RMSE of log residuals", float(np.sqrt(np.mean(r ** 2))), "about the typical relative error"],
            ["max |log residual|", float(np.max(np.abs(r))), ""], ["AIC / BIC", f"{f.aic:.1f} / {f.bic:.1f}", "Gaussian, log residuals"],
            ["converged", f.success, f.message]]
    return HTML(table(["", "value", "note"], rows))


def method(ma: "MetricAnalysis", an: "BatchAnalysis") -> HTML:
    f = ma.fit
    m = dict(f.method)
    rows = [[k, json.dumps(v) if isinstance(v, (list, dict)) else v] for k, v in m.items()]
    rows.append(["excluded points", "; ".join(f"{e['run']}: {e['reason']}" for e in f.excluded) or "none"])
    rows.append(["scalekit", an.summary()["scalekit_version"]])
    return HTML(table(["setting", "value"], rows, caption=f"How {ma.name} was fitted (enough to reproduce it)"))


def optimal_notes(ma: "MetricAnalysis") -> HTML:
    items = []
    for name, law in ma.optimal.items():
        for n in law.notes:
            items.append(f"<li><b>{escape(name)}</b>: {escape(n)}</li>")
    return HTML(f"<ul>{''.join(items)}</ul>" if items else "")


def cap_html(ma: "MetricAnalysis") -> HTML:
    from .profiles import allocations_html

    c = ma.cap
    if c is None:
        return HTML("<p>No cap on model size was given (set <code>max_params</code> in the batch config).</p>")
    ci = f" [95%: {fmt(c.floor_ci[0])}, {fmt(c.floor_ci[1])}]" if c.floor_ci else ""
    tgt = (f"Reaching the target {fmt(c.target_value)} at N = {fmt(c.max_params)} needs D = {fmt(c.D_for_target)} "
           f"(C = {fmt(c.C_for_target)})." if c.D_for_target else
           f"The target {fmt(c.target_value)} cannot be reached at N = {fmt(c.max_params)} with any amount of data.")
    return HTML(f"<p>With model size capped at N = {fmt(c.max_params)}, the best {escape(ma.name)} reachable with unlimited data is "
                f"{fmt(c.floor)}{ci}. {tgt}</p>" + allocations_html(list(c.allocations), ma.name))


def title(batch: "Batch") -> HTML:
    return HTML(f'<h1 class="sk-title">Scaling-law report: {escape(batch.name)}</h1>'
                f'<p class="sk-sub">{batch.runs} runs, {batch.rows} rows, source <code>{escape(batch.source)}</code></p>')


def heading(text: str, level: int = 3) -> HTML:
    return HTML(f"<h{level}>{escape(text)}</h{level}>")


def show(fig) -> None:
    """Display a figure once and free it (figures pile up in long notebooks otherwise)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    if fig is not None:
        display(fig)
        plt.close(fig)


def write_summary(an: "BatchAnalysis", path: str) -> None:
    from .iorw import atomic_write_json

    if path:
        atomic_write_json(path, an.summary())


def load_summaries(summaries_json: str) -> list[dict[str, Any]]:
    """summary.json contents for the comparison notebook; an empty list analyses the embedded examples."""
    paths = json.loads(summaries_json or "[]")
    if not isinstance(paths, list):
        raise ConfigError("must be a JSON list of paths", source="notebook parameters", key="summaries_json")
    if paths:
        out = []
        for p in paths:
            try:
                out.append(json.loads(Path(p).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"cannot read {p}: {exc}", source="notebook parameters", key="summaries_json") from None
        return out
    from .analysis import analyze
    from .examples import example_source
    from .batch import load_batch

    frame, cfg = example_source("perception")
    batch = load_batch(frame, **cfg)
    return [analyze(batch.select_version(v), n_boot=200).summary() for v in batch.versions]


def comparison_table(rows: list[dict[str, Any]]) -> HTML:
    body = [[r["batch"], r["metric"], *(fmt_ci(r[k], r[f"{k}_ci"]) for k in ("alpha", "beta", "E", "a")), r["runs"]]
            for r in rows]
    return HTML(table(["batch", "metric", "alpha", "beta", "E", "a", "runs"], body))
