"""Predictions of a law beyond the trained range along each of its variables (N, D, U, experts E, vocabulary V, ...).

A law in several variables is extrapolated one variable at a time: each prediction moves one variable to a multiple
of its largest trained value and holds the others at the best run's values, with its 95% prediction interval and its
distance beyond the trained range per variable (1 inside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.batch import Batch
from ..laws.result import FitResult

__all__ = ["FACTORS", "along_variables", "law_columns_of", "shows_variables"]

FACTORS = (2.0, 10.0)  # the multiples of the largest trained value each variable is moved to


def law_columns_of(fit: FitResult) -> list[str]:
    """The batch columns the fit's variables read (a one-variable form fitted in C reads C)."""
    cols = fit.method.get("variables")
    return [str(c) for c in cols] if cols else list(fit.form.variables)


def shows_variables(fit: FitResult | None, batch: Batch) -> bool:
    """Whether the report shows the law along each variable: the batch declares variables beyond N and D (U, E, V, ...)
    or has no data size, and the law reads more than N and D."""
    if fit is None:
        return False
    extra = set(law_columns_of(fit)) - {"N", "D", "C"}
    return bool(extra) or not batch.has_data_size


def along_variables(fit: FitResult, batch: Batch, factors: Sequence[float] = FACTORS) -> tuple[dict[str, Any], ...]:
    """Per variable of ``fit`` and factor: the prediction at ``factor`` x the variable's largest trained value, the others
    at the best run's values (``at``), with ``value``, ``lo``, ``hi`` (95% prediction interval) and ``extrapolation``
    (variable -> factor beyond the trained range)."""
    cols = law_columns_of(fit)
    fin = batch.finals()
    best = batch.best_run(fit.metric)
    row = fin[fin["run"].astype(str) == best["run"]].iloc[-1]
    base = {c: float(row[c]) for c in cols}
    out: list[dict[str, Any]] = []
    for c in cols:
        if c[:1] == "r" and c[1:].isdigit():
            continue  # a mixture proportion has no "beyond": it is at most 1
        hi = float(np.nanmax(batch.frame[c].to_numpy(dtype=float)))
        for f in factors:
            at = {**base, c: hi * float(f)}
            pr = fit.predict(*[at[k] for k in cols], interval="prediction", warn=False)
            ext = pr.extrapolation or {}
            # keyed by the batch's column (a one-variable form's "x" is the C or N it was fitted in)
            dist = {cols[j]: float(ext[v]) for j, v in enumerate(fit.form.variables) if v in ext}
            dist.update({k: float(v) for k, v in ext.items() if k not in fit.form.variables})
            out.append({"variable": c, "factor": float(f), "at": at, "value": float(pr.value),
                        "lo": None if pr.lo is None else float(pr.lo), "hi": None if pr.hi is None else float(pr.hi),
                        "extrapolation": dist})
    return tuple(out)
