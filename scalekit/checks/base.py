"""What every limitation check shares: Finding, Context, noise levels and severity counts.

Each check has a stable code (the ``check`` field of summary.json), a title, a severity, one
sentence on why it matters, numeric evidence and a remedy. Thresholds come from
:class:`scalekit.options.Thresholds`. A clean batch produces no warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import display
from ..analyses.bottom_line import BottomLine
from ..analyses.metric import MetricAnalysis
from ..analyses.sweeps import Sweep
from ..analyses.transfer import Transfer
from ..data.batch import Batch
from ..data.metric import MetricSpec
from ..jsonsafe import jsonable
from ..laws.result import FitResult
from ..options import Thresholds

FloatArray = npt.NDArray[np.float64]

__all__ = ["SEVERITIES", "CheckFn", "Context", "Finding", "error_of", "fitted", "noise_level", "severity_counts", "train_partner"]

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
        out: dict[str, Any] = jsonable({
            "check": self.check, "severity": self.severity, "metric": self.metric, "title": self.title,
            "message": self.message, "why": self.why, "remedy": self.remedy, "evidence": self.evidence})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def severity_counts(findings: Iterable[Finding | dict[str, Any]]) -> dict[str, int]:
    """How many findings of each severity; takes Findings or their summary() dicts."""
    c = {s: 0 for s in SEVERITIES}
    for f in findings:
        c[f["severity"] if isinstance(f, dict) else f.severity] += 1
    return c


CheckFn = Callable[["Context", Thresholds], list[Finding]]


@dataclass
class Context:
    """What the checks share: the analysis, per-metric noise, and runs already explained.

    Run-level checks (not converged, overfitting) run first and record the runs they flag;
    the batch-level checks then leave those runs out, so one cause is reported once.
    """

    batch: Batch
    metrics: dict[str, MetricAnalysis]
    sigma: dict[str, float]
    flagged: dict[str, str] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)  # target metric -> map from the primary loss
    bottom_lines: dict[str, BottomLine] = field(default_factory=dict)  # metric -> what the top of the report says
    sweeps: dict[str, Sweep] = field(default_factory=dict)  # metric -> the declared sweep, as summary.json states it


def error_of(spec: MetricSpec, values: npt.ArrayLike) -> FloatArray:
    """A metric's values as the error the laws model, as a float array (never a pandas Series)."""
    return np.asarray(spec.to_error(np.asarray(values, dtype=float)), dtype=float)


def noise_level(batch: Batch, metric: str, fit: FitResult | None = None) -> float:
    """Relative noise of a metric: scatter of each curve around a smooth trend, else robust fit residuals."""
    spec = batch.metric(metric)
    if batch.has_checkpoints:
        vals = []
        for _, g in batch.frame[np.isfinite(batch.frame[metric])].groupby("run"):
            if len(g) < 6:
                continue
            g = g.sort_values("D")
            x, y = np.log(g["D"].to_numpy()), np.log(error_of(spec, g[metric]))
            if not np.all(np.isfinite(y)):
                continue
            r = y - np.polyval(np.polyfit(x, y, 2), x)
            vals.append(np.sqrt(np.sum(r ** 2) / (len(g) - 3)))
        if vals:
            return float(max(np.median(vals), 1e-4))
    if fit is not None:
        r = fit.residuals
        return float(max(1.4826 * np.median(np.abs(r - np.median(r))), 1e-4))
    return 0.01


def fitted(ctx: Context) -> Iterator[MetricAnalysis]:
    """The metrics with a fitted two-variable law."""
    for m in ctx.metrics.values():
        if m.fit is not None and m.fit.form.name == "two_var":
            yield m


def train_partner(batch: Batch, metric: str) -> str | None:
    """The training-set counterpart of an eval metric (eval_loss -> train_loss), if the batch has one."""
    if "train" in metric.lower():
        return None
    for name in batch.metrics:
        if "train" in name.lower() and batch.metrics[name].direction == batch.metrics[metric].direction:
            stem = re.sub(r"(eval|val|valid|validation|test)[_/-]?", "", metric.lower())
            if re.sub(r"train[_/-]?", "", name.lower()) == stem:
                return name
    return None


