"""Learning-rate schedules: where each run is in its schedule, and its learning rate at every step.

A batch tells scalekit its schedule in one of two ways:

* a learning-rate column (``lr``, ``learning_rate``, ``optim/learning_rate_group0``, ...) logged at
  each checkpoint, or
* a declaration in the config, ``schedule: {kind: cosine|linear|wsd|constant, warmup, decay_start,
  final_lr_ratio, total}``, the same for every run (``total`` defaults to each run's last step, that
  is, to runs that completed their schedule).

From either, :func:`run_status` says per run whether it finished its decay (its last stretch is steep
because the learning rate fell, not because it was stopped early), stopped mid-decay, or never
annealed (constant learning rate); :func:`lr_per_step` gives the learning rate at every optimizer
step, which the loss-curve law with annealing (:mod:`scalekit.laws.schedule_law`) integrates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import ConfigError

__all__ = ["KINDS", "RunStatus", "Schedule", "lr_from_checkpoints", "lr_per_step", "parse_schedule", "run_status"]

FloatArray = npt.NDArray[np.float64]
KINDS = ("cosine", "linear", "wsd", "constant")
_FIELDS = {"kind", "warmup", "decay_start", "final_lr_ratio", "total", "peak_lr"}


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule, relative to its peak (``peak_lr``, 1 unless given).

    ``warmup`` and ``decay_start`` are steps, or fractions of the run when below 1; ``total`` is the
    run's planned length in steps (None: each run's last step). ``wsd`` holds the peak until
    ``decay_start`` (default 0.8 of the run) and then decays linearly to ``final_lr_ratio``.

    Examples
    --------
    >>> s = Schedule("cosine", warmup=0, final_lr_ratio=0.1)
    >>> [round(float(v), 3) for v in s.lr([0, 50, 100], total=100)]
    [1.0, 0.55, 0.1]
    >>> [round(float(v), 2) for v in Schedule("wsd", decay_start=80).lr([0, 80, 90, 100], total=100)]
    [1.0, 1.0, 0.5, 0.0]
    """

    kind: str = "cosine"
    warmup: float = 0.0
    decay_start: float | None = None
    final_lr_ratio: float = 0.0
    total: float | None = None
    peak_lr: float = 1.0

    @property
    def decays(self) -> bool:
        return self.kind != "constant"

    def _at(self, x: float | None, total: float, default: float) -> float:
        if x is None:
            return default * total
        return x * total if x < 1 else float(x)

    def lr(self, steps: npt.ArrayLike, total: float | None = None) -> FloatArray:
        """The learning rate at ``steps`` of a run ``total`` steps long (``self.total`` if set)."""
        T = float(self.total if self.total is not None else (total if total is not None else np.max(steps)))
        s = np.asarray(steps, dtype=float)
        w = self._at(self.warmup, T, 0.0) if self.warmup else 0.0
        f = self.final_lr_ratio
        out = np.ones_like(s)
        if self.kind == "cosine":
            p = np.clip((s - w) / max(T - w, 1e-12), 0, 1)
            out = f + (1 - f) * 0.5 * (1 + np.cos(np.pi * p))
        elif self.kind == "linear":
            p = np.clip((s - w) / max(T - w, 1e-12), 0, 1)
            out = 1 - (1 - f) * p
        elif self.kind == "wsd":
            d = max(self._at(self.decay_start, T, 0.8), w)
            p = np.clip((s - d) / max(T - d, 1e-12), 0, 1)
            out = 1 - (1 - f) * p
        if w > 0:
            out = np.where(s < w, s / w, out)
        return np.asarray(out * self.peak_lr, dtype=float)

    def position(self, step: float, total: float) -> float:
        """How far through its decay a run is at ``step`` (0 before the decay starts, 1 at its end)."""
        T = float(self.total if self.total is not None else total)
        if self.kind == "wsd":
            start = self._at(self.decay_start, T, 0.8)
        else:
            start = self._at(self.warmup, T, 0.0) if self.warmup else 0.0
        return float(np.clip((step - start) / max(T - start, 1e-12), 0, 1))

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "warmup": self.warmup, "decay_start": self.decay_start,
                "final_lr_ratio": self.final_lr_ratio, "total": self.total, "peak_lr": self.peak_lr}


def _number(v: Any, key: str, source: str | None, *, low: float = 0.0, high: float | None = None) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"got {v!r}; expected a number", source=source, key=f"schedule.{key}") from None
    if not math.isfinite(x) or x < low or (high is not None and x > high):
        allowed = f">= {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise ConfigError(f"got {v!r}; expected a finite number {allowed}", source=source, key=f"schedule.{key}")
    return x


