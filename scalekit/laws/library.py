"""The law library beyond sums of power terms: interacting, data-constrained, broken, bounded.

Each form is a :class:`~scalekit.laws.general.GeneralForm`: log-prediction with analytic
derivatives, published parameter names, and its own starting grid. All are fitted by
:func:`scalekit.laws.general.minimize` (Levenberg-Marquardt on the Huber loss of log residuals,
all bootstrap resamples at once).

* ``two_var_tied``: the additive law with one exponent for N and D (Gadre et al. 2024)
* ``kaplan``: L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, eq. 1.5)
* ``data_constrained``: the additive law in effective parameters and data (Muennighoff et al. 2023)
* ``broken``: a smoothly broken power law in one variable (Caballero et al. 2023)
* ``sigmoid``: a bounded error for saturating metrics, E + R / (1 + exp(-s (log x - log x0)))
* :class:`Shared`: any form fitted to several groups at once, some parameters per group, the others shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from . import engine
from .core import lse
from .general import Cols, FloatArray, GeneralForm, objective
from .lse import TWO_VAR, LawForm, midrange

__all__ = ["Additive", "Broken", "DataConstrained", "Kaplan", "LibraryForm", "Shared", "Sigmoid", "TiedAdditive"]


def _softplus(t: FloatArray) -> FloatArray:
    out: FloatArray = np.logaddexp(0.0, t)
    return out


def _sigma(t: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * t))
    return out


def _lse(us: list[FloatArray]) -> tuple[FloatArray, list[FloatArray]]:
    """:func:`scalekit.laws.core.lse` of terms broadcast to one shape (it overwrites them: pass temporaries)."""
    shape = np.broadcast_shapes(*(u.shape for u in us))
    return lse([u if u.shape == shape else np.array(np.broadcast_to(u, shape)) for u in us])


def _mesh(*axes: Sequence[float] | FloatArray) -> FloatArray:
    g = np.meshgrid(*[np.asarray(a, dtype=float) for a in axes], indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


class LibraryForm(GeneralForm):
    """A registry form: a :class:`GeneralForm` that also says how its parameters carry the data's units.

    Multiplying a variable by ``exp(dx)`` or the metric by ``exp(dy)`` changes only the parameters
    that carry those units (coefficients, break points); :meth:`shifted` is that change, exactly
    (the predictions are the same). The solver fits on centred data and moves its parameters back with it,
    which makes the whole fit independent of the units.
    """

    def centre(self, logx: FloatArray) -> FloatArray:
        """The shift (V,) that centres each variable's log (its mid-range); 0 for a variable that enters linearly."""
        return midrange(logx)

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        """Internal vectors (..., P) fitting data (log x, log y) to those fitting (log x + dx, log y + dy)."""
        raise NotImplementedError


def _add(theta: FloatArray, *cols: tuple[int, FloatArray | float]) -> FloatArray:
    """A copy of ``theta`` (..., P) with ``value`` added to column ``i`` for each (i, value)."""
    out = np.array(theta, dtype=float, copy=True)
    for i, v in cols:
        out[..., i] += v
    return out


def Additive() -> LawForm:
    """The additive law ``two_var``, whose one home is :data:`scalekit.laws.lse.TWO_VAR` (it fits a :class:`Shared`
    directly); kept for callers of the former duplicate class."""
    return TWO_VAR


