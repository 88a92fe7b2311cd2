"""Hyperparameters at scale for a batch: the learning rate and batch size to train with, and the critical batch.

:func:`hparams_at_scale` finds a declared sweep's learning-rate and batch-size columns, fits the three estimates
of :mod:`scalekit.analyses.hparam_laws` on the final value of every run, answers at the budgets and the target the
report states (and the options ``hparam_N``/``hparam_D``), and, when runs carry in-training curves at three or more
batch sizes per cell, the critical batch (:mod:`scalekit.analyses.critical_batch`). One bootstrap count (the
option ``n_boot_optimal``) serves every interval, so the page and summary.json state the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.batch import Batch
from ..data.sweep import run_finals
from ..exceptions import FitError
from ..options import Options
from .critical_batch import CriticalBatch, critical_batch
from .hparam_laws import Answer, HyperparamLaws, answers, hyperparam_laws
from .metric import MetricAnalysis

__all__ = ["HparamsAtScale", "hparam_columns", "hparams_at_scale"]

_LR_NAMES = ("lr", "learning_rate", "peak_lr", "max_lr", "lr_max")
_BATCH_NAMES = ("batch_size", "batch", "bs", "batch_tokens", "global_batch_size")


@dataclass(frozen=True)
class HparamsAtScale:
    """One metric's hyperparameter laws, the answers where the user will train, and the critical batch."""

    metric: str
    lr_column: str
    batch_column: str | None
    seq_len: float | None
    laws: HyperparamLaws
    answers: tuple[Answer, ...]
    critical: CriticalBatch | None
    critical_note: str
    runs: int


def hparam_columns(batch: Batch) -> tuple[str | None, str | None]:
    """The declared hyperparameters that are the learning rate and the batch size (by name), else None."""
    def pick(names: tuple[str, ...], word: str) -> str | None:
        exact = [h for h in batch.hparams if h.lower() in names]
        return exact[0] if exact else next((h for h in batch.hparams if word in h.lower()), None)

    return pick(_LR_NAMES, "lr"), pick(_BATCH_NAMES, "batch")


def _seq_len(frame: pd.DataFrame, opts: Options) -> float | None:
    if opts.seq_len is not None:
        return float(opts.seq_len)
    if "seq_len" in frame and frame["seq_len"].nunique() == 1:
        return float(frame["seq_len"].iloc[0])
    return None


def cell_D(v: float) -> float:
    """A sweep cell's data size: D to 3 significant digits (trackers log final token counts that differ a little)."""
    return float(f"{v:.3g}")


def _where(ma: MetricAnalysis, opts: Options) -> list[tuple[str, float, float]]:
    """The (label, N, D) the report answers at: each budget's optimum, the headline target's cheapest point, the asked."""
    at: list[tuple[str, float, float]] = []
    for a in ma.allocations:
        if a.N and a.D:
            # the budget as written everywhere else (10ⁿ notation, 3 significant digits): no two budgets share a label
            mant, exp = f"{a.C:.2e}".split("e")
            at.append((f"optimum at {float(mant):g}×10^{int(exp)} FLOP", float(a.N), float(a.D)))
    t = ma.target
    if t is not None and t.reachable and t.N and t.D:
        at.append((f"{t.improvement:.0%} better than the best run", float(t.N), float(t.D)))
    at += [("asked", float(n), float(d)) for n, d in zip(opts.hparam_N, opts.hparam_D)]
    return at


def _critical(sweep: pd.DataFrame, fin: pd.DataFrame, metric: str, lr: str, bs: str,
              opts: Options) -> tuple[CriticalBatch | None, str]:
    """The critical batch from the curves of the best-lr run at each (cell, batch size): McCandlish's trade-off
    assumes each batch size at its own tuned learning rate. A cell is its runs' final (N, D)."""
    final_D = fin.set_index("run")["D"]
    best = fin.loc[fin.groupby(["N", "D", bs])[metric].idxmin(), "run"]
    curves = sweep[sweep["run"].isin(set(best)) & np.isfinite(sweep[metric])].copy()
    curves["D"] = curves["run"].map(final_D)
    try:
        crit = critical_batch(curves, metric=metric, batch=bs, n_boot=opts.n_boot_optimal, seed=opts.seed)
    except FitError as exc:
        return None, str(exc)
    if not crit.cells:
        return None, "; ".join(crit.skipped[:3])
    return crit, "; ".join(crit.skipped[:3])


def hparams_at_scale(batch: Batch, ma: MetricAnalysis, opts: Options) -> HparamsAtScale | None:
    """The section for one metric (None when the batch declares no learning-rate sweep or it cannot be fitted)."""
    lr, bs = hparam_columns(batch)
    if lr is None or batch.sweep is None or ma.spec.direction != "min":
        return None
    sweep = batch.sweep
    fin = run_finals(sweep) if "step" in sweep else sweep
    fin = fin[np.isfinite(fin[ma.name]) & (fin[lr] > 0)].copy()
    # a cell is one (N, D) to 3 significant digits (trackers log final token counts that differ a little), and
    # needs three or more learning rates to hold a bowl
    # without a data size the cells are the model sizes alone
    keys = ["N", "D"] if batch.has_data_size else ["N"]
    if batch.has_data_size:
        fin["D"] = fin["D"].map(cell_D)
    else:
        fin = fin.drop(columns="D")
    fin = fin[fin.groupby(keys)[lr].transform("nunique") >= 3]
    if fin.empty:
        return None
    try:
        laws = hyperparam_laws(fin, ma.name, lr=lr, batch=bs or "",  # no declared batch size: none fitted tolerance=opts.hparam_tolerance,
                               n_boot=opts.n_boot_optimal, seed=opts.seed)
    except FitError:
        return None
    # batch sizes in sequences only when the batch column counts tokens as D does; a batch that counts samples
    # already counts sequences
    seq = _seq_len(sweep, opts) if batch.data_unit == "tokens" else None
    ans = tuple(answers(laws, _where(ma, opts), seq_len=seq, tolerance=opts.hparam_tolerance))
    crit, note = None, "runs at three or more batch sizes per (N, D) with in-training curves are needed"
    if bs is not None and batch.has_checkpoints and sweep["step"].nunique() > 2:
        crit, note = _critical(sweep, fin, ma.name, lr, bs, opts)
    return HparamsAtScale(metric=ma.name, lr_column=lr, batch_column=bs, seq_len=seq, laws=laws, answers=ans,
                          critical=crit, critical_note=note,
                          runs=int(fin["run"].nunique()))
