"""The comparison page's shared-exponent section: one law across versions, multipliers and crossovers."""

from __future__ import annotations

from html import escape
from typing import Any

from .format import compute, factor, fmt
from .html import HTML, table

__all__ = ["versions_html"]


def versions_html(summaries: list[Any]) -> HTML:
    """The ``versions`` section of the summaries (every version's summary carries the same one; shown once)."""
    block = next((s.raw["versions"] for s in summaries if s.raw.get("versions")), None)
    if not block:
        return HTML("<p>No batch here has a <code>version</code> column: there is no shared-exponent fit to show.</p>")
    parts = []
    for metric, v in block.items():
        if "error" in v:
            parts.append(f"<h3>{escape(metric)}</h3><p>No shared fit: {escape(str(v['error']))}</p>")
            continue
        rows: list[list[Any]] = []
        for ver in v["versions"]:
            ci = (v.get("multiplier_ci") or {}).get(ver)
            m = 1.0 if ver == v["baseline"] else (v.get("multiplier") or {}).get(ver)
            cross = (v.get("crossover") or {}).get(ver)
            rows.append([ver + (" (baseline)" if ver == v["baseline"] else ""), "" if m is None else factor(m),
                         f"[{factor(ci[0])}, {factor(ci[1])}]" if ci else "",
                         "" if ver == v["baseline"] else compute(cross) if cross is not None else "none in range"])
        shared = ", ".join(f"{k} = {fmt(v['params'][k])}" for k in v["shared"])
        parts.append(f"<h3>{escape(metric)}</h3><p>{escape(_sentence(v))} Shared: {escape(shared)}.</p>"
                     + table(["version", f"effective compute at C = {compute(v['C_ref'])}", "95% interval", "crossover C"],
                             rows))
    return HTML("".join(parts))


def _sentence(v: dict[str, Any]) -> str:
    """The shared fit in words, from its summary.json fields (numbers in the report's one format)."""
    per = sorted({k.split("[")[0] for k in v["params"] if "[" in k})
    parts = []
    for ver in v["versions"]:
        if ver == v["baseline"]:
            continue
        m = (v.get("multiplier") or {}).get(ver)
        ci = (v.get("multiplier_ci") or {}).get(ver)
        mtxt = ("cannot be matched by the baseline" if m is None else
                f"is worth {factor(m)} the baseline's compute" + (f" (95%: {factor(ci[0])} to {factor(ci[1])})" if ci else ""))
        cross = (v.get("crossover") or {}).get(ver)
        ctxt = (f"the frontiers cross at {compute(cross)}" if cross is not None else
                "the frontiers do not cross from 10⁻³ times the smallest to 10⁴ times the largest compute trained")
        parts.append(f"At {compute(v['C_ref'])}, {ver} {mtxt}; {ctxt}")
    return (f"One {v['form']} law with shared exponents and per-version {', '.join(per)}, baseline {v['baseline']}. "
            + ". ".join(parts) + ".")
