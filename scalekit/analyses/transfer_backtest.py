"""Held-out transfer: predict a target metric at the largest model size through a source law and a loss-to-loss map.

An analysis over fits (:func:`scalekit.fit_law`, :func:`scalekit.fit_loss_to_loss`), so it lives with the analyses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.batch import Batch
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from ..laws.fit import fit_law
from ..laws.loss_to_loss import LossToLossFit, fit_loss_to_loss
from ..laws.result import FitResult, Prediction
from ..laws.vocabulary import as_batch, fit_options
from ..options import Options

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]

__all__ = ["TransferBacktest", "transfer_backtest"]


# --- held-out transfer -------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TransferBacktest:
    """Predicting a target metric at held-out larger runs: through the source's law and a map, or from its own law.

    Attributes
    ----------
    source, target : str
    heldout_N : float
        The model size held out (the largest in the batch).
    runs : tuple of str
        The held-out runs (their final checkpoints are predicted).
    N, D : ndarray
        Their sizes and data.
    actual, actual_source : ndarray
        The target's and the source's observed values there.
    via_map : Prediction
        ``map(source law(N, D))`` with the paired-bootstrap interval of
        :meth:`LossToLossFit.predict_from_law`.
    own_law : Prediction
        The target's own law at (N, D), with its confidence interval.
    map_only : ndarray
        ``map(actual source loss)``: the map's own error, without the law's.
    error_via_map, error_own_law, error_map_only : float
        Mean absolute relative error of each prediction.
    error_source_law : float
        The same for the source's law against the observed source loss: the part of the
        via-map error the map inherits.
    floors : str
        How the map's floors were set (see :func:`transfer_backtest`).
    map : LossToLossFit
    source_fit, target_fit : FitResult
        Everything fitted on the runs below ``heldout_N``.
    """

    source: str
    target: str
    heldout_N: float
    runs: tuple[str, ...]
    N: FloatArray
    D: FloatArray
    actual: FloatArray
    actual_source: FloatArray
    via_map: Prediction
    own_law: Prediction
    map_only: FloatArray
    error_via_map: float
    error_own_law: float
    error_map_only: float
    error_source_law: float
    floors: str
    map: LossToLossFit = field(repr=False)
    source_fit: FitResult = field(repr=False)
    target_fit: FitResult = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: held-out points, the three predictions and their errors, and the map."""
        return dict(jsonable({
            "source": self.source, "target": self.target, "heldout_N": self.heldout_N, "runs": list(self.runs),
            "N": self.N, "D": self.D, "actual": self.actual, "actual_source": self.actual_source,
            "via_map": self.via_map.summary(), "own_law": self.own_law.summary(), "map_only": self.map_only,
            "error_via_map": self.error_via_map, "error_own_law": self.error_own_law,
            "error_map_only": self.error_map_only, "error_source_law": self.error_source_law,
            "floors": self.floors, "map": self.map.summary(),
        }))


