"""A validated experiment batch: the normalised table every analysis reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .. import display
from ..exceptions import ConfigError
from .config import BatchConfig
from .metric import MetricSpec
from .schedule import Schedule
from .slug import slugify

__all__ = ["Batch", "Exclusion", "in_runs"]


def in_runs(labels: Any, runs: Iterable[Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether each run label is one of ``runs``, both compared as str.

    Both sides become fixed-width str arrays first: np.isin between such an array and an object
    array (what pandas' ``to_numpy()`` gives for strings) compares objects pairwise, 13 s at 50,000 runs.
    """
    lab = np.asarray(labels).astype(str)
    return np.isin(lab, np.asarray([str(r) for r in runs], dtype=str))


@dataclass(frozen=True)
class Exclusion:
    """A run (or some of its rows) left out of every analysis, and why."""

    run: str
    reason: str
    rows: tuple[int, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "reason": self.reason, "rows": list(self.rows)}


@dataclass(frozen=True)
class Batch:
    """A validated experiment batch. Build it with :func:`load_batch`.

    Attributes
    ----------
    name, slug : str
        Display name and its path-safe form.
    source : str
        File path, or ``"<DataFrame>"``.
    frame : pandas.DataFrame
        Valid rows: ``N``, ``D``, ``C``, ``run``, ``step`` (0 when the table has no checkpoints),
        optional ``group``/``version``, and one column per metric.
    metrics : dict
        Metric name -> :class:`~scalekit.config.MetricSpec`.
    excluded : tuple of Exclusion
        Diverged or invalid runs, with the reason.
    compute : str
        How C was counted: ``"flops column 'X'"`` or ``"6ND"``.
    data_unit : str
        What D counts: ``tokens``, ``samples``, or ``samples (steps x batch_size)``.
    """

    name: str
    slug: str
    source: str
    frame: pd.DataFrame
    metrics: dict[str, MetricSpec]
    excluded: tuple[Exclusion, ...]
    compute: str
    data_unit: str
    columns: dict[str, str]
    config: BatchConfig
    has_checkpoints: bool
    notes: tuple[str, ...] = field(default=())
    hparams: tuple[str, ...] = ()  # declared hyperparameter columns (a sweep)
    sweep: pd.DataFrame | None = field(default=None, repr=False)  # every run of a sweep; ``frame`` keeps the best per cell
    schedule: Schedule | None = None  # the declared learning-rate schedule
    lr_column: str | None = None  # the table's learning-rate column, read into ``frame["lr"]``
    undeclared_hparams: tuple[dict[str, Any], ...] = ()  # hyperparameter-like columns varying within (N, D), undeclared
    # False for a batch without a data size (a mixture-of-experts batch in N and E): D and C are NaN, and the analyses
    # that need them (compute-optimal allocation, profiles, the grid) are skipped with the reason
    has_data_size: bool = True

    @property
    def variables(self) -> dict[str, tuple[str, ...]]:
        """The variables a law may read, by role -> frame column(s): N, D (when the batch has a data size), U when
        given, and every role declared under ``variables:`` (a mixture's proportions as r1, r2, ...)."""
        out: dict[str, tuple[str, ...]] = {"N": ("N",)}
        if self.has_data_size:
            out["D"] = ("D",)
        if "U" in self.frame:
            out["U"] = ("U",)
        for role, cols in self.config.variables.items():
            out[role] = tuple(f"r{k}" for k in range(1, len(cols) + 1)) if role == "r" else (role,)
        return out

    @property
    def has_schedule(self) -> bool:
        """Whether the batch says where each run is in its learning-rate schedule (an ``lr`` column or ``schedule:``)."""
        return self.has_checkpoints and (self.lr_column is not None or self.schedule is not None)

    @property
    def runs(self) -> int:
        return int(self.frame["run"].nunique())

    @property
    def rows(self) -> int:
        return len(self.frame)

    def finals(self) -> pd.DataFrame:
        """The last checkpoint of every run: its last row with every metric, else its last row.

        Trackers log metrics at different steps (train loss every step, eval loss every fifth): a run's
        last row may hold the train loss alone, and its final eval is at the last step that has both.
        """
        f = self.frame
        if not self.has_checkpoints:
            return f
        names = [m for m in self.metrics if m in f]
        complete = f[names].notna().all(axis=1) if names else pd.Series(True, index=f.index)
        if bool(complete.all()):
            return f.loc[f.groupby("run", sort=False)["step"].idxmax()].sort_index()
        # per run, the latest complete row wins; a run with none keeps its last row
        order = f.assign(_complete=complete.to_numpy()).sort_values(["_complete", "step"], kind="stable")
        return f.loc[order.groupby("run", sort=False).tail(1).index].sort_index()

    def metric(self, name: str | None = None) -> MetricSpec:
        """The named metric, or the primary (first) one."""
        if name is None:
            return next(iter(self.metrics.values()))
        if name in self.metrics:
            return self.metrics[name]
        by_col = [m for m in self.metrics.values() if m.column == name]
        if by_col:
            return by_col[0]
        raise ConfigError(f"unknown metric {name!r}; this batch has {list(self.metrics)}", source=self.source, key="metric")

    @property
    def versions(self) -> list[str]:
        """Values of the ``version`` column (empty when the batch has none)."""
        return sorted(self.frame["version"].unique()) if "version" in self.frame else []

    def select_version(self, version: str) -> Batch:
        """The runs of one model version, as a batch of its own (name gets the version appended)."""
        if version not in self.versions:
            raise ConfigError(f"no version {version!r}; this batch has {self.versions}", source=self.source, key="version")
        frame = self.frame[self.frame["version"] == version].reset_index(drop=True)
        frame["run"] = frame["run"].str.removesuffix(f" [{version}]")  # within one version a run's name is unique again
        name = f"{self.name} {version}"
        sweep = None if self.sweep is None else self.sweep[self.sweep["version"] == version].reset_index(drop=True)
        notes = tuple(n for n in self.notes if "appear in more than one version" not in n)
        return replace(self, name=name, slug=slugify(name), frame=frame, sweep=sweep, notes=notes)

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Trained range (min, max) of N, D and C, and of every other declared variable; NaN where the batch has none."""
        cols = ["N", "D", "C", *(c for cs in self.variables.values() for c in cs if c not in ("N", "D"))]
        return {k: (float(self.frame[k].min()), float(self.frame[k].max())) for k in dict.fromkeys(cols)}

    def summary(self) -> dict[str, Any]:
        """JSON-safe description (the ``batch`` block of summary.json)."""
        return {
            "name": self.name,
            "slug": self.slug,
            "source": self.source,
            "runs": self.runs,
            "rows": self.rows,
            "checkpoints": self.has_checkpoints,
            "metrics": [m.summary() for m in self.metrics.values()],
            "compute": self.compute,
            "data_unit": self.data_unit,
            "ranges": {k: list(v) for k, v in self.ranges().items()},
            "distinct_N": int(self.frame["N"].nunique()),
            "excluded": [e.summary() for e in self.excluded],
            "notes": list(self.notes),
            **({"hparams": list(self.hparams)} if self.hparams else {}),
            **({"schedule": self.schedule.summary()} if self.schedule is not None else {}),
            **({"lr_column": self.lr_column} if self.lr_column is not None else {}),
            **({"variables": {k: list(v) for k, v in self.config.variables.items()}} if self.config.variables else {}),
            **({} if self.has_data_size else {"data_size": False}),
        }

    def best_run(self, metric: str | None = None, exclude: Iterable[str] = ()) -> dict[str, Any]:
        """The final point with the best value of ``metric`` (runs in ``exclude`` left out)."""
        spec = self.metric(metric)
        fin = self.finals()
        fin = fin[np.isfinite(fin[spec.name]) & ~fin["run"].isin(list(exclude))]
        i = fin[spec.name].idxmin() if spec.direction == "min" else fin[spec.name].idxmax()
        r = fin.loc[i]
        return {"run": str(r["run"]), "value": float(r[spec.name]), "N": float(r["N"]), "D": float(r["D"]), "C": float(r["C"])}

    def _repr_html_(self) -> str:
        return display.html(self)

    def __repr__(self) -> str:
        return (f"Batch({self.name!r}: {self.runs} runs, {self.rows} rows, metrics {list(self.metrics)}, "
                f"{len(self.excluded)} excluded)")


