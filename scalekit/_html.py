"""Small HTML fragments for notebook display (`_repr_html_`). Every user string is escaped."""

from __future__ import annotations

from html import escape
from typing import Any


def fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x != x:
            return "–"
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.{digits-1}e}"
        return f"{x:.{digits}g}"
    return str(x)


def table(headers: list[str], rows: list[list[Any]], caption: str | None = None, cls: str = "sk-table") -> str:
    h = "".join(f"<th>{escape(str(c))}</th>" for c in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table class="{cls}">{cap}<thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def batch_html(batch) -> str:
    r = batch.ranges()
    rows = [
        ["runs", batch.runs], ["rows", batch.rows],
        ["model size N", f"{fmt(r['N'][0])} to {fmt(r['N'][1])} ({batch.frame['N'].nunique()} sizes)"],
        [f"data D ({batch.data_unit})", f"{fmt(r['D'][0])} to {fmt(r['D'][1])}"],
        [f"compute C ({batch.compute})", f"{fmt(r['C'][0])} to {fmt(r['C'][1])}"],
        ["metrics", ", ".join(f"{m.name} ({'lower' if m.direction == 'min' else 'higher'} is better)" for m in batch.metrics.values())],
        ["excluded runs", len(batch.excluded)],
    ]
    out = table(["", ""], rows, caption=f"Batch {batch.name}")
    if batch.excluded:
        out += table(["run", "reason"], [[e.run, e.reason] for e in batch.excluded], caption="Excluded runs")
    return out
