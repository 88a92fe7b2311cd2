"""The full loss surface L(N, D, lr, B): the third estimate of the optimal learning rate and batch size.

One law over every run of a sweep, fitted by the one core (Huber loss on log residuals, bootstrap over runs)::

    L = (E + A N^-alpha + G D^-beta) * (1 + k_lr X^2 + k_B Y^2 + k_x X Y)
    X = log(lr / (c_lr N^a_lr D^b_lr)),  Y = log(B / (c_B N^a_B D^b_B))

an N-D law times a quadratic penalty in log lr and log B around power-law optima, so lr*(N, D) and B*(N, D)
are read straight off the fitted parameters. The penalty is kept convex by fitting the cross term as
``k_x = 2 tanh(r) sqrt(k_lr k_B)``. Starts come from the per-cell bowls (their vertices' power laws and
curvatures), so a handful of starts suffice.

The form is written out with analytic derivatives (a :class:`~scalekit.laws.general.GeneralForm`): the same law
as the formula :data:`FORMULA` given to :class:`scalekit.Law`, whose symbolic derivatives are about a hundred times
slower on a sweep of hundreds of runs; a test holds the two to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import FitError
from ..laws.curve import fit_curve
from ..laws.general import Cols, GeneralForm
from ..laws.result import FitResult

if TYPE_CHECKING:
    from .hparam_bowls import Bowl

__all__ = ["FORMULA", "LossSurface", "SurfaceForm", "fit_surface"]

FloatArray = npt.NDArray[np.float64]

_X = "log(lr/(c_lr*N^a_lr*D^b_lr))"
_Y = "log(B/(c_B*N^a_B*D^b_B))"
FORMULA = f"(E + A*N^-alpha + G*D^-beta) * (1 + k_lr*{_X}^2 + k_B*{_Y}^2 + k_x*{_X}*{_Y})"

# internal parameter -> published name; scales are fitted as logs at the reference point (N0, D0), which keeps
# the problem well conditioned however large N and D are
_ALL = ("E", "A", "alpha", "G", "beta", "k_lr", "c_lr", "a_lr", "b_lr", "k_B", "c_B", "a_B", "b_B", "k_x")
_NEEDS_D = {"G", "beta", "b_lr", "b_B"}
_NEEDS_B = {"k_B", "c_B", "a_B", "b_B", "k_x"}


class SurfaceForm(GeneralForm):
    """The loss surface as a law form: variables N (D when it varies), lr (B when it varies).

    Parameters
    ----------
    N0, D0 : float
        Reference sizes (mid-range of the sweep) at which the scales are parametrised internally.
    vary_D, vary_B : bool
        Whether the sweep varies D and the batch size (the terms of a variable held fixed are left out).
    seeds : array, optional
        Starting vectors (internal parameters, one per row) the core starts from: :func:`fit_surface` takes them
        from the bowls.
    """

    reference = "quadratic penalty in log lr, log B around power-law optima (StepLaw 2025; DeepSeek LLM 2024)"

    def __init__(self, N0: float, D0: float, vary_D: bool = True, vary_B: bool = True,
                 seeds: FloatArray | None = None) -> None:
        self.N0, self.D0, self.vary_D, self.vary_B = float(N0), float(D0), vary_D, vary_B
        self.seeds = seeds
        self.name = "hparam_surface"
        self.variables = ("N",) + (("D",) if vary_D else ()) + ("lr",) + (("B",) if vary_B else ())
        self.param_names = tuple(p for p in _ALL if (vary_D or p not in _NEEDS_D) and (vary_B or p not in _NEEDS_B))
        internal = {"E": "log_E", "A": "log_A0", "G": "log_G0", "k_lr": "log_k_lr", "c_lr": "log_lr0",
                    "k_B": "log_k_B", "c_B": "log_B0", "k_x": "r"}
        self.internal_names = tuple(internal.get(p, p) for p in self.param_names)
        text = FORMULA if vary_D else FORMULA.replace(" + G*D^-beta", "").replace("*D^b_lr", "").replace("*D^b_B", "")
        if not vary_B:
            text = text.split(" + k_B")[0] + ")"
        self.formula = f"L({', '.join(self.variables)}) = {text}"
        self._i = {p: i for i, p in enumerate(self.param_names)}

    def _get(self, th: Cols | FloatArray, p: str) -> FloatArray | float:
        i = self._i.get(p)
        return 0.0 if i is None else th[i]

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        g = self._get
        col = dict(zip(self.variables, range(logx.shape[1])))
        nN = logx[:, col["N"]] - np.log(self.N0)
        nD = logx[:, col["D"]] - np.log(self.D0) if self.vary_D else 0.0 * nN
        with np.errstate(all="ignore"):
            E = np.exp(g(th, "E"))
            tA = np.exp(g(th, "A") - g(th, "alpha") * nN)
            tG = np.exp(g(th, "G") - g(th, "beta") * nD) if self.vary_D else 0.0 * nN
            base = E + tA + tG
            X = logx[:, col["lr"]] - g(th, "c_lr") - g(th, "a_lr") * nN - g(th, "b_lr") * nD
            k = np.exp(g(th, "k_lr"))
            P = 1 + k * X * X
            if self.vary_B:
                Y = logx[:, col["B"]] - g(th, "c_B") - g(th, "a_B") * nN - g(th, "b_B") * nD
                m = np.exp(g(th, "k_B"))
                t = np.tanh(g(th, "k_x"))
                c = 2 * t * np.sqrt(k * m)
                P = P + m * Y * Y + c * X * Y
            out = np.log(base) + np.log(P)
            if not jac:
                return out, []
            d: dict[str, FloatArray] = {"E": E / base, "A": tA / base, "alpha": -nN * tA / base}
            if self.vary_D:
                d.update(G=tG / base, beta=-nD * tG / base)
            dX = 2 * k * X + (c * Y if self.vary_B else 0.0)
            d["k_lr"] = (k * X * X + (c / 2 * X * Y if self.vary_B else 0.0)) / P
            d["c_lr"], d["a_lr"] = -dX / P, -dX * nN / P
            if self.vary_D:
                d["b_lr"] = -dX * nD / P
            if self.vary_B:
                dY = 2 * m * Y + c * X
                d["k_B"] = (m * Y * Y + c / 2 * X * Y) / P
                d["c_B"], d["a_B"] = -dY / P, -dY * nN / P
                if self.vary_D:
                    d["b_B"] = -dY * nD / P
                d["k_x"] = 2 * (1 - t * t) * np.sqrt(k * m) * X * Y / P
        return out, [d[p] for p in self.param_names]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        out = np.array(t, copy=True)
        i = self._i
        lN0, lD0 = np.log(self.N0), np.log(self.D0)
        out[..., i["E"]] = np.exp(t[..., i["E"]])
        out[..., i["A"]] = np.exp(t[..., i["A"]] + t[..., i["alpha"]] * lN0)
        out[..., i["k_lr"]] = np.exp(t[..., i["k_lr"]])
        lr_c = t[..., i["c_lr"]] - t[..., i["a_lr"]] * lN0
        if self.vary_D:
            out[..., i["G"]] = np.exp(t[..., i["G"]] + t[..., i["beta"]] * lD0)
            lr_c = lr_c - t[..., i["b_lr"]] * lD0
        out[..., i["c_lr"]] = np.exp(lr_c)
        if self.vary_B:
            B_c = t[..., i["c_B"]] - t[..., i["a_B"]] * lN0 - (t[..., i["b_B"]] * lD0 if self.vary_D else 0.0)
            out[..., i["c_B"]] = np.exp(B_c)
            out[..., i["k_B"]] = np.exp(t[..., i["k_B"]])
            out[..., i["k_x"]] = 2 * np.tanh(t[..., i["k_x"]]) * np.sqrt(out[..., i["k_lr"]] * out[..., i["k_B"]])
        return out

    def internal(self, params: dict[str, float]) -> FloatArray:
        lN0, lD0 = np.log(self.N0), np.log(self.D0)
        v = dict(params)
        D_lr = v.get("b_lr", 0.0) * lD0 if self.vary_D else 0.0
        t = {"E": np.log(v["E"]), "A": np.log(v["A"]) - v["alpha"] * lN0, "alpha": v["alpha"], "k_lr": np.log(v["k_lr"]),
             "c_lr": np.log(v["c_lr"]) + v["a_lr"] * lN0 + D_lr, "a_lr": v["a_lr"]}
        if self.vary_D:
            t.update(G=np.log(v["G"]) - v["beta"] * lD0, beta=v["beta"], b_lr=v["b_lr"])
        if self.vary_B:
            ratio = v["k_x"] / (2 * np.sqrt(v["k_lr"] * v["k_B"]))
            t.update(k_B=np.log(v["k_B"]), a_B=v["a_B"], k_x=float(np.arctanh(np.clip(ratio, -0.95, 0.95))),
                     c_B=np.log(v["c_B"]) + v["a_B"] * lN0 + (v["b_B"] * lD0 if self.vary_D else 0.0))
            if self.vary_D:
                t["b_B"] = v["b_B"]
        return np.array([t[p] for p in self.param_names], dtype=float)

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        if self.seeds is None:
            raise FitError("the loss surface starts from the per-cell bowls: fit it with fit_surface", form=self.name)
        return self.seeds


@dataclass(frozen=True)
class LossSurface:
    """The fitted surface: the core's result and the laws lr* = c_lr N^a_lr D^b_lr, B* = c_B N^a_B D^b_B it holds."""

    fit: FitResult
    form: SurfaceForm

    @property
    def draws(self) -> FloatArray:
        """Bootstrap draws of the published parameters (n_boot, P); empty without a bootstrap."""
        if self.fit.boot_theta is None:
            return np.empty((0, len(self.form.param_names)))
        out: FloatArray = self.form.natural(self.fit.boot_theta)
        return out[np.all(np.isfinite(out), axis=1)]

    def _opt(self, which: str, N: float, D: float, p: FloatArray | dict[str, float]) -> FloatArray | float:
        get = (lambda k: p[k]) if isinstance(p, dict) else (lambda k: p[:, self.form.param_names.index(k)])
        v = get(f"c_{which}") * N ** get(f"a_{which}")
        return v * D ** get(f"b_{which}") if self.form.vary_D else v

    def optimum(self, N: float, D: float, which: str = "lr") -> float:
        """lr* (``which="lr"``) or B* (``"B"``) at (N, D)."""
        return float(self._opt(which, N, D, self.fit.params))

    def interval(self, N: float, D: float, which: str = "lr", level: float = 0.95) -> tuple[float, float]:
        d = self.draws
        if d.size == 0:
            return (float("nan"), float("nan"))
        v = np.asarray(self._opt(which, N, D, d))
        q = (1 - level) / 2
        return (float(np.quantile(v, q)), float(np.quantile(v, 1 - q)))

    def loss(self, N: float, D: float, lr: float, B: float | None = None) -> float:
        """The surface's loss at a setting (B* when B is not given)."""
        cols = [N] + ([D] if self.form.vary_D else []) + [lr] + (
            [B if B is not None else self.optimum(N, D, "B")] if self.form.vary_B else [])
        return float(np.exp(self.form.log_predict(self.fit.theta, np.log(np.array([cols])))[0]))


