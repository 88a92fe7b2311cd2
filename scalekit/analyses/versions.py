"""Model versions (or groups) compared through one shared-exponent fit: effective-compute multipliers and crossovers.

One law is fitted to every version at once, with the scale-free parameters (the exponents)
shared and the coefficients per version (E, A, B for the additive law; N_c, D_c for Kaplan's).
Each version's compute-optimal frontier f_v(C) = min_N L_v(N, C / (k N)) then says how much
compute the baseline needs to match it: the effective-compute multiplier m_v(C) with
f_base(m_v C) = f_v(C) (as OLMo's ladder compares data mixes), given at the largest compute
trained, with a bootstrap interval; and the compute at which two frontiers cross, if they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from .. import display
from ..data.batch import Batch
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from ..laws.fit import fit_curve, select_points
from ..laws.library import Additive, Kaplan, Shared
from ..laws.result import FitResult, Prediction
from ..laws.vocabulary import FrozenDict, as_batch, fit_options
from ..options import Options
from .intervals import percentile_ci
from .profiles import flops_factor

__all__ = ["VersionComparison", "compare_every_metric", "compare_versions", "versions_block"]

FloatArray = npt.NDArray[np.float64]
_PER_GROUP = {"two_var": ("E", "A", "B"), "kaplan": ("N_c", "D_c")}


if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class VersionComparison:
    """The shared-exponent fit across versions and what it says about each against the baseline.

    The result vocabulary (``params``, ``ci``, ``stderr``, ``draws``, ``objective``, ``ndata``, ``success``,
    ``message``, ``residuals``, ``predict``) is the shared-exponent law's (``fit``): per-version parameters are
    keyed ``name[version]``, and ``predict`` takes N, D and the version's index (1 for the baseline).
    """

    metric: str
    column: str
    baseline: str
    versions: tuple[str, ...]
    form: str
    fit: FitResult = field(repr=False)
    C_ref: float
    multiplier: dict[str, float | None]
    multiplier_ci: dict[str, list[float] | None]
    crossover: dict[str, float | None]
    sentence: str

    residual_scale: ClassVar[str] = "log"

    @property
    def params(self) -> FrozenDict[str, float]:
        return self.fit.params  # type: ignore[return-value]  # FitResult freezes its params

    @property
    def ci(self) -> FrozenDict[str, tuple[float, float]] | None:
        return self.fit.ci  # type: ignore[return-value]

    @property
    def stderr(self) -> FrozenDict[str, float] | None:
        return self.fit.stderr  # type: ignore[return-value]

    @property
    def draws(self) -> FloatArray | None:
        return self.fit.draws

    @property
    def objective(self) -> float:
        return self.fit.objective

    @property
    def ndata(self) -> int:
        return self.fit.ndata

    @property
    def success(self) -> bool:
        return self.fit.success

    @property
    def message(self) -> str:
        return self.fit.message

    @property
    def residuals(self) -> FloatArray:
        return self.fit.residuals

    def predict(self, N: npt.ArrayLike, D: npt.ArrayLike, version: str, *, interval: str | None = None,
                level: float = 0.95, seed: int = 0, warn: bool = True) -> FloatArray | Prediction:
        """The shared law for ``version`` at (N, D), as :meth:`FitResult.predict` (with its ``extrapolation``)."""
        if version not in self.versions:
            raise ConfigError(f"no version {version!r}; fitted: {list(self.versions)}", key="version")
        g = float(self.versions.index(version) + 1)
        Nv, Dv = np.broadcast_arrays(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
        return self.fit.predict(Nv, Dv, np.full(Nv.shape, g), interval=interval, level=level, seed=seed,
                                warn=warn)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "metric": self.metric, "column": self.column, "baseline": self.baseline, "versions": list(self.versions),
            "form": self.form, "shared": [k for k in self.fit.params if "[" not in k],
            "params": self.fit.params, "ci": {k: list(v) for k, v in self.fit.ci.items()} if self.fit.ci else None,
            "objective": self.fit.objective, "ndata": self.fit.ndata, "C_ref": self.C_ref,
            "multiplier": self.multiplier, "multiplier_ci": self.multiplier_ci, "crossover": self.crossover,
            "sentence": self.sentence,
        })
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _frontier(form: Shared, theta: FloatArray, g: int, C: FloatArray, k: float, logN: FloatArray) -> FloatArray:
    """log of min over N of the group's law at D = C / (k N): (B, len(C)), on a fine grid of log N."""
    th = form.group_theta(theta, g)  # (B, P)
    lC = np.log(C)
    lN = np.repeat(logN[None, :], C.size, axis=0).ravel()
    lD = (lC[:, None] - np.log(k) - logN[None, :]).ravel()
    v = form.base.log_predict(th, np.column_stack([lN, lD])).reshape(th.shape[0], C.size, logN.size)
    out: FloatArray = v.min(axis=2)
    return out


