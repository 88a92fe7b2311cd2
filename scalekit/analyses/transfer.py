"""Loss-to-loss transfer inside a batch: how the other lower-is-better metrics follow the primary one.

For a batch with several losses (eval sets, or a loss and an error metric), each other metric is
mapped from the primary one by the shifted power law of Brandfonbrener et al. (2024),
``L_B = K (L_A - E_A)^kappa + E_B`` (:func:`scalekit.laws.loss_to_loss.fit_loss_to_loss`), and,
where the batch has three model sizes or more, the map is backtested on the largest size
(:func:`scalekit.analyses.transfer_backtest.transfer_backtest`). The transfer check reads these: two laws
that disagree but are joined by a map that fits say the law transfers *through the map*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import display
from ..data.batch import Batch
from ..exceptions import ScalekitError
from ..jsonsafe import jsonable
from ..laws.loss_to_loss import LossToLossFit, fit_loss_to_loss
from ..options import Options
from .metric import MetricAnalysis
from .transfer_backtest import TransferBacktest, transfer_backtest

__all__ = ["Transfer", "transfer_maps"]


@dataclass(frozen=True, eq=False)
class Transfer:
    """The map from the primary loss ``source`` to another metric ``target``, and how far it holds.

    Attributes
    ----------
    fits_well : bool
        The map's relative RMSE over every run and checkpoint is within the ``transfer_map_rmse``
        threshold (and its held-out error too, when there is a backtest).
    backtest : TransferBacktest or None
        The target predicted at the largest model size from smaller ones, through the source's law
        and the map, beside the target's own law (None with fewer than three sizes).
    error : str or None
        Why the map or its backtest could not be fitted.
    """

    source: str
    target: str
    map: LossToLossFit | None
    backtest: TransferBacktest | None
    fits_well: bool
    error: str | None = None

    @property
    def heldout_error(self) -> float | None:
        return None if self.backtest is None else self.backtest.error_via_map

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "source": self.source, "target": self.target, "fits_well": self.fits_well, "error": self.error,
            "map": None if self.map is None else self.map.summary(),
            "rmse": None if self.map is None else self.map.rmse,
            "backtest": None if self.backtest is None else {
                "heldout_N": self.backtest.heldout_N, "runs": list(self.backtest.runs),
                "error_via_map": self.backtest.error_via_map, "error_own_law": self.backtest.error_own_law,
                "error_map_only": self.backtest.error_map_only, "error_source_law": self.backtest.error_source_law},
        })
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def transfer_maps(batch: Batch, metrics: Mapping[str, MetricAnalysis], opts: Options) -> dict[str, Transfer]:
    """Maps from the primary lower-is-better metric to every other one with a fitted law (keyed by target).

    Empty unless the batch has two or more lower-is-better metrics with laws.
    """
    losses = [m for m in metrics.values() if m.spec.direction == "min" and m.fit is not None]
    if len(losses) < 2:
        return {}
    source = losses[0].name
    n_boot = opts.thresholds.n_boot_checks
    out: dict[str, Transfer] = {}
    for ma in losses[1:]:
        try:
            m = fit_loss_to_loss(batch, source, ma.name, n_boot=n_boot, seed=opts.seed)
        except ScalekitError as exc:
            out[ma.name] = Transfer(source, ma.name, None, None, False, str(exc))
            continue
        bt, err = None, None
        if batch.frame["N"].nunique() >= 3:
            try:
                bt = transfer_backtest(batch, source, ma.name, n_boot=n_boot, seed=opts.seed)
            except ScalekitError as exc:
                err = f"backtest: {exc}"
        limit = opts.thresholds.transfer_map_rmse
        good = m.rmse <= limit and (bt is None or bt.error_via_map <= max(2 * limit, bt.error_own_law))
        out[ma.name] = Transfer(source, ma.name, m, bt, bool(good), err)
    return out
