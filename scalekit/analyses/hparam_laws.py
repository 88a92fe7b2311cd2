"""The learning rate and batch size to use at scale, from a sweep.

Three estimates of the optimal learning rate lr*(N, D) and batch size B*(N, D):

* **bowls**: in each cell of equal (N, D), a quadratic bowl in (log lr, log B) fitted to the runs near the
  cell's best (within ``band`` of it), whose vertex is the cell's optimum: it can fall between grid points,
  and says how much a setting off by 2x costs. Then power laws lr* = c N^a D^b and B* = c' N^a' D^b' are
  fitted by the fitting core on the vertices; their intervals come from a cluster bootstrap over runs (each
  resample redraws every cell's runs, refits its bowl and the laws).
* **near-optimal region** (DeepSeek LLM 2024, StepLaw 2025): every run within ``tolerance`` of its cell's best,
  regressed on N and D by the core, with its bootstrap over runs.
* **loss surface**: one law L(N, D, lr, B) over every run (:mod:`scalekit.analyses.hparam_surface`), started from
  the bowls, whose optimum gives lr* and B* directly and whose curvature gives the cost of being off.

:func:`answers` turns the laws into what a user launching a run needs: lr* and B* at the (N, D) asked, with
intervals and the distance beyond the swept range, the cost of a setting off by 2x, and the settings within
0.25% of the optimum.

Where the sweep's grid does not bracket a cell's optimum (the best run at the edge of the grid, or the
vertex outside it), the cell says so: its optimum is a bound, not an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import FitError
from ..laws.curve import fit_curve
from ..laws.formula import Law
from ..laws.result import FitResult
from .hparam_bowls import Bowl, fit_bowl, fit_quadratic, vertex
from .hparam_surface import LossSurface, fit_surface

__all__ = ["Answer", "Bowl", "HyperparamLaws", "PowerLaw", "answers", "fit_bowl", "hparam_answers", "hyperparam_laws"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PowerLaw:
    """value = c N^a D^b (b absent when D does not vary), the core's fit and the bootstrap draws of (c, a, b)."""

    name: str
    fit: FitResult
    draws: FloatArray  # (n_boot, k) in the fit's parameter order
    ci: dict[str, tuple[float, float]]

    def predict(self, N: float, D: float) -> float:
        args = [np.array([N])] + ([np.array([D])] if "D" in self.fit.form.variables else [])
        return float(self.fit.predict(*args, warn=False)[0])

    def interval(self, N: float, D: float, level: float = 0.95) -> tuple[float, float]:
        """Interval of the prediction at (N, D) from the bootstrap draws."""
        if self.draws.size == 0:
            return (float("nan"), float("nan"))
        names = self.fit.form.param_names
        d = dict(zip(names, self.draws.T))
        v = d["c"] * N ** d["a"] * (D ** d["b"] if "b" in d else 1.0)
        q = (1 - level) / 2
        return (float(np.quantile(v, q)), float(np.quantile(v, 1 - q)))