def _solve_multiplier(f_base: FloatArray, f_v: FloatArray, lC: FloatArray, i_ref: int) -> FloatArray:
    """m with f_base(m C_ref) = f_v(C_ref), per draw (rows), by interpolation on the decreasing frontier."""
    out = np.full(f_base.shape[0], np.nan)
    for b in range(f_base.shape[0]):
        fb = f_base[b]
        target = f_v[b, i_ref]
        if not (fb.min() <= target <= fb.max()):
            continue
        order = np.argsort(fb)
        out[b] = np.exp(np.interp(target, fb[order], lC[order]) - lC[i_ref])
    return out


def compare_every_metric(batch: Batch, laws: dict[str, str], *, n_boot: int = 100,
                         seed: int = 0) -> dict[str, VersionComparison | str]:
    """Per metric, the shared fit in the metric's chosen form when it is ``two_var`` or ``kaplan`` (else
    ``two_var``), or why it failed."""
    out: dict[str, VersionComparison | str] = {}
    for metric, form in laws.items():
        try:
            out[metric] = compare_versions(batch, metric, form=form if form in _PER_GROUP else "two_var", n_boot=n_boot,
                                           seed=seed)
        except (FitError, ConfigError) as exc:
            out[metric] = str(exc)
    return out


def versions_block(comparisons: dict[str, VersionComparison | str]) -> dict[str, Any]:
    """summary.json's ``versions`` section from :func:`compare_every_metric`: a metric where it failed gets ``error``."""
    return {m: v.summary() if isinstance(v, VersionComparison) else {"error": v} for m, v in comparisons.items()}


