"""A law written as a formula: ``scalekit.Law("E + A * N^-alpha + B * D^-beta")``.

The text is read by :mod:`scalekit.expr` (a parser that never hands the user's text to ``eval``/``exec``);
names that are variables (the law's ``variables``) read the batch's columns, every other name is a parameter.
Derivatives are symbolic, so a formula law is fitted like any built-in form: by the one core on the Huber loss
of log residuals, bootstrapped, backtested and reported the same way.

Starting points: parameters the formula is affine in (``E``, ``A``, ``B`` above) are solved by weighted linear
least squares at every point of a grid over the others (variable projection); exponents are gridded on a fixed
scale, other non-linear parameters on a log grid around the scale of the variable they meet (so a column's units
do not change the starts).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..exceptions import FormulaError
from ..expr import ROLE_NAMES, Bin, Call, Name, Neg, Node, derivative, evaluate, names, parse
from .general import Cols, FloatArray, GeneralForm

__all__ = ["Law"]

MAX_PARAMS = 16
MAX_STARTS = 4096
_DEFAULT_VARIABLES = frozenset(ROLE_NAMES) - {"E", "B"}


def _in_exponent(node: Node, p: str, inside: bool = False) -> bool:
    """Whether ``p`` appears in an exponent (right of ^) or under exp/sigmoid/tanh: a shape parameter."""
    if isinstance(node, Name):
        return inside and node.id == p
    if isinstance(node, Neg):
        return _in_exponent(node.arg, p, inside)
    if isinstance(node, Bin):
        return _in_exponent(node.left, p, inside) or _in_exponent(node.right, p, inside or node.op == "^")
    if isinstance(node, Call):
        deep = inside or node.fn in ("exp", "sigmoid", "tanh")
        return any(_in_exponent(a, p, deep) for a in node.args)
    return False


def _neighbours(node: Node, p: str, variables: frozenset[str]) -> set[str]:
    """The variables in the smallest subtree that holds ``p`` and a variable (what ``p`` sets the scale of)."""
    best: set[str] = set()

    def visit(n: Node) -> tuple[bool, set[str]]:
        nonlocal best
        if isinstance(n, Name):
            return n.id == p, ({n.id} & variables)
        kids: tuple[Node, ...] = ((n.arg,) if isinstance(n, Neg) else (n.left, n.right) if isinstance(n, Bin)
                                  else n.args if isinstance(n, Call) else ())
        has_p, vs = False, set[str]()
        for k in kids:
            hp, kv = visit(k)
            has_p, vs = has_p or hp, vs | kv
        if has_p and vs and not best:
            best = vs
        return has_p, vs

    visit(node)
    return best


# --- the law -----------------------------------------------------------------------------------
class Law(GeneralForm):
    """A law from a formula, fitted like a built-in form.

    Parameters
    ----------
    formula : str
        ``+ - * / ^`` (or ``**``), parentheses, numbers, names and the functions in :data:`FUNCTIONS`.
    variables : sequence of str, optional
        The names that are variables (batch columns by role: N, D, C, U, ...). Default: the role names in
        the formula other than E and B, which are parameters unless declared here.
    name : str, optional
        The form's name in reports (default "formula").

    Examples
    --------
    >>> law = Law("E + A * N^-alpha + B * D^-beta")
    >>> law.variables, law.param_names
    (('N', 'D'), ('E', 'A', 'alpha', 'B', 'beta'))
    >>> Law("E + A * N^-alpha * E^-gamma", variables=["N", "E"]).param_names
    ('A', 'alpha', 'gamma')
    """

    reference = "user formula"

    def __init__(self, formula: str, variables: Sequence[str] | None = None, name: str = "formula",
                 starts: Sequence[Mapping[str, float]] = ()) -> None:
        tree = parse(formula)
        used = list(dict.fromkeys(names(tree)))
        if variables is None:
            vs = tuple(n for n in ROLE_NAMES if n in used and n in _DEFAULT_VARIABLES)
        else:
            vs = tuple(dict.fromkeys(variables))
            missing = [v for v in vs if v not in used]
            if missing:
                raise FormulaError(formula, 0, f"declared variable(s) {', '.join(missing)} do not appear in the formula")
        if not vs:
            raise FormulaError(formula, 0, f"no variable: name one of {', '.join(ROLE_NAMES)} (or declare variables=)")
        params = tuple(n for n in used if n not in vs)
        if not params:
            raise FormulaError(formula, 0, "no parameter to fit: every name is a variable")
        if len(params) > MAX_PARAMS:
            raise FormulaError(formula, 0, f"{len(params)} parameters; at most {MAX_PARAMS}")
        self.tree = tree
        self.name = name
        self.variables = vs
        self.param_names = params
        self.internal_names = params
        self.formula = f"L({', '.join(vs)}) = {formula.strip()}"
        self.text = formula.strip()
        self.grads = tuple(derivative(tree, p) for p in params)
        lin = self.linear_params()
        # Scales that meet a variable (N_c in (N_c/N)^a, D_l in B/(D_l + D^b)) are positive and may lie orders of
        # magnitude from the data: fitted as their logarithm, so one step can move them by a factor.
        self.log_params = tuple(i for i, p in enumerate(params) if p not in lin and not _in_exponent(tree, p))
        other = [p for p in params if p not in lin]
        for st in starts:  # the caller's own guesses (e.g. from a simpler fit) for the non-linear parameters
            if set(other) - set(st):
                raise FormulaError(formula, 0, f"a start must give {', '.join(other)}")
        self.extra_starts = tuple(tuple(float(st[p]) for p in other) for st in starts)
        self.internal_names = tuple(f"log_{p}" if i in self.log_params else p for i, p in enumerate(params))

    def _env(self, th: Cols, logx: FloatArray) -> dict[str, FloatArray | float]:
        env: dict[str, FloatArray | float] = {v: np.exp(logx[:, j]) for j, v in enumerate(self.variables)}
        env.update((p, np.exp(t) if i in self.log_params else t) for i, (p, t) in enumerate(zip(self.param_names, th)))
        return env

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        with np.errstate(all="ignore"):
            env = self._env(th, logx)
            f = evaluate(self.tree, env)
            logf: FloatArray = np.where(f > 0, np.log(np.where(f > 0, f, 1.0)), np.nan)
            if not jac:
                return logf, []
            shape = np.broadcast_shapes(f.shape, logx.shape[:1])
            out: Cols = []
            for i, (p, g) in enumerate(zip(self.param_names, self.grads)):
                d = np.broadcast_to(evaluate(g, env), shape) / f
                out.append(d * env[p] if i in self.log_params else d)  # chain rule through p = exp(theta)
            return logf, out

    def signed_value(self, theta: FloatArray, logx: FloatArray) -> FloatArray:
        """The formula's value (..., n), which may be zero or negative (fitted on linear residuals then)."""
        t = np.asarray(theta, dtype=float)
        with np.errstate(all="ignore"):
            f = evaluate(self.tree, self._env([t[..., i, None] for i in range(t.shape[-1])], logx))
        out: FloatArray = np.broadcast_to(f, (*t.shape[:-1], logx.shape[0])).astype(float)
        return out

    def signed_value_jac(self, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The formula's value (B, n) and its Jacobian (B, n, P) by the internal parameters."""
        th = [theta[:, i, None] for i in range(theta.shape[1])]
        shape = (theta.shape[0], logx.shape[0])
        with np.errstate(all="ignore"):
            env = self._env(th, logx)
            f = np.broadcast_to(evaluate(self.tree, env), shape)
            cols = []
            for i, (p, g) in enumerate(zip(self.param_names, self.grads)):
                d = np.broadcast_to(evaluate(g, env), shape)
                cols.append(d * env[p] if i in self.log_params else d)
        return f, np.stack(cols, axis=-1)

    def natural(self, theta: FloatArray) -> FloatArray:
        t = np.array(theta, dtype=float, copy=True)
        with np.errstate(over="ignore"):  # a resample's scale run off to inf is judged where it is used
            for i in self.log_params:
                t[..., i] = np.exp(t[..., i])
        return t

    def internal(self, params: dict[str, float]) -> FloatArray:
        return np.array([math.log(params[p]) if i in self.log_params else params[p] for i, p in enumerate(self.param_names)],
                        dtype=float)

    def linear_params(self) -> tuple[str, ...]:
        """The parameters the formula is jointly affine in (solved exactly at each start)."""
        lin: list[str] = []
        for p, g in zip(self.param_names, self.grads):
            gn = set(names(g))
            if p in gn or gn & set(lin):
                continue
            if any(p in set(names(self.grads[self.param_names.index(q)])) for q in lin):
                continue
            lin.append(p)
        return tuple(lin)

    def start_axes(self, logx: FloatArray) -> list[list[float]]:
        """Starting values of each non-linear parameter (in ``param_names`` order, the linear ones left out):
        exponents on a fixed grid, scales on a log grid around the variable they meet."""
        lin = self.linear_params()
        varset = frozenset(self.variables)
        axes: list[list[float]] = []
        for p in (q for q in self.param_names if q not in lin):
            if _in_exponent(self.tree, p):
                axes.append([-0.5, 0.1, 0.3, 0.6, 1.0])
            else:
                near = _neighbours(self.tree, p, varset)
                with np.errstate(invalid="ignore"):
                    logs = [float(np.mean(logx[:, self.variables.index(v)])) for v in near]
                logs = [v for v in logs if np.isfinite(v)]
                scale = math.exp(float(np.mean(logs))) if logs else 1.0
                axes.append([scale * 10.0 ** k for k in (-4, -2, 0, 2, 4, 6)])
        return axes

    def starts(self, logx: FloatArray, logy: FloatArray, y: FloatArray | None = None) -> FloatArray:
        """Starting vectors; with ``y`` (the values themselves, which may be zero or negative) the affine parameters
        are solved on linear residuals divided by the data's scale, as a linear-residual fit measures them."""
        lin = self.linear_params()
        other = [p for p in self.param_names if p not in lin]
        axes = self.start_axes(logx)
        n_grid = math.prod(len(a) for a in axes)
        if n_grid > MAX_STARTS:  # many non-linear parameters: a seeded random sample of the grid, never the whole product
            rng = np.random.default_rng(0)
            grid = [tuple(a[i] for a, i in zip(axes, idx)) for idx in zip(*[rng.integers(0, len(a), MAX_STARTS) for a in axes])]
        else:
            grid = list(itertools.product(*axes)) if axes else [()]
        grid = [*self.extra_starts, *grid]
        signed = y is not None
        y = np.asarray(y, dtype=float) if y is not None else np.exp(logy)
        scale = float(np.median(np.abs(y))) or 1.0
        out = np.zeros((len(grid), len(self.param_names)))
        with np.errstate(all="ignore"):
            for k, values in enumerate(grid):
                env: dict[str, FloatArray | float] = {v: np.exp(logx[:, j]) for j, v in enumerate(self.variables)}
                env.update(zip(other, values))
                theta = dict(zip(other, values))
                if lin:
                    env.update(dict.fromkeys(lin, 0.0))
                    f0 = np.broadcast_to(evaluate(self.tree, env), y.shape)
                    cols = [np.broadcast_to(evaluate(self.grads[self.param_names.index(p)], env), y.shape) for p in lin]
                    den = scale if signed else y  # relative residuals: close to the log residuals fitted
                    X = np.stack(cols, axis=1) / (den if signed else y[:, None])
                    rhs = (y - f0) / den
                    if np.all(np.isfinite(X)) and np.all(np.isfinite(rhs)):
                        coef = np.linalg.lstsq(X, rhs, rcond=None)[0]
                    else:
                        coef = np.full(len(lin), np.nan)
                    theta.update(zip(lin, coef))
                out[k] = self.internal(theta) if all(theta[self.param_names[i]] > 0 for i in self.log_params) else np.nan
        return out[np.all(np.isfinite(out), axis=1)] if np.any(np.all(np.isfinite(out), axis=1)) else out[:1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Law) and (self.text, self.variables, self.name) == (other.text, other.variables, other.name)

    def __hash__(self) -> int:
        return hash((self.text, self.variables, self.name))