@dataclass(frozen=True)
class HyperparamLaws:
    """The bowls per cell and the laws of the three estimates (``*_near``: the near-optimal-region method;
    ``surface``: the full loss surface), with the core's result shape: :attr:`params`, :attr:`ci`, :attr:`draws`,
    :attr:`success`, :attr:`message` over every law, named ``estimate.parameter`` (e.g. ``lr.a``, ``surface.b_B``)."""

    bowls: tuple[Bowl, ...]
    lr: PowerLaw
    B: PowerLaw | None
    lr_near: PowerLaw | None
    B_near: PowerLaw | None
    tolerance: float
    unbracketed: tuple[str, ...]
    notes: tuple[str, ...] = ()
    surface: LossSurface | None = None
    n_boot: int = 0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # N, D (and lr, B) as swept

    def _laws(self) -> dict[str, FitResult]:
        out = {k: v.fit for k, v in (("lr", self.lr), ("B", self.B), ("lr_near", self.lr_near), ("B_near", self.B_near))
               if v is not None}
        if self.surface is not None:
            out["surface"] = self.surface.fit
        return out

    @property
    def params(self) -> dict[str, float]:
        """Every law's parameters, ``estimate.parameter`` -> value."""
        return {f"{k}.{p}": v for k, f in self._laws().items() for p, v in f.params.items()}

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        """95% intervals, ``estimate.parameter`` -> (lo, hi), from the one bootstrap count :attr:`n_boot`."""
        out: dict[str, tuple[float, float]] = {}
        for k, law in (("lr", self.lr), ("B", self.B), ("lr_near", self.lr_near), ("B_near", self.B_near)):
            if law is not None:
                out.update((f"{k}.{p}", v) for p, v in law.ci.items())
        if self.surface is not None and self.surface.fit.ci:
            out.update((f"surface.{p}", v) for p, v in self.surface.fit.ci.items())
        return out

    @property
    def draws(self) -> dict[str, FloatArray]:
        """Bootstrap draws of each law's parameters (n_boot, P), in its fit's parameter order."""
        out = {k: law.draws for k, law in (("lr", self.lr), ("B", self.B), ("lr_near", self.lr_near),
                                           ("B_near", self.B_near)) if law is not None}
        if self.surface is not None:
            out["surface"] = self.surface.draws
        return out

    @property
    def success(self) -> bool:
        return all(f.success for f in self._laws().values())

    @property
    def message(self) -> str:
        return "; ".join(f"{k}: {f.message}" for k, f in self._laws().items())

    def answer(self, N: float, D: float) -> dict[str, float | tuple[float, float] | None]:
        """lr* and B* at (N, D) from the three estimates, with 95% intervals."""
        out: dict[str, float | tuple[float, float] | None] = {"lr": self.lr.predict(N, D), "lr_ci": self.lr.interval(N, D)}
        if self.B is not None:
            out.update(B=self.B.predict(N, D), B_ci=self.B.interval(N, D))
        for key, law in (("lr_near", self.lr_near), ("B_near", self.B_near)):
            out[key] = None if law is None else law.predict(N, D)
            out[f"{key}_ci"] = None if law is None else law.interval(N, D)
        s = self.surface
        out["lr_surface"] = None if s is None else s.optimum(N, D, "lr")
        out["lr_surface_ci"] = None if s is None else s.interval(N, D, "lr")
        vary_B = s is not None and s.form.vary_B
        out["B_surface"] = s.optimum(N, D, "B") if s is not None and vary_B else None
        out["B_surface_ci"] = s.interval(N, D, "B") if s is not None and vary_B else None
        return out


def _law(vary_D: bool) -> Law:
    return Law("c * N^a * D^b", variables=["N", "D"]) if vary_D else Law("c * N^a", variables=["N"])


def _loglinear(X: FloatArray, logv: FloatArray) -> FloatArray:
    """(log c, a[, b]) of log v = log c + a log N (+ b log D) by least squares: the core's squared-loss optimum."""
    A = np.column_stack([np.ones(len(X)), np.log(X)])
    out: FloatArray = np.linalg.lstsq(A, logv, rcond=None)[0]
    return out


def _power_law(name: str, X: FloatArray, v: FloatArray, draws_log: FloatArray, groups: FloatArray | None = None,
               n_boot: int = 0, seed: int = 0) -> PowerLaw:
    vary_D = X.shape[1] == 2
    law = _law(vary_D)
    fit = fit_curve(X, v, form=law, metric=name, loss="squared", n_boot=n_boot, seed=seed, groups=groups)
    if n_boot and fit.boot_theta is not None:  # the core's own bootstrap (near-optimal runs: resampled by run)
        draws = law.natural(fit.boot_theta)
    elif draws_log.size:
        draws = draws_log.copy()
        draws[:, 0] = np.exp(draws[:, 0])
    else:
        draws = np.empty((0, len(law.param_names)))
    ci = {p: (float(np.quantile(draws[:, j], 0.025)), float(np.quantile(draws[:, j], 0.975)))
          for j, p in enumerate(law.param_names)} if draws.size else {}
    return PowerLaw(name=name, fit=fit, draws=draws, ci=ci)


