"""The ``fits`` entry of summary.json for one metric: the chosen law, its backtest table and coverage."""

from __future__ import annotations

from typing import Any

from ..analyses.metric import MetricAnalysis

__all__ = ["fit_entry"]


def fit_entry(m: MetricAnalysis) -> dict[str, Any] | None:
    """The chosen (or pinned) form's fit summary, with ``selection`` (the backtest rows), ``selection_reason``,
    ``coverage`` (95% interval coverage in the backtest) and, when the chosen form is not the additive law,
    ``additive``: the two-variable fit beside it (the answers' source when the chosen form is not a law in N and D)."""
    law = m.law or m.fit
    if law is None:
        return None
    out = law.summary()
    if m.fit is not None and law is not m.fit:
        out["additive"] = m.fit.summary()
    sel = m.selection
    out["selection"] = [r.summary() for r in sel.rows] if sel else None
    out["selection_reason"] = sel.reason if sel else None
    out["selection_windows"] = list(sel.windows) if sel else None
    out["coverage"] = sel.coverage if sel else None
    return out
