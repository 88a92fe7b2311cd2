"""Loss-to-loss maps: predict one eval set's loss from another's (Brandfonbrener et al. 2024).

Across the runs (and checkpoints) of one training setup, the losses on two datasets are
related by a shifted power law (Brandfonbrener, Anand, Vyas, Malach, Kakade 2024,
"Loss-to-Loss Prediction: Scaling Laws for All Datasets", arXiv:2411.12925)::

    L_B = K (L_A - E_A)^kappa + E_B

with ``E_A``, ``E_B`` the irreducible losses of the two sets. A law fitted on the source set A
then predicts the target set B through the map, and how well the map fits says how far a law
transfers from one eval set (or metric) to another.

Fit: Huber loss (``delta``, default 1e-3 as for the laws) on the log residuals of ``L_B``, with
``0 <= E_A < min L_A`` and ``0 <= E_B < min L_B``. For fixed ``(E_A, E_B)`` the map is linear in
log space (``log(L_B - E_B) = log K + kappa log(L_A - E_A)``), so a grid over the two floors
with least squares for ``(log K, kappa)`` (variable projection) gives the starts, and the best
are refined with the Huber loss (Levenberg-Marquardt with the floors boxed, all starts in one
batch: :func:`scalekit.laws.general.minimize`). Intervals: bootstrap over runs (a resample keeps
or repeats whole runs, with all their checkpoints), every resample refined at once from each
distinct local optimum the full fit's starts reached, the best kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..data.batch import Batch
from ..data.ranges import beyond
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from . import general
from .core import run_weights
from .general import GeneralForm
from .result import FitResult, Prediction
from .vocabulary import as_batch, check_interval, fit_options, frozen

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from numpy.typing import ArrayLike, NDArray

    from ..options import Options


    FloatArray = NDArray[np.float64]

__all__ = ["FORMULA", "PARAM_NAMES", "LossToLossFit", "fit_loss_to_loss"]

PARAM_NAMES = ("K", "kappa", "E_A", "E_B")
FORMULA = "L_B = K (L_A - E_A)^kappa + E_B"
# Floors on a grid of fractions of the smallest observed loss: the variable-projection starts.
_FLOOR_FRACTIONS = np.array([0.0, 0.2, 0.4, 0.55, 0.7, 0.8, 0.87, 0.92, 0.96, 0.985, 0.995])
_KAPPA_BOUNDS = (1e-3, 50.0)
_BOOT_STARTS = 3  # local optima of the full fit each resample is refined from
_OWN_STARTS = 2  # and its own best grid starts


def _map(theta: FloatArray, la: FloatArray) -> FloatArray:
    """The map for natural parameters ``theta`` (..., 4) at source losses ``la`` (m,): (..., m).

    NaN where ``L_A <= E_A`` (a source loss below the map's floor has no image).
    """
    K, kappa, ea, eb = (np.asarray(theta, dtype=float)[..., i, None] for i in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = la - ea
        out = K * np.power(np.where(gap > 0, gap, np.nan), kappa) + eb
    return np.asarray(out)


# --- result ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LossToLossFit:
    """A fitted loss-to-loss map ``L_B = K (L_A - E_A)^kappa + E_B``.

    Attributes
    ----------
    source, target : str
        The metrics A (source) and B (target).
    params : mapping
        ``K``, ``kappa``, ``E_A``, ``E_B`` (read-only).
    stderr, ci : mapping or None
        Bootstrap standard errors and 95% percentile intervals as (lo, hi) (None when ``n_boot=0``).
    ndata, nruns : int
        Points (rows where both losses are finite) and runs fitted.
    rmse : float
        Relative root-mean-square error of the map on the points, ``sqrt(mean((pred/obs - 1)^2))``.
    max_rel_error : float
        Largest ``|pred/obs - 1|`` on the points.
    objective : float
        Summed Huber loss of the log residuals at the optimum.
    success : bool
        Whether the optimiser converged at the best start.
    message : str
        How it converged.
    source_range, target_range : tuple of float
        Range of the source and target losses fitted: predictions from source losses outside
        ``source_range`` extrapolate the map.
    method : dict
        Loss, delta, starts, points, resamples, seed, bootstrap unit.
    residuals : ndarray
        log(predicted) - log(observed) target loss per point (``residual_scale`` "log").
    draws : ndarray or None
        Bootstrap draws of ``K, kappa, E_A, E_B``, shape (n_boot, 4).
    """

    source: str
    target: str
    params: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    ndata: int
    nruns: int
    rmse: float
    max_rel_error: float
    objective: float
    success: bool
    message: str
    source_range: tuple[float, float]
    target_range: tuple[float, float]
    method: dict[str, Any]
    x: FloatArray = field(repr=False)  # source losses fitted
    y: FloatArray = field(repr=False)  # target losses fitted
    groups: NDArray[np.str_] = field(repr=False)  # run of each point
    residuals: FloatArray = field(repr=False)  # log(pred) - log(obs) per point
    theta: FloatArray = field(repr=False)  # params in PARAM_NAMES order
    draws: FloatArray | None = field(repr=False, default=None)  # (n_boot, 4) draws in PARAM_NAMES order
    form: ClassVar[str] = "loss_to_loss"
    residual_scale: ClassVar[str] = "log"

    def __post_init__(self) -> None:
        for name in ("params", "stderr", "ci"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    def extrapolation(self, source_loss: ArrayLike) -> dict[str, FloatArray]:
        """How far source loss(es) lie beyond the range fitted: ``{"source": factor}`` (1 inside it)."""
        return {"source": beyond(np.asarray(source_loss, dtype=float), *self.source_range)}

    def predict(self, source_loss: ArrayLike, *, interval: str | None = None, level: float = 0.95,
                seed: int = 0) -> FloatArray | Prediction:
        """The target loss the map gives for source loss(es) ``source_loss``.

        Parameters
        ----------
        source_loss : array_like
            Values of the source metric ``L_A``. Where ``L_A <= E_A`` the result is NaN.
        interval : {None, "confidence", "prediction"}
            None returns an array. "confidence" gives the bootstrap interval of the map;
            "prediction" adds the scatter of a new point about the map (resampled log residuals).
        level : float
            Interval level.
        seed : int
            Seed of the residual resampling ("prediction").

        Returns
        -------
        ndarray or Prediction
            A Prediction's ``extrapolation`` has ``source``: how far each source loss lies beyond those fitted.
        """
        check_interval(interval)
        la = np.asarray(source_loss, dtype=float)
        value = _map(self.theta, la.ravel()).reshape(la.shape)
        if interval is None:
            return value
        dist = self.extrapolation(la)
        if self.draws is None:
            return Prediction(value, None, None, level, interval, dist)
        draws = _map(self.draws, la.ravel())
        if interval == "prediction":
            draws = draws * np.exp(-np.random.default_rng(seed).choice(self.residuals, size=draws.shape))
        return _prediction(value, draws, level, interval, la.shape, dist)

    def predict_from_law(self, source_fit: FitResult, *x: ArrayLike, interval: str | None = None, level: float = 0.95,
                         seed: int = 0, warn: bool = True) -> FloatArray | Prediction:
        """Predict the target metric at new (N, D) from the source metric's law, through the map.

        ``L_B(N, D) = map(L_A(N, D))`` with ``L_A`` from ``source_fit``.

        Parameters
        ----------
        source_fit : FitResult
            A law of the map's source metric (from :func:`scalekit.fit_law`).
        *x : array_like
            The law's variables (``N, D`` for the two-variable law).
        interval : {None, "confidence", "prediction"}
            How the interval carries both uncertainties: bootstrap draw ``i`` of the law is paired
            with draw ``i`` of the map (cycling the shorter set), the law draw's ``L_A`` is mapped
            by the map draw, and the 2.5/97.5 percentiles are taken. The two bootstraps are
            separate resamplings, so pairing treats the law's and the map's errors as independent.
            "prediction" also scatters ``L_A`` by the law's resampled log residuals and the mapped
            value by the map's. A fit without draws contributes its point estimate. Pairs whose
            ``L_A`` falls below the map draw's ``E_A`` have no image and are left out.
        level : float
            Interval level.
        seed : int
            Seed of the residual resampling.
        warn : bool
            Warn when (N, D) lies beyond the source law's fitted range (see :meth:`FitResult.predict`).

        Returns
        -------
        ndarray or Prediction
            A Prediction's ``extrapolation`` has the law's variables (``N``, ``D``, ``C``) and the map's ``source``.

        Raises
        ------
        ConfigError
            ``source_fit`` is not a law of the source metric, or is of a higher-is-better metric.
        """
        if source_fit.metric != self.source:
            raise ConfigError(f"source_fit is a law of {source_fit.metric!r}, but this map's source is {self.source!r}; "
                              f"fit the law on {self.source!r}", key="source_fit")
        if source_fit.direction != "min":
            raise ConfigError(f"source_fit's metric {source_fit.metric!r} is higher-is-better; a loss-to-loss map "
                              "takes a loss (lower is better)", key="source_fit")
        check_interval(interval)
        la = np.asarray(source_fit.predict(*x, warn=warn), dtype=float)
        value = _map(self.theta, la.ravel()).reshape(la.shape)
        if interval is None:
            return value
        dist = {**{k: np.asarray(v).reshape(la.shape) for k, v in source_fit.extrapolation(*x).items()},
                **self.extrapolation(la)}
        if source_fit.boot_theta is None and self.draws is None:
            return Prediction(value, None, None, level, interval, dist)
        arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
        logx = np.log(np.stack([a.ravel() for a in arrs], axis=1))
        la_draws = (la.ravel()[None, :] if source_fit.boot_theta is None
                    else np.exp(source_fit.form.log_predict(source_fit.boot_theta, logx)))
        map_draws = self.theta[None, :] if self.draws is None else self.draws
        n = max(len(la_draws), len(map_draws))
        la_draws = la_draws[np.arange(n) % len(la_draws)]
        map_draws = map_draws[np.arange(n) % len(map_draws)]
        rng = np.random.default_rng(seed)
        if interval == "prediction":
            la_draws = la_draws * np.exp(-rng.choice(source_fit.residuals, size=la_draws.shape))
        draws = _map(map_draws[:, None, :], la_draws[:, :, None])[..., 0]  # pair i with i: (n, m)
        if interval == "prediction":
            draws = draws * np.exp(-rng.choice(self.residuals, size=draws.shape))
        return _prediction(value, draws, level, interval, la.shape, dist)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: params, intervals, fit quality, ranges and method."""
        return dict(jsonable({
            "source": self.source, "target": self.target, "formula": FORMULA, "params": self.params,
            "stderr": self.stderr, "ci": {k: list(v) for k, v in self.ci.items()} if self.ci else None,
            "ndata": self.ndata, "nruns": self.nruns, "rmse": self.rmse, "max_rel_error": self.max_rel_error,
            "rmse_log": float(np.sqrt(np.mean(self.residuals ** 2))), "objective": self.objective,
            "success": self.success, "message": self.message, "source_range": list(self.source_range),
            "target_range": list(self.target_range), "method": self.method,
        }))

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<LossToLossFit {self.source} -> {self.target}: {ps}; rmse={self.rmse:.3%}, ndata={self.ndata}>"


def _prediction(value: FloatArray, draws: FloatArray, level: float, kind: str, shape: tuple[int, ...],
                dist: dict[str, FloatArray]) -> Prediction:
    q = 100 * (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanpercentile(draws, [q, 100 - q], axis=0)
    return Prediction(value, lo.reshape(shape), hi.reshape(shape), level, kind, dist)


# --- fitting -----------------------------------------------------------------------------
Floors = tuple[float | None, float | None]  # (E_A, E_B): a fixed value, or None to fit it


def _grid_starts(la: FloatArray, lb: FloatArray, floors: Floors,
                 w: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    """Variable projection: for each (E_A, E_B) on the grid, least squares gives (log K, kappa).

    For fixed floors the map is the line ``log(L_B - E_B) = log K + kappa log(L_A - E_A)``. Its
    residuals are those of ``log L_B`` divided by ``(L_B - E_B) / L_B`` (to first order), so
    least squares on the line weighted by that factor squared approximates the squared log
    residuals of ``L_B``: the grid points compare on one scale, with matrix products only. With
    row weights ``w`` (B, n) (the resamples) every problem gets its own fits. A fixed floor
    takes its one value instead of the grid. Returns the starts (B, G, 4) as (log K, kappa,
    E_A, E_B) and their weighted residual sums of squares (B, G); B = 1 without ``w``.
    """
    w = np.ones((1, la.size)) if w is None else w
    grid_a = _FLOOR_FRACTIONS * la.min() if floors[0] is None else np.array([floors[0]])
    grid_b = _FLOOR_FRACTIONS * lb.min() if floors[1] is None else np.array([floors[1]])
    ea, eb = (g.ravel() for g in np.meshgrid(grid_a, grid_b, indexing="ij"))
    X = np.log(la[None, :] - ea[:, None])
    Y = np.log(lb[None, :] - eb[:, None])
    c = ((lb[None, :] - eb[:, None]) / lb[None, :]) ** 2
    # centred first, so the weighted moments below do not cancel
    x0, y0 = X.mean(axis=1, keepdims=True), Y.mean(axis=1, keepdims=True)
    Xc, Yc = X - x0, Y - y0
    sw = w @ c.T
    mx, my = (w @ (c * Xc).T) / sw, (w @ (c * Yc).T) / sw
    sxx = (w @ (c * Xc * Xc).T) / sw - mx * mx
    sxy = (w @ (c * Xc * Yc).T) / sw - mx * my
    syy = (w @ (c * Yc * Yc).T) / sw - my * my
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = sxy / sxx
    kappa = np.clip(np.nan_to_num(kappa, nan=1.0), *_KAPPA_BOUNDS)
    logk = (my + y0[:, 0]) - kappa * (mx + x0[:, 0])
    rss = sw * (syy - 2 * kappa * sxy + kappa * kappa * sxx)
    B, G = kappa.shape
    starts = np.stack([logk, kappa, np.broadcast_to(ea, (B, G)), np.broadcast_to(eb, (B, G))], axis=-1)
    return starts, np.where(np.isfinite(rss), rss, np.inf)


class _Map(GeneralForm):
    """The map as a law for the batched solver: internal ``(log K, kappa, E_A, E_B)``.

    Its "variable" is the source loss itself (not its log): ``L_A - E_A`` must be exact near the
    floor. Points below a problem's floor (rows a resample left out) are held just above it,
    so every problem evaluates finitely on every row.
    """

    name = "loss_to_loss"
    variables = ("L_A",)
    param_names = PARAM_NAMES
    internal_names = ("log_K", "kappa", "E_A", "E_B")
    formula = FORMULA

    def evaluate(self, th: list[FloatArray], logx: FloatArray, jac: bool) -> tuple[FloatArray, list[FloatArray]]:
        la = logx[:, 0]
        gap = np.maximum(la - th[2], 1e-12 * la)
        g = np.log(gap)
        P = np.exp(th[0] + th[1] * g)
        pred = P + th[3]
        if not jac:
            return np.log(pred), []
        return np.log(pred), [P / pred, P * g / pred, -P * th[1] / gap / pred, 1.0 / pred]


_MAP = _Map()


def _solve(la: FloatArray, lb: FloatArray, starts: FloatArray, delta: float, floors: Floors,
           w: FloatArray | None = None, ftol: float = 1e-13, max_iter: int = 1000) -> general.Solution:
    """Huber fits of (log K, kappa, E_A, E_B) from each start (B, 4) at once, with row weights ``w`` (B, n).

    Free floors stay in ``[0, min L)`` over the rows each problem weighs; a fixed floor keeps
    its value.
    """
    B = starts.shape[0]
    wb = np.ones((B, la.size)) if w is None else w
    used = wb > 0
    hi_a = np.where(used, la, np.inf).min(axis=1) * (1 - 1e-9)
    hi_b = np.where(used, lb, np.inf).min(axis=1) * (1 - 1e-9)
    lower = np.array([-np.inf, _KAPPA_BOUNDS[0], 0.0, 0.0])
    upper = np.column_stack([np.full(B, np.inf), np.full(B, _KAPPA_BOUNDS[1]), hi_a, hi_b])
    x0 = np.array(starts, dtype=float)
    x0[:, 1] = np.clip(x0[:, 1], *_KAPPA_BOUNDS)
    for j, hi in ((2, hi_a), (3, hi_b)):
        if floors[j - 2] is None:
            x0[:, j] = np.clip(x0[:, j], 0.0, hi)
    fixed = [j for j in (2, 3) if floors[j - 2] is not None]
    return general.minimize(_MAP, la[:, None], np.log(lb), delta, x0, wb, ftol=ftol, max_iter=max_iter, fixed=fixed,
                            bounds=(lower, upper))


def _best_fit(la: FloatArray, lb: FloatArray, delta: float, n_starts: int,
              floors: Floors) -> tuple[FloatArray, float, bool, str, FloatArray]:
    """The best of the ``n_starts`` best grid starts, refined: (theta, objective, ok, ties, local optima).

    The local optima are the distinct refined starts, best first: the basins a resample may prefer.
    """
    starts, obj = _grid_starts(la, lb, floors)
    sol = _solve(la, lb, starts[0, np.argsort(obj[0])[: max(1, n_starts)]], delta, floors)
    f = np.where(np.isfinite(sol.f), sol.f, np.inf)
    order = np.argsort(f)
    fbest = float(f[order[0]])
    same = int(np.sum(f <= fbest * (1 + 1e-6) + 1e-15))
    distinct = [order[0]]
    for i in order[1:]:  # one start per valley: objectives apart by more than the tolerance
        if np.isfinite(f[i]) and f[i] > f[distinct[-1]] * (1 + 1e-6) + 1e-15:
            distinct.append(i)
    return (sol.theta[order[0]], fbest, bool(sol.converged[order[0]]), f"{same} of {f.size}",
            sol.theta[distinct[:_BOOT_STARTS]])


def _natural(t: FloatArray) -> FloatArray:
    out = np.array(t, dtype=float)
    out[..., 0] = np.exp(out[..., 0])
    return out


def _pairs(data: Batch | pd.DataFrame | str, source: str, target: str,
           points: str) -> tuple[FloatArray, FloatArray, NDArray[np.str_], str, str]:
    """Source and target losses on every row (or final row) of every run where both are finite and > 0."""

    if points not in ("all", "final"):
        raise ConfigError(f"points must be 'all' (every checkpoint) or 'final' (last checkpoint of each run), not "
                          f"{points!r}", key="points")
    batch = as_batch(data)
    specs = [batch.metric(source), batch.metric(target)]
    if specs[0].name == specs[1].name:
        raise ConfigError(f"source and target are the same metric ({specs[0].name!r}); give two different losses",
                          key="target")
    for s in specs:
        if s.direction != "min":
            raise ConfigError(f"metric {s.name!r} is higher-is-better; a loss-to-loss map relates two losses (lower is "
                              "better). For accuracies use a two-step map (a law for a loss, then loss -> metric)",
                              key="source" if s is specs[0] else "target")
    frame = batch.finals() if points == "final" else batch.frame
    la = frame[specs[0].name].to_numpy(dtype=float)
    lb = frame[specs[1].name].to_numpy(dtype=float)
    ok = np.isfinite(la) & np.isfinite(lb) & (la > 0) & (lb > 0)
    groups = frame["run"].astype(str).to_numpy()[ok]
    la, lb = la[ok], lb[ok]
    if la.size < 6 or np.unique(la).size < 5:
        raise FitError(f"{la.size} rows with both {specs[0].name!r} and {specs[1].name!r} cannot determine the 4 "
                       f"parameters of {FORMULA}; need at least 6 rows with 5 distinct source values",
                       metric=specs[1].name, form="loss_to_loss")
    return la, lb, groups, specs[0].name, specs[1].name


def _floor(name: str, value: float | None, losses: FloatArray, metric: str) -> float | None:
    """A fixed floor, checked to lie in [0, smallest loss): the map needs L - E > 0 on every point."""
    if value is None:
        return None
    v = float(value)
    if not (np.isfinite(v) and 0 <= v < losses.min()):
        raise ConfigError(f"{name} must be a floor in [0, {losses.min():.6g}) (below the smallest {metric!r} fitted); "
                          f"got {value!r}", key=name)
    return v


def fit_loss_to_loss(
    data: Batch | pd.DataFrame | str | Path,
    source: str,
    target: str,
    *,
    points: str = "all",
    n_starts: int = 6,
    E_A: float | None = None,
    E_B: float | None = None,
    options: Options | None = None,
    **overrides: Any,
) -> LossToLossFit:
    """Fit the shifted power law ``L_B = K (L_A - E_A)^kappa + E_B`` between two losses.

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts. Every row where both losses are finite and
        positive is a point: all runs and, with ``points="all"``, all their checkpoints.
    source, target : str
        The source metric A (whose law is known) and the target metric B; both lower-is-better.
    points : {"all", "final"}
        Every checkpoint, or the last checkpoint of each run.
    n_starts : int
        How many of the best grid starts are refined.
    E_A, E_B : float, optional
        Fix a floor instead of fitting it, e.g. to the irreducible loss ``E`` of each metric's own
        law as Brandfonbrener et al. do. A fitted ``E_A`` can sit near the smallest source loss
        fitted, and the map is undefined below ``E_A``: to apply the map to a law's predictions
        beyond the data, fixing ``E_A`` to the source law's ``E`` keeps it defined. Fixed floors
        stay fixed in the bootstrap.
    options : Options, optional
        Run options (:mod:`scalekit.options`); the batch config's options fill what they leave unset.
    **overrides
        Any option by name: ``n_boot`` (bootstrap resamples over runs, 0 skips it), ``seed``, ``delta`` (Huber
        threshold on the log residuals of ``L_B``).

    Returns
    -------
    LossToLossFit

    Raises
    ------
    ConfigError
        Unknown or identical metrics, a higher-is-better metric, bad ``points``, a fixed floor
        outside ``[0, smallest loss)``, an option out of its range.
    FitError
        Too few points.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N = np.repeat(np.logspace(7, 9, 5), 6); D = np.tile(np.logspace(9, 11, 6), 5)
    >>> la = 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28
    >>> lb = 0.8 * (la - 1.5) ** 1.3 + 2.0
    >>> df = pd.DataFrame({"params": N, "tokens": D, "a_loss": la, "b_loss": lb})
    >>> m = fit_loss_to_loss(df, "a_loss", "b_loss", n_boot=0)
    >>> {k: round(v, 3) for k, v in m.params.items()}
    {'K': 0.8, 'kappa': 1.3, 'E_A': 1.5, 'E_B': 2.0}
    """
    batch = as_batch(data)
    opts = fit_options(batch, options, overrides)
    n_boot, seed, delta = opts.n_boot, opts.seed, opts.delta
    la, lb, groups, src, tgt = _pairs(batch, source, target, points)
    floors = (_floor("E_A", E_A, la, src), _floor("E_B", E_B, lb, tgt))
    t, fbest, success, same, optima = _best_fit(la, lb, delta, n_starts, floors)
    theta = _natural(t)
    message = f"{'converged' if success else 'did not converge'}; {same} starts reached the best objective"

    boot = stderr = ci = None
    if n_boot > 0:
        boot, failed = _bootstrap(la, lb, groups, optima, delta, n_boot, seed, floors)
        sd = np.nanstd(boot, axis=0, ddof=1)
        lo, hi = np.nanpercentile(boot, [2.5, 97.5], axis=0)
        stderr = {k: float(v) for k, v in zip(PARAM_NAMES, sd)}
        ci = {k: (float(a), float(b)) for k, a, b in zip(PARAM_NAMES, lo, hi)}
        if failed:
            message += f"; {failed} of {n_boot} resamples did not converge"

    pred = _map(theta, la)
    rel = pred / lb - 1
    return LossToLossFit(
        source=src, target=tgt, params={k: float(v) for k, v in zip(PARAM_NAMES, theta)}, stderr=stderr, ci=ci,
        ndata=int(la.size), nruns=int(np.unique(groups).size), rmse=float(np.sqrt(np.mean(rel ** 2))),
        max_rel_error=float(np.max(np.abs(rel))), objective=fbest, success=success, message=message,
        source_range=(float(la.min()), float(la.max())), target_range=(float(lb.min()), float(lb.max())),
        method={"formula": FORMULA, "loss": "huber", "delta": float(delta), "space": "log residuals of L_B",
                "starts": f"variable projection over a grid of floors ({_FLOOR_FRACTIONS.size} fractions of the smallest "
                          f"loss each), best {n_starts} refined", "fixed_floors": {k: v for k, v in zip(("E_A", "E_B"), floors)
                                                                                   if v is not None},
                "points": points, "n_boot": int(n_boot), "bootstrap_unit": "run", "seed": int(seed)},
        x=la, y=lb, groups=groups, residuals=np.log(pred) - np.log(lb), theta=theta, draws=boot,
    )


def _bootstrap(la: FloatArray, lb: FloatArray, groups: NDArray[np.str_], optima: FloatArray, delta: float,
               n_boot: int, seed: int, floors: Floors) -> tuple[FloatArray, int]:
    """Refit on resamples of whole runs; returns natural draws (n_boot, 4) and how many did not converge.

    A resample is a row-weight vector (a run drawn twice counts twice). Each is refined from
    the full fit's optimum, the other local optima the full fit's starts found, and its own
    best grid starts (the resample may prefer another valley), all resamples in one batch; the
    best is kept.
    """
    w = run_weights(groups, n_boot, np.random.default_rng(seed))
    grid, gobj = _grid_starts(la, lb, floors, w)
    own = np.take_along_axis(grid, np.argsort(gobj, axis=1)[:, :_OWN_STARTS, None], axis=1)
    S = optima.shape[0] + own.shape[1]
    starts = np.concatenate([np.broadcast_to(optima, (n_boot, optima.shape[0], 4)), own], axis=1).reshape(-1, 4)
    # A loose pass from every start, then the last digits from the best one only (as for the laws' starts);
    # resamples need 5-6 digits, not 12.
    rough = _solve(la, lb, starts, delta, floors, np.repeat(w, S, axis=0), ftol=1e-6, max_iter=60)
    f = np.where(np.isfinite(rough.f), rough.f, np.inf).reshape(n_boot, S)
    pick = np.arange(n_boot) * S + np.argmin(f, axis=1)
    sol = _solve(la, lb, rough.theta[pick], delta, floors, w, ftol=1e-9, max_iter=200)
    out = _natural(sol.theta)
    ok = sol.converged & np.isfinite(sol.f)
    distinct = np.array([np.unique(la[r > 0]).size for r in w])
    out[distinct < 5] = np.nan  # fewer distinct source losses than the map has parameters + 1
    return out, int(np.sum(~ok | (distinct < 5)))