def hyperparam_laws(frame: pd.DataFrame, metric: str, *, lr: str = "lr", batch: str = "batch_size", run: str = "run",
                    band: float = 0.02, tolerance: float = 0.0025, n_boot: int = 200, seed: int = 0,
                    surface: bool = True) -> HyperparamLaws:
    """The three estimates of lr*(N, D) and B*(N, D) from a sweep: one row per run with N (and D), lr, batch size,
    metric. ``surface=False`` leaves out the loss surface."""
    cols = ["N", "D"] if "D" in frame and frame["D"].nunique() > 1 else ["N"]
    if frame["N"].nunique() < 2 and "D" not in cols:
        raise FitError("a sweep needs two or more model sizes (or data sizes) to give a law for the optimum", metric=metric)
    groups = list(frame.groupby(cols, sort=True))
    if len(groups) < 3:
        raise FitError(f"{len(groups)} cells: laws for the optimum need 3 or more", metric=metric)
    bowls = tuple(fit_bowl(g, metric, lr, batch, run, band) for _, g in groups)
    two = all(b.B_opt is not None for b in bowls)
    X = np.array([[b.N, b.D][: len(cols)] for b in bowls])

    # cluster bootstrap over runs: every cell's runs redrawn, its bowl refitted, the laws refitted (log-linear)
    rng = np.random.default_rng(seed)
    d_lr = np.empty((n_boot, 1 + len(cols)))
    d_B = np.empty((n_boot, 1 + len(cols)))
    cells = [(np.log(g[lr].to_numpy(dtype=float)), np.log(g[batch].to_numpy(dtype=float)) if two else None,
              g[metric].to_numpy(dtype=float)) for _, g in groups]
    kept = 0
    for _ in range(n_boot):
        opt_x, opt_y = [], []
        for x, y, L in cells:
            pick = rng.integers(0, len(L), len(L))
            coef, _ = fit_quadratic(x[pick], None if y is None else y[pick], L[pick], band)
            v = vertex(coef, two)
            if v is None:  # no bowl in this resample: its best run stands in, as in the point estimate
                j = int(np.argmin(L[pick]))
                v = (float(x[pick][j]), float(y[pick][j]) if y is not None else None)
            opt_x.append(v[0])
            opt_y.append(v[1])
        d_lr[kept] = _loglinear(X, np.array(opt_x))
        if two:
            d_B[kept] = _loglinear(X, np.array(opt_y, dtype=float))
        kept += 1
    lr_law = _power_law("lr_opt", X, np.array([b.lr_opt for b in bowls]), d_lr[:kept])
    B_law = _power_law("B_opt", X, np.array([b.B_opt for b in bowls], dtype=float), d_B[:kept]) if two else None

    # near-optimal region: every run within `tolerance` of its cell's best
    near = pd.concat([g[g[metric] <= g[metric].min() * (1 + tolerance)] for _, g in groups])
    Xn = near[cols].to_numpy(dtype=float)
    runs = near[run].astype(str).to_numpy()
    notes: list[str] = []

    def near_law(name: str, col: str) -> PowerLaw | None:
        try:
            return _power_law(name, Xn, near[col].to_numpy(dtype=float), np.empty((0, 0)), groups=runs, n_boot=n_boot, seed=seed)
        except FitError as exc:  # e.g. every near-optimal run at one grid value: no trend to read
            notes.append(f"near-optimal region, {col}: {exc}")
            return None

    lr_near = near_law("lr_near", lr)
    B_near = near_law("B_near", batch) if two else None
    unbracketed = tuple(f"N={b.N:.3g}, D={b.D:.3g}: {b.note}" for b in bowls if not b.bracketed)
    surf = None
    if surface:
        try:
            surf = fit_surface(frame, metric, bowls, lr_law.fit.params, None if B_law is None else B_law.fit.params,
                               lr=lr, batch=batch, run=run, n_boot=n_boot, seed=seed)
        except FitError as exc:
            notes.append(f"loss surface: {exc}")
    ranges = {k: (float(frame[c].min()), float(frame[c].max())) for k, c in (("N", "N"), ("D", "D"), ("lr", lr), ("B", batch))
              if c in frame}
    return HyperparamLaws(bowls=bowls, lr=lr_law, B=B_law, lr_near=lr_near, B_near=B_near, tolerance=tolerance,
                          unbracketed=unbracketed, notes=tuple(notes), surface=surf, n_boot=n_boot, ranges=ranges)