def _start_params(bowls: tuple[Bowl, ...], lr_law: dict[str, float], B_law: dict[str, float] | None,
                  vary_D: bool, vary_B: bool, alpha: float, beta: float) -> dict[str, float]:
    """A start from the bowls: their vertices' power laws, their mean relative curvatures, an N-D law solved below."""
    rel = np.array([np.asarray(b.coef) / b.loss_opt for b in bowls])
    k = float(np.clip(np.mean(rel[:, 2]), 1e-5, None))
    p: dict[str, float] = {"alpha": alpha, "k_lr": k, "c_lr": lr_law["c"], "a_lr": lr_law["a"]}
    if vary_D:
        p.update(beta=beta, b_lr=lr_law.get("b", 0.0))
    if vary_B and B_law is not None and rel.shape[1] == 6:
        m = float(np.clip(np.mean(rel[:, 4]), 1e-5, None))
        p.update(k_B=m, c_B=B_law["c"], a_B=B_law["a"],
                 k_x=float(np.clip(np.mean(rel[:, 5]), -1.8 * np.sqrt(k * m), 1.8 * np.sqrt(k * m))))
        if vary_D:
            p["b_B"] = B_law.get("b", 0.0)
    # E, A, G by least squares on the bowls' minima at these exponents (the surface is linear in them)
    N = np.array([b.N for b in bowls])
    cols = [np.ones_like(N), N ** -alpha] + ([np.array([b.D for b in bowls]) ** -beta] if vary_D else [])
    coef = np.linalg.lstsq(np.column_stack(cols), np.array([b.loss_opt for b in bowls]), rcond=None)[0]
    floor = 0.05 * min(b.loss_opt for b in bowls)
    p["E"], p["A"] = max(float(coef[0]), floor), max(float(coef[1]), 1e-6)
    if vary_D:
        p["G"] = max(float(coef[2]), 1e-6)
    return p