def parse_schedule(raw: Any, source: str | None = None) -> Schedule:
    """A ``schedule:`` config entry (a kind name, or a mapping) as a validated :class:`Schedule`.

    >>> parse_schedule({"kind": "wsd", "decay_start": 0.9}).decay_start
    0.9
    >>> parse_schedule("sine")
    Traceback (most recent call last):
    ...
    scalekit.exceptions.ConfigError: config [schedule.kind]: got 'sine'; expected one of 'cosine', 'linear', 'wsd', 'constant'
    """
    if isinstance(raw, Schedule):
        return raw
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"got {raw!r}; expected a kind ({', '.join(KINDS)}) or a mapping like "
                          "{kind: cosine, warmup: 0.01, final_lr_ratio: 0.1}", source=source, key="schedule")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown}; expected some of {sorted(_FIELDS)}", source=source, key="schedule")
    kind = str(raw.get("kind", "cosine"))
    if kind not in KINDS:
        raise ConfigError(f"got {kind!r}; expected one of {', '.join(map(repr, KINDS))}", source=source, key="schedule.kind")
    kw: dict[str, Any] = {"kind": kind}
    for key in ("warmup", "decay_start", "total"):
        if raw.get(key) is not None:
            kw[key] = _number(raw[key], key, source)
    if kw.get("total") is not None and not kw["total"] > 0:
        raise ConfigError(f"got {raw['total']!r}; expected a positive number of steps", source=source, key="schedule.total")
    if raw.get("final_lr_ratio") is not None:
        kw["final_lr_ratio"] = _number(raw["final_lr_ratio"], "final_lr_ratio", source, high=1.0)
    if raw.get("peak_lr") is not None:
        kw["peak_lr"] = _number(raw["peak_lr"], "peak_lr", source)
        if not kw["peak_lr"] > 0:
            raise ConfigError(f"got {raw['peak_lr']!r}; expected a positive learning rate", source=source, key="schedule.peak_lr")
    if kind == "wsd" and kw.get("decay_start") is None:
        kw["decay_start"] = 0.8
    return Schedule(**kw)


def lr_from_checkpoints(steps: npt.ArrayLike, lr: npt.ArrayLike, last: int | None = None) -> FloatArray:
    """The learning rate at every step 0..``last`` from values logged at some steps (linear in between).

    Before the first logged step and after the last, the rate stays at the nearest logged value (a
    warmup shorter than the first logging interval is not seen).
    """
    s = np.asarray(steps, dtype=float)
    v = np.asarray(lr, dtype=float)
    ok = np.isfinite(s) & np.isfinite(v)
    s, v = s[ok], v[ok]
    order = np.argsort(s)
    s, v = s[order], v[order]
    end = int(last if last is not None else (s[-1] if s.size else 0))
    if s.size == 0:
        return np.zeros(end + 1)
    out: FloatArray = np.interp(np.arange(end + 1, dtype=float), s, v)
    return out


def lr_per_step(frame: pd.DataFrame, run: str, schedule: Schedule | None = None, last: int | None = None) -> FloatArray | None:
    """A run's learning rate at every step 0..``last``: from its ``lr`` column, else from ``schedule``; None without either."""
    g = frame[frame["run"] == run]
    end = int(last if last is not None else g["step"].max())
    if "lr" in frame and g["lr"].notna().sum() >= 2:
        return lr_from_checkpoints(g["step"], g["lr"], end)
    if schedule is not None:
        total = schedule.total if schedule.total is not None else float(g["step"].max())
        return schedule.lr(np.arange(end + 1), total)
    return None


@dataclass(frozen=True)
class RunStatus:
    """Where a run stopped in its schedule.

    ``state`` is ``finished`` (it decayed to its floor: a steep last stretch is the anneal, not an
    unconverged run), ``mid_decay`` (stopped while its learning rate was still falling), ``constant``
    (never annealed: its points are not annealed endpoints) or ``unknown``.
    """

    run: str
    state: str
    lr_fraction: float | None  # last learning rate / peak
    position: float | None  # fraction of the decay done, when the schedule is declared
    source: str  # "lr column" | "schedule" | ""

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "state": self.state, "lr_fraction": self.lr_fraction, "position": self.position,
                "source": self.source}


def _status_from_lr(run: str, steps: FloatArray, lr: FloatArray) -> RunStatus:
    peak = float(np.max(lr))
    if not peak > 0:
        return RunStatus(run, "unknown", None, None, "lr column")
    last = float(lr[-1])
    frac = last / peak
    if frac > 0.5:
        return RunStatus(run, "constant" if frac > 0.9 else "mid_decay", frac, None, "lr column")
    # Decayed: finished if it reached zero or the rate has flattened, i.e. at its last logged slope it
    # would fall less than 5% of its peak over a tenth of the run.
    rate = (float(lr[-2]) - last) / max(float(steps[-1] - steps[-2]), 1e-12) if lr.size >= 2 else 0.0
    flat = rate * 0.1 * float(steps[-1]) / peak <= 0.05
    return RunStatus(run, "finished" if frac <= 0.02 or flat else "mid_decay", frac, None, "lr column")


def run_status(frame: pd.DataFrame, schedule: Schedule | None = None) -> dict[str, RunStatus]:
    """Per run, where it stopped in its schedule (empty when the batch has neither an ``lr`` column nor a schedule)."""
    out: dict[str, RunStatus] = {}
    has_lr = "lr" in frame and frame["lr"].notna().any()
    if not has_lr and schedule is None:
        return out
    for run, g in frame.groupby("run", sort=False):
        g = g.sort_values("step")
        if has_lr and g["lr"].notna().sum() >= 2:
            ok = g["lr"].notna().to_numpy()
            out[str(run)] = _status_from_lr(str(run), g["step"].to_numpy(float)[ok], g["lr"].to_numpy(float)[ok])
        elif schedule is not None:
            last = float(g["step"].max())
            total = schedule.total if schedule.total is not None else last
            frac = float(schedule.lr([last], total)[0] / schedule.peak_lr)
            if not schedule.decays:
                state = "constant"
            else:
                state = "finished" if last >= total * (1 - 1e-3) else "mid_decay"
            out[str(run)] = RunStatus(str(run), state, frac, schedule.position(last, total), "schedule")
        else:
            out[str(run)] = RunStatus(str(run), "unknown", None, None, "")
    return out