@dataclass(frozen=True)
class Answer:
    """lr* and B* where the user will train, by the three estimates, and the cost of missing them.

    ``lr``/``B`` (tokens, or the sweep's batch unit) and ``B_seq`` (sequences, when the sequence length is known)
    map an estimate (``bowls``, ``near``, ``surface``) to (value, (lo, hi)). ``penalty_2x`` maps lr and B to the
    relative loss increase with that setting off by 2x (the other at its optimum) and its interval; ``within``
    maps lr and B to the range of settings within ``tolerance`` of the optimum loss; ``extrapolation`` the factor
    beyond the swept range of N and D (1 inside it).
    """

    label: str
    N: float
    D: float
    extrapolation: dict[str, float]
    lr: dict[str, tuple[float, tuple[float, float]]]
    B: dict[str, tuple[float, tuple[float, float]]]
    B_seq: dict[str, tuple[float, tuple[float, float]]]
    penalty_2x: dict[str, tuple[float, tuple[float, float]]]
    within: dict[str, tuple[float, float]]
    tolerance: float
    seq_len: float | None


def _beyond(v: float, lo: float, hi: float) -> float:
    return float(max(1.0, v / hi, lo / v)) if np.isfinite(v) and v > 0 else float("nan")


def _curvatures(res: HyperparamLaws) -> dict[str, tuple[float, FloatArray]]:
    """Relative curvature per setting (loss x (1 + k log(x/x*)^2)): the surface's k_lr, k_B and their draws, else the
    bowls' mean."""
    s = res.surface
    out: dict[str, tuple[float, FloatArray]] = {}
    names = ("lr", "B") if res.B is not None else ("lr",)
    for h in names:
        key = f"k_{h}"
        if s is not None and key in s.fit.params:
            d = s.draws
            out[h] = (s.fit.params[key], d[:, s.form.param_names.index(key)] if d.size else np.empty(0))
        else:
            j = 2 if h == "lr" else 4
            out[h] = (float(np.mean([b.coef[j] / b.loss_opt for b in res.bowls])), np.empty(0))
    return out


def answers(res: HyperparamLaws, at: list[tuple[str, float, float]], *, seq_len: float | None = None,
            tolerance: float = 0.0025) -> list[Answer]:
    """:class:`Answer` at each ``(label, N, D)`` in ``at`` (see there)."""
    curv = _curvatures(res)
    x2 = np.log(2.0) ** 2
    out: list[Answer] = []
    for label, N, D in at:
        a = res.answer(N, D)

        def pair(key: str, a: dict[str, float | tuple[float, float] | None] = a) -> tuple[float, tuple[float, float]] | None:
            v, ci = a.get(key), a.get(f"{key}_ci")
            if v is None or not isinstance(v, float):
                return None
            return (v, ci if isinstance(ci, tuple) else (float("nan"), float("nan")))

        lr_ = {e: p for e, k in (("bowls", "lr"), ("near", "lr_near"), ("surface", "lr_surface")) if (p := pair(k))}
        B_ = {e: p for e, k in (("bowls", "B"), ("near", "B_near"), ("surface", "B_surface")) if (p := pair(k))}
        B_seq = ({e: (v / seq_len, (ci[0] / seq_len, ci[1] / seq_len)) for e, (v, ci) in B_.items()}
                 if seq_len else {})
        pen: dict[str, tuple[float, tuple[float, float]]] = {}
        within: dict[str, tuple[float, float]] = {}
        for h, (k, draws) in curv.items():
            ci = ((float(np.quantile(draws, 0.025) * x2), float(np.quantile(draws, 0.975) * x2)) if draws.size
                  else (float("nan"), float("nan")))
            pen[h] = (k * x2, ci)
            centre = (lr_ if h == "lr" else B_).get("surface") or (lr_ if h == "lr" else B_)["bowls"]
            w = float(np.sqrt(tolerance / k)) if k > 0 else float("inf")
            within[h] = (centre[0] * np.exp(-w), centre[0] * np.exp(w))
        rng = res.ranges
        ext = {k: _beyond(v, *rng[k]) for k, v in (("N", N), ("D", D)) if k in rng}
        out.append(Answer(label=label, N=float(N), D=float(D), extrapolation=ext, lr=lr_, B=B_, B_seq=B_seq,
                          penalty_2x=pen, within=within, tolerance=tolerance, seq_len=seq_len))
    return out


hparam_answers = answers  # the name at the package top level (scalekit.hparam_answers)
