"""The comparison page's shared-exponent section: one law across versions, multipliers and crossovers."""

from __future__ import annotations

from html import escape
from typing import Any

from .format import fmt
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
            rows.append([ver + (" (baseline)" if ver == v["baseline"] else ""), "" if m is None else f"{m:.3g}x",
                         f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "",
                         "" if ver == v["baseline"] else fmt((v.get("crossover") or {}).get(ver)) or "none in range"])
        shared = ", ".join(f"{k} = {fmt(v['params'][k])}" for k in v["shared"])
        parts.append(f"<h3>{escape(metric)}</h3><p>{escape(v['sentence'])} Shared: {escape(shared)}.</p>"
                     + table(["version", f"effective compute at C = {fmt(v['C_ref'])}", "95% interval", "crossover C"],
                             rows))
    return HTML("".join(parts))
