"""The training-curve analyses :func:`scalekit.analyze` adds when a batch has them: sweeps and schedule laws."""

from __future__ import annotations

from ..analyses.schedule_backtest import schedule_backtest
from ..analyses.sweeps import Sweep, sweep_analysis
from ..data.batch import Batch
from ..exceptions import FitError
from ..laws.schedule_law import ScheduleLawFit, fit_schedule_law
from ..options import Options

__all__ = ["schedule_laws", "sweeps"]


def sweeps(batch: Batch, metrics: list[str], opts: Options) -> dict[str, Sweep]:
    """Per metric, the sweep's best runs and sensitivity (empty without ``hparams``)."""
    out: dict[str, Sweep] = {}
    for m in metrics:
        sw = sweep_analysis(batch, m, n_boot=opts.n_boot_optimal, seed=opts.seed)
        if sw is not None:
            out[m] = sw
    return out


def schedule_laws(batch: Batch, metrics: list[str], opts: Options) -> dict[str, ScheduleLawFit]:
    """Per lower-is-better metric, the loss-curve law with annealing and its half-curve backtest (empty without a schedule)."""
    if not batch.has_schedule:
        return {}
    out: dict[str, ScheduleLawFit] = {}
    for m in metrics:
        if batch.metric(m).direction != "min":  # the law describes a loss falling along training
            continue
        try:
            law = fit_schedule_law(batch, m, n_boot=min(opts.n_boot_optimal, 100), seed=opts.seed, delta=opts.delta)
            bt = schedule_backtest(batch, m, seed=opts.seed, delta=opts.delta)
        except FitError:
            continue
        out[m] = ScheduleLawFit(law.metric, law.direction, law.bound, law.laws, law.run_size, law.lr_curves, law.method,
                                law.skipped, bt)
    return out