def fit_surface(frame: pd.DataFrame, metric: str, bowls: tuple[Bowl, ...], lr_law: dict[str, float],
                B_law: dict[str, float] | None, *, lr: str = "lr", batch: str = "batch_size", run: str = "run",
                n_boot: int = 200, seed: int = 0) -> LossSurface:
    """Fit the surface to every run of ``frame`` (columns N, D, ``lr``, ``batch``, ``metric``, ``run``), starting
    from the bowls and the bowls' power laws (``lr_law``, ``B_law``: c, a[, b] of c N^a D^b)."""
    vary_D = "D" in frame and frame["D"].nunique() > 1
    vary_B = B_law is not None and batch in frame and frame[batch].nunique() > 1
    logN = np.log(frame["N"].to_numpy(dtype=float))
    N0 = float(np.exp((logN.min() + logN.max()) / 2))
    D0 = 1.0
    if vary_D:
        logD = np.log(frame["D"].to_numpy(dtype=float))
        D0 = float(np.exp((logD.min() + logD.max()) / 2))
    plain = SurfaceForm(N0, D0, vary_D, vary_B)
    grid = [(al, be) for al in (0.2, 0.35, 0.6) for be in ((0.2, 0.35, 0.6) if vary_D else (0.3,))]
    starts = np.array([plain.internal(_start_params(bowls, lr_law, B_law, vary_D, vary_B, al, be)) for al, be in grid])
    form = SurfaceForm(N0, D0, vary_D, vary_B, seeds=starts)
    cols = ["N"] + (["D"] if vary_D else []) + [lr] + ([batch] if vary_B else [])
    fit = fit_curve(frame[cols].to_numpy(dtype=float), frame[metric].to_numpy(dtype=float), form=form,
                    metric=metric, groups=frame[run].astype(str).to_numpy(), n_boot=n_boot, seed=seed,
                    n_starts=len(starts))
    return LossSurface(fit=fit, form=form)
