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


def fmt_ci(value: Any, ci: Any) -> str:
    """``value [lo, hi]``, or the value alone when there is no interval."""
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)


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


class ResultMixin:
    """``report()`` (text) and ``_repr_html_`` for result dataclasses, both derived from ``summary()``."""

    def summary(self) -> dict[str, Any]:  # pragma: no cover - every result defines it
        raise NotImplementedError

    def report(self) -> str:
        lines = [f"[[{type(self).__name__}]]"]
        for k, v in self.summary().items():
            lines.append(f"    {k:>24} = {_short(v)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [[k, _short(v)] for k, v in self.summary().items()]
        return table(["", ""], rows, caption=type(self).__name__)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return fmt(v)
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return f"[{fmt(v[0])}, {fmt(v[1])}]"
    s = str(v)
    return s if len(s) <= 160 else s[:157] + "..."