def transfer_backtest(
    data: Batch | pd.DataFrame | str | Path,
    source: str,
    target: str,
    *,
    law_points: str = "final",
    map_points: str = "all",
    floors: str = "source",
    options: Options | None = None,
    **overrides: Any,
) -> TransferBacktest:
    """Hold out the largest model size; predict the target there via the source's law and the map, and from its own law.

    The source's and the target's two-variable laws (:func:`scalekit.fit_law`, ``points=law_points``)
    and the map (:func:`fit_loss_to_loss`, ``points=map_points``) are fitted on the runs of
    every smaller size; each held-out run's final checkpoint is then predicted three ways.

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts, with at least 3 model sizes.
    source, target : str
        Source and target losses.
    law_points : {"final", "all", "auto"}
        Which rows the laws are fitted on.
    map_points : {"all", "final"}
        Which rows the map is fitted on.
    floors : {"source", "laws", "fit"}
        The map's floors: ``"source"`` fixes ``E_A`` to the source law's ``E`` and fits ``E_B``
        (the map is then defined wherever the law predicts); ``"laws"`` also fixes ``E_B`` to the
        target law's ``E`` (Brandfonbrener et al.'s choice); ``"fit"`` fits both.
    options : Options, optional
        Run options (:mod:`scalekit.options`); the batch config's options fill what they leave unset.
    **overrides
        Any option by name; ``n_boot`` and ``seed`` set the laws' and the map's bootstrap (their other options are
        the batch config's).

    Returns
    -------
    TransferBacktest

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N = np.repeat(np.logspace(7, 9, 5), 6); D = np.tile(np.logspace(9, 11, 6), 5)
    >>> la = 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28
    >>> df = pd.DataFrame({"params": N, "tokens": D, "a_loss": la, "b_loss": 0.8 * (la - 1.7) ** 1.3 + 2.0})
    >>> bt = transfer_backtest(df, "a_loss", "b_loss", n_boot=0)  # E_A = the a_loss law's E, 1.7
    >>> bt.error_via_map < 1e-6 and bt.error_map_only < 1e-6
    True
    """

    batch = as_batch(data)
    opts = fit_options(batch, options, overrides)
    n_boot, seed = opts.n_boot, opts.seed
    frame = batch.frame
    big = float(frame["N"].max())
    if frame["N"].nunique() < 3:
        raise FitError(f"holding out the largest size leaves {frame['N'].nunique() - 1} size(s); a two-variable law "
                       "needs at least 2, so the batch needs at least 3 distinct model sizes", form="loss_to_loss")
    if floors not in ("source", "laws", "fit"):
        raise ConfigError(f"floors must be 'source', 'laws' or 'fit', not {floors!r}", key="floors")
    train = dataclasses.replace(batch, frame=frame[frame["N"] < big].reset_index(drop=True))
    src_fit = fit_law(train, metric=source, n_boot=n_boot, seed=seed, points=law_points)
    tgt_fit = fit_law(train, metric=target, n_boot=n_boot, seed=seed, points=law_points)
    e_a = src_fit.params["E"] if floors in ("source", "laws") else None
    e_b = tgt_fit.params["E"] if floors == "laws" else None
    try:
        m = fit_loss_to_loss(train, source, target, points=map_points, E_A=e_a, E_B=e_b, n_boot=n_boot, seed=seed)
    except ConfigError as e:
        if e.key not in ("E_A", "E_B"):
            raise
        raise FitError(f"floors={floors!r}: a law's floor E is not below the smallest loss it was fitted to ({e.message}); "
                       "use floors='fit'", metric=target, form="loss_to_loss") from None
    fin = batch.finals()
    fin = fin[(fin["N"] == big) & np.isfinite(fin[m.source]) & np.isfinite(fin[m.target])]
    if fin.empty:
        raise FitError(f"the held-out size N = {big:.4g} has no final point with both {m.source!r} and {m.target!r}",
                       form="loss_to_loss")
    N, D = fin["N"].to_numpy(dtype=float), fin["D"].to_numpy(dtype=float)
    actual, actual_src = fin[m.target].to_numpy(dtype=float), fin[m.source].to_numpy(dtype=float)
    # the held-out size lies beyond the fit by design: no extrapolation warning
    via = m.predict_from_law(src_fit, N, D, interval="confidence", warn=False)
    own = tgt_fit.predict(N, D, interval="confidence", warn=False)
    only = np.asarray(m.predict(actual_src), dtype=float)
    assert isinstance(via, Prediction) and isinstance(own, Prediction)

    def err(pred: FloatArray, obs: FloatArray = actual) -> float:
        return float(np.mean(np.abs(np.asarray(pred) / obs - 1)))

    return TransferBacktest(
        source=m.source, target=m.target, heldout_N=big, runs=tuple(fin["run"].astype(str)), N=N, D=D, actual=actual,
        actual_source=actual_src, via_map=via, own_law=own, map_only=only, error_via_map=err(via.value),
        error_own_law=err(own.value), error_map_only=err(only), error_source_law=err(src_fit.predict(N, D, warn=False), actual_src),
        floors=floors, map=m, source_fit=src_fit, target_fit=tgt_fit,
    )
