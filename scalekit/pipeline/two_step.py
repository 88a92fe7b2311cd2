"""Two-step predictions a batch declares (``two_step:`` in its config), as :func:`scalekit.analyze` computes them.

Each declared pair is fitted with :func:`scalekit.fit_two_step` and predicted at the points the
report uses: the ``at`` points the declaration lists, and the compute-optimal (N, D) of the
intermediate's bottom line (at the budgets asked for, else the largest trained compute); with
neither, at the largest-compute run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import display
from ..analyses.bottom_line import BottomLine
from ..analyses.profiles import flops_factor
from ..data.batch import Batch
from ..exceptions import ScalekitError
from ..jsonsafe import jsonable
from ..laws.two_step import TwoStepFit, fit_two_step
from ..options import Options

__all__ = ["TwoStep", "two_step_key", "two_steps"]


def two_step_key(intermediate: str, target: str) -> str:
    """The key of a declared pair in ``BatchAnalysis.two_step`` and summary.json."""
    return f"{intermediate}->{target}"


@dataclass(frozen=True, eq=False)
class TwoStep:
    """One declared pair: the fit (or why there is none) and its predictions."""

    intermediate: str
    target: str
    fit: TwoStepFit | None
    predictions: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    declared: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The entry of summary.json's ``two_step`` section."""
        base: dict[str, Any] = (self.fit.summary() if self.fit is not None
                                else {"intermediate": self.intermediate, "target": self.target})
        out: dict[str, Any] = jsonable({**base, "predictions": list(self.predictions), "error": self.error})
        return out

    def _repr_html_(self) -> str:
        return display.html(self.fit) if self.fit is not None else display.html(self)


def _points(batch: Batch, intermediate: str, declared: dict[str, Any],
            lines: Mapping[str, BottomLine]) -> list[tuple[str, float, float]]:
    pts = [("declared", float(p["N"]), float(p["D"])) for p in declared.get("at", [])]
    bl = lines.get(intermediate)
    if bl is not None:
        pts += [("optimum", float(o.N), float(o.D)) for o in bl.optima
                if not o.withheld and np.isfinite(o.N) and np.isfinite(o.D)]
    if not pts:
        fin = batch.finals()
        row = fin.loc[(fin["N"] * fin["D"]).idxmax()]
        pts.append((f"largest run {row['run']}", float(row["N"]), float(row["D"])))
    return pts


def two_steps(batch: Batch, opts: Options, lines: Mapping[str, BottomLine]) -> dict[str, TwoStep]:
    """Every pair the batch's config declares under ``two_step``, keyed by :func:`two_step_key` (empty without)."""
    out: dict[str, TwoStep] = {}
    for d in batch.config.two_step:
        key = two_step_key(d["intermediate"], d["target"])
        try:
            fit = fit_two_step(batch, d["intermediate"], d["target"], step2=d["step2"], step1_form=d["step1_form"],
                               step1_points=d["step1_points"], step2_points=d["step2_points"],
                               n_boot=min(opts.n_boot, 200), seed=opts.seed, loss=opts.loss, delta=opts.delta)
        except ScalekitError as exc:
            out[key] = TwoStep(d["intermediate"], d["target"], None, (), str(exc), dict(d))
            continue
        preds = []
        k = flops_factor(batch)
        for where, N, D in _points(batch, d["intermediate"], d, lines):
            p = fit.predict(N, D, interval="prediction", seed=opts.seed)
            preds.append(jsonable({"where": where, "N": N, "D": D, "C": k * N * D,
                                   "intermediate": float(fit.step1.predict(N, D, warn=False)),
                                   "value": float(p.value), "lo": None if p.lo is None else float(p.lo),
                                   "hi": None if p.hi is None else float(p.hi), "level": p.level, "kind": p.kind,
                                   "extrapolation": {k: float(v) for k, v in (p.extrapolation or {}).items()}}))
        out[key] = TwoStep(d["intermediate"], d["target"], fit, tuple(preds), None, dict(d))
    return out