class TiedAdditive(LibraryForm):
    """L(N, D) = E + A / N^eta + B / D^eta: the additive law with one exponent (Gadre et al. 2024).

    Gadre et al. write it in N and the token multiplier M = D / N as E + a N^-eta' + b (M N)^-eta'
    (their ``powlaw_ours``, with the constant 6^(eta/2) folded into B); one exponent fewer than
    ``two_var``, so five runs determine it. Internal vector ``[a, b, e, eta]`` with A = exp(a),
    B = exp(b), E = exp(e).
    """

    name = "two_var_tied"
    variables = ("N", "D")
    param_names = ("E", "A", "B", "eta")
    internal_names = ("a", "b", "e", "eta")
    formula = "L(N, D) = E + A / N^eta + B / D^eta"
    reference = "Gadre et al. 2024, eq. 3"

    def published_index(self, i: int) -> int:
        return (1, 2, 0, 3)[i]

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        a, b, e, eta = th
        lN, lD = logx[:, 0], logx[:, 1]
        v, p = _lse([a - eta * lN, b - eta * lD, e + 0 * lN])
        if not jac:
            return v, []
        return v, [p[0], p[1], p[2], -p[0] * lN - p[1] * lD]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return np.stack([np.exp(t[..., 2]), np.exp(t[..., 0]), np.exp(t[..., 1]), t[..., 3]], axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([np.log(params["A"]), np.log(params["B"]), np.log(params["E"]), params["eta"]])

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return _add(t, (0, dy + t[..., 3] * dx[0]), (1, dy + t[..., 3] * dx[1]), (2, dy))

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        y = np.exp(logy)
        out = []
        for eta in np.linspace(0.05, 1.0, 20):
            # for a fixed exponent the law is linear in (E, A, B): least squares, floored at small positives
            M = np.column_stack([np.ones_like(y), np.exp(-eta * logx[:, 0]), np.exp(-eta * logx[:, 1])])
            c = np.linalg.lstsq(M, y, rcond=None)[0]
            c = np.maximum(c, 1e-3 * float(y.min()) * np.array([1.0, np.exp(eta * logx[:, 0].min()),
                                                               np.exp(eta * logx[:, 1].min())]))
            out.append([np.log(c[1]), np.log(c[2]), np.log(c[0]), eta])
        return np.asarray(out)


class Kaplan(LibraryForm):
    """L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D (Kaplan et al. 2020, eq. 1.5).

    The two resources interact: with little data the D-term dominates and a larger model gains
    little; the gain from N grows with D. Internal vector ``[log N_c, log D_c, r, alpha_D]`` with
    r = alpha_N / alpha_D.
    """

    name = "kaplan"
    variables = ("N", "D")
    param_names = ("N_c", "D_c", "alpha_N", "alpha_D")
    internal_names = ("log_N_c", "log_D_c", "r", "alpha_D")
    formula = "L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D"
    reference = "Kaplan et al. 2020, eq. 1.5"

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        lnc, ldc, r, ad = th
        lN, lD = logx[:, 0], logx[:, 1]
        s, p = _lse([r * (lnc - lN), ldc - lD])
        v = ad * s
        if not jac:
            return v, []
        return v, [ad * p[0] * r, ad * p[1], ad * p[0] * (lnc - lN), s]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return np.stack([np.exp(t[..., 0]), np.exp(t[..., 1]), t[..., 2] * t[..., 3], t[..., 3]], axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([np.log(params["N_c"]), np.log(params["D_c"]), params["alpha_N"] / params["alpha_D"],
                         params["alpha_D"]])

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        # log y = alpha_D LSE(r (log N_c - log N), log D_c - log D): a metric scale moves both terms by dy / alpha_D
        t = np.asarray(theta, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _add(t, (0, dx[0] + dy / (t[..., 3] * t[..., 2])), (1, dx[1] + dy / t[..., 3]))

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        lN, lD = np.median(logx[:, 0]), np.median(logx[:, 1])
        ly = float(np.median(logy))
        out = []
        for r, ad, share, shift in _mesh([0.3, 0.6, 1.0, 1.6, 2.5], [0.05, 0.1, 0.2, 0.35, 0.6, 1.0],
                                         [0.2, 0.5, 0.8], [0.0]):
            # each term carries a share of L^(1/alpha_D) at the median run
            tot = ly / ad
            lnc = lN + (tot + np.log(share)) / r + shift
            ldc = lD + tot + np.log(1 - share)
            out.append([lnc, ldc, r, ad])
        return np.asarray(out)


class DataConstrained(LibraryForm):
    """The additive law in effective parameters N' and data D' (Muennighoff et al. 2023, eqs. 5-6).

    D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)) with U_D the unique tokens and R_D = D / U_D - 1
    the repetitions; N' likewise with U_N = min(N, U_D / 20) (the compute-optimal size for the
    unique data, at Chinchilla's 20 tokens per parameter) and R_N = N / U_N - 1. With no
    repetition D' = D and N' = N: the law is ``two_var``. Variables (N, D, U).
    """

    name = "data_constrained"
    variables = ("N", "D", "U")
    param_names = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")
    internal_names = ("a", "b", "e", "alpha", "beta", "log_R_D_star", "log_R_N_star")
    formula = "L = E + A / N'^alpha + B / D'^beta, D' = U + U R_D* (1 - exp(-R_D / R_D*)), N' likewise"
    reference = "Muennighoff et al. 2023, eqs. 5-6"
    tokens_per_param = 20.0

    def published_index(self, i: int) -> int:
        return (1, 2, 0, 3, 4, 5, 6)[i]

    @staticmethod
    def _effective(lu: FloatArray, rep: FloatArray, lrs: FloatArray) -> tuple[FloatArray, FloatArray]:
        """log of U (1 + R* (1 - exp(-R/R*))) and its derivative by log R*."""
        rs = np.exp(lrs)
        q = rep / rs
        e = np.exp(-q)
        inner = 1.0 + rs * (1.0 - e)
        d = rs * ((1.0 - e) - q * e) / inner
        return lu + np.log(inner), d

    def _resources(self, logx: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        lN, lD, lU = logx[:, 0], logx[:, 1], logx[:, 2]
        lUD = np.minimum(lU, lD)
        rep_D = np.exp(lD - lUD) - 1.0
        lUN = np.minimum(lN, lUD - np.log(self.tokens_per_param))
        rep_N = np.exp(lN - lUN) - 1.0
        return lUD, rep_D, lUN, rep_N

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        a, b, e, al, be, lrd, lrn = th
        lUD, rep_D, lUN, rep_N = self._resources(logx)
        lD_eff, dD = self._effective(lUD, rep_D, lrd)
        lN_eff, dN = self._effective(lUN, rep_N, lrn)
        v, p = _lse([a - al * lN_eff, b - be * lD_eff, e + 0 * lD_eff])
        if not jac:
            return v, []
        return v, [p[0], p[1], p[2], -p[0] * lN_eff, -p[1] * lD_eff, -p[1] * be * dD, -p[0] * al * dN]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return np.stack([np.exp(t[..., 2]), np.exp(t[..., 0]), np.exp(t[..., 1]), t[..., 3], t[..., 4],
                         np.exp(t[..., 5]), np.exp(t[..., 6])], axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([np.log(params["A"]), np.log(params["B"]), np.log(params["E"]), params["alpha"], params["beta"],
                         np.log(params["R_D_star"]), np.log(params["R_N_star"])])

    def centre(self, logx: FloatArray) -> FloatArray:
        # N, D and U share one shift: repetitions are ratios D/U, and U_N = U_D / 20 ties parameters to tokens
        return np.full(logx.shape[1], float(np.median(super().centre(logx))))

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        if np.ptp(dx) > 0:
            raise ValueError("the data-constrained law is shifted by one common scale of N, D and U")
        t = np.asarray(theta, dtype=float)
        return _add(t, (0, dy + t[..., 3] * dx[0]), (1, dy + t[..., 4] * dx[0]), (2, dy))

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        lUD, _, lUN, _ = self._resources(logx)
        base = engine.form_starts(TWO_VAR, np.column_stack([lUN, lUD]), logy)  # the law on unique resources
        rs = _mesh(np.log([2.0, 5.0, 15.0, 50.0]), np.log([2.0, 5.0, 15.0, 50.0]))
        cand = np.asarray([np.r_[b, r] for b in base for r in rs])
        # For each law on unique resources, only its best repetition scales: the starts the fit keeps then span
        # different exponents, not one exponent pair under sixteen repetition scales.
        f0 = objective(self, cand, logx, logy, np.ones(logy.size), 1e-3).reshape(len(base), len(rs))
        out: FloatArray = cand.reshape(len(base), len(rs), -1)[np.arange(len(base)), np.argmin(f0, axis=1)]
        return out


class Broken(LibraryForm):
    """y(x) = E + A x^-alpha (1 + (x / x_break)^(1/f))^(-c1 f): one smooth break (Caballero et al. 2023).

    Below the break the exponent is ``alpha``, above it ``alpha + c1``; ``f`` sets how sharp the
    break is. Internal vector ``[log E, log A, alpha, c1, log x_break, log f]``.
    """

    name = "broken"
    variables = ("x",)
    param_names = ("E", "A", "alpha", "c1", "x_break", "f")
    internal_names = ("log_E", "log_A", "alpha", "c1", "log_x_break", "log_f")
    formula = "y(x) = E + A x^-alpha (1 + (x/x_break)^(1/f))^(-c1 f)"
    reference = "Caballero et al. 2023, eq. 1 (one break)"

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        le, la, c0, c1, z1, lf = th
        z = logx[:, 0]
        f = np.exp(lf)
        t = (z - z1) / f
        sp = _softplus(t)
        u2 = la - c0 * z - c1 * f * sp
        v, p = _lse([le + 0 * u2, u2])
        if not jac:
            return v, []
        sg = _sigma(t)
        return v, [p[0], p[1], -p[1] * z, -p[1] * f * sp, p[1] * c1 * sg, -p[1] * c1 * f * (sp - sg * t)]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return np.stack([np.exp(t[..., 0]), np.exp(t[..., 1]), t[..., 2], t[..., 3], np.exp(t[..., 4]), np.exp(t[..., 5])],
                        axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([np.log(params["E"]), np.log(params["A"]), params["alpha"], params["c1"], np.log(params["x_break"]),
                         np.log(params["f"])])

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return _add(t, (0, dy), (1, dy + t[..., 2] * dx[0]), (4, dx[0]))

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        z = logx[:, 0]
        zmin, zmax = float(z.min()), float(z.max())
        ymin = float(np.exp(logy).min())
        out = []
        for efrac, c0, c1, q, lf in _mesh([0.0, 0.5, 0.9], [0.0, 0.1, 0.3, 0.6], [-0.3, -0.1, 0.1, 0.3, 0.6],
                                          [0.25, 0.5, 0.75], np.log([0.1, 0.5, 2.0])):
            E = max(efrac * ymin, 1e-6 * ymin)
            z1 = zmin + q * (zmax - zmin)
            # match the median point: A from y - E at the median x
            i = int(np.argsort(z)[z.size // 2])
            rest = max(float(np.exp(logy[i])) - E, 1e-3 * ymin)
            f = np.exp(lf)
            la = np.log(rest) + c0 * z[i] + c1 * f * float(_softplus(np.asarray((z[i] - z1) / f)))
            out.append([np.log(E), la, c0, c1, z1, lf])
        return np.asarray(out)


class Sigmoid(LibraryForm):
    """A bounded error, y(x) = E + R / (1 + exp(-s (log x - log x0))).

    For a higher-is-better metric fitted as ``bound - metric`` this is a sigmoid of the metric
    between ``bound - E - R`` and ``bound - E``: saturating accuracy or mAP against log compute
    (s < 0). Internal vector ``[log E, log R, s, z0]``, ``z0 = log x0``. (A sigmoid of a loss, step 2
    of a two-step fit, is :data:`scalekit.laws.two_step.STEP2_MAPS`.)
    """

    name = "sigmoid"
    variables = ("x",)
    param_names = ("E", "R", "s", "x0")
    internal_names = ("log_E", "log_R", "s", "z0")
    formula = "y(x) = E + R / (1 + exp(-s (log x - log x0)))"
    reference = "Bhagia et al. 2024, eq. 2"

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        le, lr, s, z0 = th
        z = logx[:, 0]
        t = s * (z - z0)
        sg = _sigma(t)
        v, p = _lse([le + 0 * t, lr - _softplus(-t)])
        if not jac:
            return v, []
        d = p[1] * (1.0 - sg)  # d log(R sigma(t)) / dt, weighted by the share of the term
        return v, [p[0], p[1], d * (z - z0), -d * s]

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        return np.stack([np.exp(t[..., 0]), np.exp(t[..., 1]), t[..., 2], np.exp(t[..., 3])], axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([np.log(params["E"]), np.log(params["R"]), params["s"], np.log(params["x0"])])

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        return _add(np.asarray(theta, dtype=float), (0, dy), (1, dy), (3, dx[0]))

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        z = logx[:, 0]
        y = np.exp(logy)
        sd = float(z.std()) or 1.0
        out = []
        for ef, rf, s, q in _mesh([0.3, 0.7, 0.95], [1.0, 2.0, 5.0], [-8, -3, -1, -0.3, 0.3, 1, 3, 8],
                                  [-1.0, 0.0, 0.5, 1.0, 2.0]):
            E = ef * float(y.min())
            R = rf * max(float(y.max()) - E, 1e-6)
            z0 = float(z.mean()) + q * sd * np.sign(s)
            out.append([np.log(E), np.log(R), s / sd, z0])
        return np.asarray(out)


class Shared(LibraryForm):
    """A form fitted to several groups at once: ``per_group`` parameters free in each group, the rest shared.

    The group of each point is the last variable, given as ``log(index + 1)``. Published names
    are the base form's, with ``[group]`` appended for per-group ones.

    Examples
    --------
    >>> s = Shared(TWO_VAR, ("v1", "v2"), per_group=("E", "A", "B"))
    >>> s.param_names
    ('alpha', 'beta', 'A[v1]', 'B[v1]', 'E[v1]', 'A[v2]', 'B[v2]', 'E[v2]')
    """

    def __init__(self, base: LibraryForm | LawForm, groups: Sequence[str], per_group: Sequence[str] = ("E", "A", "B")) -> None:
        self.base = base
        self.groups = tuple(str(g) for g in groups)
        bad = [p for p in per_group if p not in base.param_names]
        if bad:
            from ..exceptions import ConfigError

            raise ConfigError(f"per-group parameter(s) {bad} are not parameters of {base.name}; "
                              f"expected some of {list(base.param_names)}", key="per_group")
        pub = [base.param_names[base.published_index(i)] for i in range(base.n_params)]
        pg_int = {i for i in range(base.n_params) if pub[i] in per_group}
        self._pub = pub
        self.shared_idx = tuple(i for i in range(base.n_params) if i not in pg_int)
        self.group_idx = tuple(sorted(pg_int))
        self.per_group = tuple(self._pub[i] for i in self.group_idx)
        self.name = f"shared_{base.name}"
        self.variables = (*base.variables, "group")
        G = len(self.groups)
        self.internal_names = tuple(base.internal_names[i] for i in self.shared_idx) + tuple(
            f"{base.internal_names[i]}[{g}]" for g in self.groups for i in self.group_idx)
        self.param_names = tuple(self._pub[i] for i in self.shared_idx) + tuple(
            f"{self._pub[i]}[{g}]" for g in self.groups for i in self.group_idx)
        self.formula = f"{base.formula}, with {', '.join(self.per_group)} per group ({G} groups), the rest shared"
        self.reference = "shared-exponent fit (Bhagia et al. 2024, data mixes)"

    def _position(self, i: int, g: int) -> int:
        """Index in this form's internal vector of base internal parameter ``i`` for group ``g``."""
        if i in self.shared_idx:
            return self.shared_idx.index(i)
        return len(self.shared_idx) + g * len(self.group_idx) + self.group_idx.index(i)

    def group_theta(self, theta: npt.ArrayLike, g: int) -> FloatArray:
        """The base form's internal vector (..., P_base) of group ``g``."""
        t = np.asarray(theta, dtype=float)
        return np.stack([t[..., self._position(i, g)] for i in range(self.base.n_params)], axis=-1)

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        gi = np.rint(np.exp(logx[:, -1])).astype(int) - 1
        G = len(self.groups)
        cols: Cols = []
        for i in range(self.base.n_params):
            if i in self.shared_idx:
                cols.append(th[self._position(i, 0)])
            else:
                per = np.concatenate([np.broadcast_to(th[self._position(i, g)], th[0].shape) for g in range(G)], axis=-1)
                cols.append(per[..., gi])
        v, J = self.base.evaluate(cols, logx[:, :-1], jac)
        if not jac:
            return v, []
        out: Cols = [np.zeros(())] * self.n_params
        for i in range(self.base.n_params):
            if i in self.shared_idx:
                out[self._position(i, 0)] = J[i]
            else:
                for g in range(G):
                    out[self._position(i, g)] = J[i] * (gi == g)
        return v, out

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        nat = [self.base.natural(self.group_theta(t, g)) for g in range(len(self.groups))]
        cols = [nat[0][..., self.base.published_index(i)] for i in self.shared_idx]
        cols += [nat[g][..., self.base.published_index(i)] for g in range(len(self.groups)) for i in self.group_idx]
        return np.stack(cols, axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        out = np.zeros(self.n_params)
        for g, name in enumerate(self.groups):
            p = {k: params[k] for k in self.base.param_names if k in params}
            p.update({k: params[f"{k}[{name}]"] for k in self.per_group})
            th = self.base.internal(p)
            for i in range(self.base.n_params):
                out[self._position(i, g)] = th[i]
        return out

    def centre(self, logx: FloatArray) -> FloatArray:
        return np.append(self.base.centre(logx[:, :-1]), 0.0)  # the group index is a label, not a scale

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        t = np.asarray(theta, dtype=float)
        out = np.array(t, copy=True)
        for g in range(len(self.groups)):
            # shared parameters move alike in every group (their shift depends on shared parameters only)
            sg = self.base.shifted(self.group_theta(t, g), dx[:-1], dy)
            for i in range(self.base.n_params):
                out[..., self._position(i, g)] = sg[..., i]
        return out

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        base = engine.form_starts(self.base, logx[:, :-1], logy)
        G = len(self.groups)
        out = np.zeros((base.shape[0], self.n_params))
        for i in range(self.base.n_params):
            for g in range(G):
                out[:, self._position(i, g)] = base[:, i]
        return out