def compare_versions(data: Batch | pd.DataFrame | str | Path, metric: str | None = None, *, column: str = "version",
                     baseline: str | None = None, form: str = "two_var", options: Options | None = None,
                     **overrides: Any) -> VersionComparison:
    """Fit one law with shared exponents to every version of ``batch`` and compare each with the baseline.

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts, with a ``version`` (or ``group``) column holding two or more
        values.
    form : {"two_var", "kaplan"}
        The law shared across versions; its coefficients are per version.
    baseline : str, optional
        The reference version (default: the first in sort order).
    options : Options, optional
        Run options (:mod:`scalekit.options`); the batch config's options fill what they leave unset.
    **overrides
        Any option by name: ``n_boot``, ``seed``, ``loss``, ``delta`` (as :func:`scalekit.fit_law`).

    Examples
    --------
    >>> import scalekit
    >>> from scalekit.examples import example_source
    >>> frame, cfg = example_source("perception")
    >>> vc = compare_versions(scalekit.load_batch(frame, **cfg), form="kaplan", n_boot=20)
    >>> vc.baseline, round(vc.multiplier["v2"], 1)
    ('v1', 1.7)
    """
    if form not in _PER_GROUP:
        raise ConfigError(f"option 'form': got {form!r}; allowed: {sorted(_PER_GROUP)} for a shared-exponent fit", key="form")
    batch = as_batch(data)
    opts = fit_options(batch, options, overrides)
    n_boot, seed, loss, delta = opts.n_boot, opts.seed, opts.loss, opts.delta
    spec = batch.metric(metric)
    if column not in batch.frame:
        raise ConfigError(f"the batch has no {column!r} column to compare versions by", source=batch.source, key="column")
    frame, _ = select_points(batch, "auto", spec.name)
    frame = frame[np.isfinite(frame[spec.name])]
    versions = tuple(sorted(map(str, frame[column].unique())))
    if len(versions) < 2:
        raise FitError(f"a shared-exponent fit needs two or more values of {column!r}; got {list(versions)}", metric=spec.name)
    base = baseline if baseline is not None else versions[0]
    if base not in versions:
        raise ConfigError(f"baseline version {base!r} is not in the batch; expected one of {list(versions)}", key="baseline")
    order = (base, *[v for v in versions if v != base])
    shared = Shared(Additive() if form == "two_var" else Kaplan(), order, per_group=_PER_GROUP[form])
    gi = np.array([order.index(str(v)) for v in frame[column]], dtype=float) + 1.0
    X = np.column_stack([frame["N"].to_numpy(), frame["D"].to_numpy(), gi])
    fit = fit_curve(X, frame[spec.name].to_numpy(), form=shared, metric=spec.name, direction=spec.direction,
                    bound=spec.bound, groups=(frame["run"].astype(str) + "@" + frame[column].astype(str)).to_numpy(),
                    n_boot=n_boot, seed=seed, loss=loss, delta=delta)
    k = flops_factor(batch)
    C_ref = float(batch.frame["C"].max())
    lo, hi = float(batch.frame["C"].min()), C_ref
    C = np.geomspace(lo / 1e3, hi * 1e4, 97)
    i_ref = int(np.argmin(np.abs(np.log(C / C_ref))))
    C[i_ref] = C_ref
    logN = np.linspace(np.log(batch.frame["N"].min()) - 6, np.log(batch.frame["N"].max()) + 8, 160)
    thetas = fit.theta[None] if fit.boot_theta is None else np.concatenate([fit.theta[None], fit.boot_theta])
    f_base = _frontier(shared, thetas, 0, C, k, logN)
    mult: dict[str, float | None] = {}
    mult_ci: dict[str, list[float] | None] = {}
    cross: dict[str, float | None] = {}
    parts = []
    for g, v in enumerate(order[1:], start=1):
        f_v = _frontier(shared, thetas, g, C, k, logN)
        m = _solve_multiplier(f_base, f_v, np.log(C), i_ref)
        mult[v] = None if not np.isfinite(m[0]) else float(m[0])
        draws = m[1:][np.isfinite(m[1:])]
        mult_ci[v] = percentile_ci(draws.tolist()) if draws.size >= 10 else None
        d = f_v[0] - f_base[0]
        flips = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
        if flips.size:
            i = int(flips[0])
            t = d[i] / (d[i] - d[i + 1])
            cross[v] = float(np.exp(np.log(C[i]) + t * (np.log(C[i + 1]) - np.log(C[i]))))
        else:
            cross[v] = None
        ci = mult_ci[v]
        mtxt = "cannot be matched by the baseline" if mult[v] is None else (
            f"is worth {mult[v]:.3g}x the baseline's compute" + (f" (95%: {ci[0]:.3g} to {ci[1]:.3g})" if ci else ""))
        ctxt = (f"the frontiers cross at C = {cross[v]:.3g}" if cross[v] is not None else
                f"the frontiers do not cross between C = {C[0]:.3g} and {C[-1]:.3g}")
        parts.append(f"At C = {C_ref:.3g}, {v} {mtxt}; {ctxt}")
    sentence = (f"One {shared.base.name} law with shared exponents and per-version {', '.join(shared.per_group)}, "
                f"baseline {base}. " + ". ".join(parts) + ".")
    return VersionComparison(spec.name, column, base, order, form, fit, C_ref, mult, mult_ci, cross, sentence)
