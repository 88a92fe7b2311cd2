"""Limitation checks: where the fitted laws cannot be trusted, with the evidence.

Each check has a stable code (the ``check`` field of summary.json), a title, a severity, one
sentence on why it matters, numeric evidence and a remedy. Thresholds are keyword arguments
of :func:`run_checks` with sensible defaults. A clean batch produces no warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._html import fmt
from ._json import jsonable

if TYPE_CHECKING:
    from .analysis import BatchAnalysis

__all__ = ["Finding", "run_checks", "CHECKS", "SEVERITIES"]

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing a check found."""

    check: str
    severity: str  # info | warning | critical
    metric: str | None
    title: str
    message: str
    why: str
    remedy: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return jsonable({"check": self.check, "severity": self.severity, "metric": self.metric, "title": self.title,
                         "message": self.message, "why": self.why, "remedy": self.remedy, "evidence": self.evidence})

    def _repr_html_(self) -> str:
        ev = "".join(f"<li><code>{escape(str(k))}</code>: {escape(_ev(v))}</li>" for k, v in self.evidence.items())
        return (f'<div class="sk-finding sk-{escape(self.severity)}"><b>[{escape(self.severity)}] {escape(self.title)}</b>'
                f"{' (' + escape(self.metric) + ')' if self.metric else ''}<p>{escape(self.message)}</p>"
                f"<p><i>Why it matters:</i> {escape(self.why)}</p><p><i>What to do:</i> {escape(self.remedy)}</p>"
                f"<details><summary>evidence</summary><ul>{ev}</ul></details></div>")


def _ev(v: Any) -> str:
    if isinstance(v, float):
        return fmt(v)
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return ", ".join(_ev(x) for x in v[:12]) + f", ... ({len(v)} in all)"
    if isinstance(v, (list, tuple)):
        return ", ".join(_ev(x) for x in v)
    return str(v)


CheckFn = Callable[..., list[Finding]]
CHECKS: dict[str, CheckFn] = {}


def _register(code: str):
    def deco(fn: CheckFn) -> CheckFn:
        CHECKS[code] = fn
        return fn
    return deco


@_register("excluded_runs")
def check_excluded(an: "BatchAnalysis", **_: Any) -> list[Finding]:
    b = an.batch
    if not b.excluded:
        return []
    runs = [e.run for e in b.excluded]
    sev = "warning" if len(runs) > 0.2 * (b.runs + len(runs)) else "info"
    return [Finding(
        "excluded_runs", sev, None, "Runs excluded from every analysis",
        f"{len(runs)} run(s) were left out: " + "; ".join(f"{e.run}: {e.reason}" for e in b.excluded[:5])
        + (" ..." if len(runs) > 5 else ""),
        "Diverged runs often cluster at large sizes or high learning rates; leaving them out silently biases the law toward what trained well.",
        "Check the listed runs' training logs; rerun them or keep them out knowingly.",
        {"runs": runs, "reasons": [e.reason for e in b.excluded]},
    )]


def run_checks(an: "BatchAnalysis", *, only: list[str] | None = None, **options: Any) -> list[Finding]:
    """Run the catalog (or ``only`` some codes) and return the findings, most severe first."""
    out: list[Finding] = []
    for code, fn in CHECKS.items():
        if only and code not in only:
            continue
        out.extend(fn(an, **options))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: rank[f.severity])
