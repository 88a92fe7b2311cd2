"""Schedule backtest: fit the loss-curve law on each run's early steps and predict its last point.

An analysis over :func:`scalekit.fit_schedule_law`, so it lives with the analyses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..data.batch import Batch
from ..data.schedule import Schedule
from ..laws.schedule_law import fit_schedule_law
from ..laws.vocabulary import as_batch
from ..options import Options

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["schedule_backtest"]


def schedule_backtest(data: Batch | pd.DataFrame | str | Path, metric: str | None = None, *, until: float = 0.5,
                      decay: float | str = "fit", schedules: Mapping[str, Schedule | npt.ArrayLike] | None = None,
                      options: Options | None = None, **overrides: Any) -> dict[str, Any]:
    """Fit on each run's first ``until`` of steps and predict its last point, against the last value seen.

    ``options`` and keyword ``overrides`` (``seed``, ``delta``) are :func:`scalekit.fit_schedule_law`'s; the
    backtest fits without a bootstrap. Returns per-run rows (``run``, ``N``, ``actual``, ``predicted``,
    ``rel_error``, ``baseline``, ``baseline_rel_error``) and their mean absolute relative errors.
    """
    batch = as_batch(data)
    spec = batch.metric(metric)
    law = fit_schedule_law(batch, spec.name, schedules=schedules, until=until, decay=decay, options=options,
                           **{**overrides, "n_boot": 0})
    rows: list[dict[str, Any]] = []
    f = batch.frame
    for run in law.run_size:
        g = f[(f["run"] == run) & np.isfinite(f[spec.name])].sort_values("step")
        last = g.iloc[-1]
        seen = g[g["step"] <= until * float(last["step"])]
        if seen.empty:
            continue
        pred = float(law.predict(run, [float(last["step"])])[0])
        actual = float(last[spec.name])
        base = float(seen[spec.name].iloc[-1])
        rows.append({"run": run, "N": float(last["N"]), "step": float(last["step"]), "actual": actual, "predicted": pred,
                     "rel_error": pred / actual - 1, "baseline": base, "baseline_rel_error": base / actual - 1})
    mare = float(np.mean([abs(r["rel_error"]) for r in rows])) if rows else None
    base_err = float(np.mean([abs(r["baseline_rel_error"]) for r in rows])) if rows else None
    return {"until": until, "runs": rows, "mean_abs_rel_error": mare, "baseline": "last value seen",
            "baseline_mean_abs_rel_error": base_err, "decay": {k: v.decay for k, v in law.laws.items()}}

