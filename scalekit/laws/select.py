"""Model selection by backtest: which law form predicts the scale the fit has not seen.

:func:`backtest` fits each candidate form on the batch minus its largest scale, in expanding
windows (hold out the largest model size; the largest two; the largest-compute runs), predicts
the held-out runs' final values with 95% prediction intervals, and tabulates per form the
held-out runs, the signed and absolute relative error and the interval coverage. ``form="auto"``
(:func:`select_form`) ranks forms by the median absolute relative error on the held-out runs (the
median, so one broken run (overfitting, not converged: the checks flag those) cannot pick the law
for the rest); forms within :data:`TIE_TOLERANCE` of the best are a near-tie, broken by parsimony
(fewest parameters). This is
the backtest OLMo-core applies to its ladder laws, made the selection rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import display
from ..data.batch import Batch, in_runs
from ..exceptions import FitError
from ..expr import ROLE_NAMES, names, parse
from ..jsonsafe import jsonable
from ..options import Options, resolve_options
from .curve import SIGNED, fit_batch, fit_windows, law_columns, residual_scale, select_points, signed_form
from .forms import FORMS, AnyForm, get_form
from .formula import Law
from .result import FitResult

__all__ = ["SCALE_ROLES", "TIE_TOLERANCE", "BacktestRow", "Selection", "backtest", "candidate_forms", "candidate_laws",
           "config_laws", "declared_variables", "ignored_variables", "one_variable", "select_form"]

TIE_TOLERANCE = 0.15  # forms whose held-out error is within 15% of the best are a near-tie

# Above this many rows, each backtest window is fitted on an even subsample of this many of its rows
# (sorted by the law's variables, every model size and data size kept in proportion); the held-out runs
# are still all predicted. The backtest ranks forms by held-out error, which at that size is set by each
# form's misfit beyond the fitted range and by the runs' noise: the estimation error of a fit falls as
# 1/sqrt(rows) and is already a small part of it at 8,192 rows, while fitting every window of every form
# (with its resamples) on every row made the backtest of a 50,000-run batch cost minutes. Batches below the
# threshold (the examples, the published reproductions) are backtested on every row, as before.
BACKTEST_ROWS = 8192


@dataclass(frozen=True)
class BacktestRow:
    """One form's backtest: held-out runs, mean signed and absolute relative error, 95% coverage, and the
    median absolute relative error the forms are ranked by."""

    form: str
    n_params: int
    heldout: int
    rel_error: float | None
    abs_rel_error: float | None
    coverage: float | None
    note: str = ""
    median_abs_rel_error: float | None = None
    max_abs_rel_error: float | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "form": self.form, "n_params": self.n_params, "heldout": self.heldout, "rel_error": self.rel_error,
            "abs_rel_error": self.abs_rel_error, "coverage": self.coverage, "note": self.note,
            "median_abs_rel_error": self.median_abs_rel_error, "max_abs_rel_error": self.max_abs_rel_error})
        return out


@dataclass(frozen=True, eq=False)
class Selection:
    """The backtest table of a metric, the form chosen and why, and the chosen form's fit on all runs."""

    metric: str
    rows: tuple[BacktestRow, ...]
    windows: tuple[dict[str, Any], ...]
    chosen: str | None
    reason: str
    fit: FitResult | None = field(default=None, repr=False)
    predictions: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def coverage(self) -> float | None:
        """95% interval coverage of the chosen form in the backtest."""
        row = next((r for r in self.rows if r.form == self.chosen), None)
        return row.coverage if row else None

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([r.summary() for r in self.rows])

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"metric": self.metric, "chosen": self.chosen, "reason": self.reason,
                                        "coverage": self.coverage, "windows": list(self.windows),
                                        "table": [r.summary() for r in self.rows]})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def candidate_forms(batch: Batch, metric: str | None = None) -> list[str]:
    """The registry's forms that apply to this batch and metric, in order of parameter count.

    Two-variable forms need N and D to vary; ``data_constrained`` needs a ``unique_tokens``
    column with repeated data; ``sigmoid`` needs a bounded metric; one-variable forms are fitted
    in compute C (in D along a single curve, one model size; in N when the batch has no data size).
    A form that ignores a declared variable the batch varies (:func:`ignored_variables`) is left out; the
    literature's laws join for the variables they read (:func:`_published`).
    """
    out = [n for n in _applicable(batch, metric) if not ignored_variables(get_form(n), batch)]
    return sorted(out, key=lambda n: (get_form(n).n_params, out.index(n)))


def _applicable(batch: Batch, metric: str | None) -> list[str]:
    """The built-in forms the batch's varying variables and metric allow, before the declared variables are asked."""
    spec = batch.metric(metric)
    f = batch.frame
    n_N = f["N"].nunique()
    n_D = f["D"].nunique() if batch.has_data_size else 0
    out = []
    if n_N >= 2 and n_D >= 2:
        out += ["two_var", "kaplan"]
        if _repeats(f):
            out.append("data_constrained")
    if n_N >= 2 or n_D >= 2:
        out += ["saturating", "broken"]
    if spec.bound is not None and batch.has_data_size:
        out.append("sigmoid")
    return out + _published(batch, n_N, n_D)


def _published(batch: Batch, n_N: int, n_D: int) -> list[str]:
    """The literature's laws (:data:`~scalekit.laws.literature.LITERATURE`) this batch can tell apart: every variable
    the law reads is in the batch and varies, and the law reads a variable the batch declares (experts, vocabulary,
    precision, ...); a mixture law only for as many domains as it spells (the last one as reference). A law in D
    alone (rectified fine-tuning) is a candidate for a single curve: one model size, three or more data sizes."""
    from .literature import LITERATURE

    f = batch.frame
    declared = declared_variables(batch)
    used = {c for cols in declared.values() for c in cols}
    out = []
    for form in LITERATURE:
        vs = form.variables
        if vs == ("D",):
            if n_N < 2 and n_D >= 3:
                out.append(form.name)
            continue
        if not all(v in f and bool(np.isfinite(f[v]).all()) and f[v].nunique() > 1 for v in vs):
            continue
        if not set(vs) & used:
            continue
        mix = [v for v in vs if v[:1] == "r" and v[1:].isdigit()]
        if mix and len(declared.get("r", [])) != len(mix) + 1:
            continue
        out.append(form.name)
    return out


def config_laws(batch: Batch) -> list[Law]:
    """The batch's formula laws (config ``law:`` / ``laws:``) as :class:`Law` forms, named as declared (``custom``
    unless named): their variables are the formula's names that the batch holds (N, D, C, U and the roles declared
    under ``variables:``; mixture proportions as r1, r2, ...)."""
    held = {"N", "C"} | ({"D"} if batch.has_data_size else set()) | {
        c for c in batch.frame.columns if c in ROLE_NAMES or (c[:1] == "r" and c[1:].isdigit())}
    out = []
    for d in batch.config.laws or ({"name": "custom", "formula": batch.config.law},) if batch.config.law else ():
        used = list(dict.fromkeys(names(parse(d["formula"]))))
        name = d["name"] if d["name"] not in FORMS else f"{d['name']} (formula)"  # never mistaken for the built-in form
        out.append(Law(d["formula"], variables=[n for n in used if n in held], name=name))
    return out


def candidate_laws(batch: Batch, metric: str | None = None) -> list[AnyForm]:
    """What ``form="auto"`` backtests: the built-in forms that apply (:func:`candidate_forms`) and the batch's own
    formula laws (config ``law:``/``laws:``), each fitted, bootstrapped and backtested alike."""
    return [*(get_form(n) for n in candidate_forms(batch, metric)), *config_laws(batch)]


def _repeats(f: pd.DataFrame) -> bool:
    return "U" in f and bool((f["D"] > 1.01 * f["U"]).any())


def declared_variables(batch: Batch) -> dict[str, list[str]]:
    """Variables the batch declares beyond N and D, by role -> the frame columns holding them (U when given; a
    mixture's proportions r1, r2, ...), for those that vary in the batch."""
    f = batch.frame
    out: dict[str, list[str]] = {}
    if _repeats(f):
        out["U"] = ["U"]
    for role, cols in batch.config.variables.items():
        fc = [f"r{k}" for k in range(1, len(cols) + 1)] if role == "r" else [role]
        if all(c in f for c in fc) and any(f[c].nunique() > 1 for c in fc):
            out[role] = fc
    return out


def ignored_variables(form: AnyForm, batch: Batch) -> list[str]:
    """Declared variables that vary in ``batch`` but ``form`` leaves out (the unique tokens U when data repeats, the
    experts E, the vocabulary V, ... as declared under ``variables:``).

    Such a form cannot tell the batch's runs apart along that variable (repeated epochs look like fresh data to it), so
    ``form="auto"`` does not consider it; pinned by name, it is fitted and the report says what it ignores.
    """
    return [role for role, cols in declared_variables(batch).items() if not set(cols) & set(form.variables)]


# Declared variables along which a law is extrapolated to larger values (a bigger expert count, vocabulary, batch,
# more parallel streams): each gets a backtest window holding out its largest values. Learning rate, precision,
# sparsity and mixture proportions are settings, not scales: no window.
SCALE_ROLES = ("E", "V", "P", "B", "G")


def _largest(fin: pd.DataFrame, col: str, k: int) -> set[str]:
    """The runs at the largest value of ``col`` when three or more smaller values remain, else its top ``k`` runs."""
    levels = np.sort(fin[col].unique())
    if levels.size >= 4:
        return set(fin.loc[fin[col] >= levels[-1] * (1 - 1e-9), "run"].astype(str))
    return set(fin.sort_values(col, kind="stable")["run"].iloc[-k:].astype(str))


def _windows(fin: pd.DataFrame, holdout_fraction: float,
             variables: Sequence[str] = ()) -> list[tuple[str, set[str]]]:
    sizes = np.sort(fin["N"].unique())
    out: list[tuple[str, set[str]]] = []
    for k, label in ((1, "largest model size"), (2, "largest two model sizes")):
        if sizes.size - k >= 3:
            out.append((label, set(fin.loc[fin["N"] >= sizes[-k] * 0.999, "run"].astype(str))))
    k = max(2, round(holdout_fraction * len(fin)))
    if len(fin) - k >= 6:
        if np.isfinite(fin["C"]).all() and fin["C"].nunique() > 1:
            out.append(("largest compute", set(fin.sort_values("C")["run"].iloc[-k:].astype(str))))
        if sizes.size == 1 and np.isfinite(fin["D"]).all() and fin["D"].nunique() > 1:  # a single curve: its largest data
            out.append(("largest D", _largest(fin, "D", k)))
        if _repeats(fin):  # the declared variable U: hold out the most repeated data, where laws that ignore it break
            out.append(("most repeated data", set(fin.assign(_r=fin["D"] / fin["U"]).sort_values("_r")["run"].iloc[-k:].astype(str))))
        for v in variables:  # every declared scale variable: hold out its largest values
            if v in fin and fin[v].nunique() > 1:
                out.append((f"largest {v}", _largest(fin, v, k)))
    uniq: list[tuple[str, set[str]]] = []
    for label, runs in out:
        if runs and len(runs) < len(fin) and all(runs != r for _, r in uniq):
            uniq.append((label, runs))
    return uniq


def one_variable(batch: Batch) -> str:
    """The variable a one-variable form is fitted in under ``auto``: compute C, or D along a single curve (one model
    size), or N when the batch has no data size."""
    if not batch.has_data_size:
        return "N"
    return "D" if batch.frame["N"].nunique() < 2 else "C"


def backtest(data: Batch | pd.DataFrame, metric: str | None = None, *,
             form: str | AnyForm | Sequence[str | AnyForm] | None = None,
             options: Options | None = None, **overrides: Any) -> Selection:
    """Expanding-window backtest of one form or several (default: every applicable form).

    Parameters
    ----------
    data : Batch or DataFrame
    metric : str, optional
        Default: the batch's first metric.
    form : str, form, or a list of them, optional
        The forms to test (``"auto"`` or None: :func:`candidate_laws`, the built-in forms that apply and the
        batch's formula laws); a :class:`scalekit.Law` is tested like a built-in form.
    options, **overrides
        Run options (:class:`scalekit.Options`); ``n_boot_backtest`` sets the resamples behind
        each held-out interval, ``backtest_coverage`` whether the interval coverage is measured
        for the chosen form only (the default: the forms are ranked on point fits, and the
        bootstrap is most of the cost) or for every form, ``thresholds.holdout_fraction`` the
        largest-compute window.

    Returns
    -------
    Selection
        ``rows``: form, held-out runs, signed and absolute relative error, coverage; ``chosen``
        and ``reason``. ``fit`` is None here (:func:`select_form` fills it).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
    >>> df = pd.DataFrame({"params": N, "tokens": D, "loss": 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28})
    >>> sel = backtest(df, form=["two_var", "saturating"], n_boot_backtest=20)
    >>> sel.chosen
    'two_var'
    """
    from ..data.load import load_batch

    batch = data if isinstance(data, Batch) else load_batch(data)
    opts = resolve_options(batch.config.options, options.as_dict() if options else None, overrides)
    spec = batch.metric(metric)
    auto = form is None or (isinstance(form, str) and form == "auto")
    if form is None or auto:
        cands = candidate_laws(batch, spec.name)
    elif isinstance(form, str) or not isinstance(form, Sequence):
        cands = [get_form(form)]
    else:
        cands = [get_form(x) for x in form]
    names = [c.name for c in cands]
    frame, _ = select_points(batch, opts.points, spec.name)
    frame = frame[np.isfinite(frame[spec.name])]
    fin = batch.finals()
    fin = fin[np.isfinite(fin[spec.name]) & fin["run"].isin(frame["run"].unique())]
    if fin["run"].nunique() < 6 and len(frame) >= 8 and len(frame) > len(fin):
        # a curve or two (a fine-tuning run logged along its data): its checkpoints are the points held out
        frame = frame.assign(run=frame["run"].astype(str) + " @ " + frame["step"].map("{:g}".format))
        fin = frame
    declared = declared_variables(batch)
    # every declared scale variable, and each domain of a mixture (the mixtures richest in it held out)
    scale_vars = [v for v in SCALE_ROLES if v in declared] + list(declared.get("r", []))
    windows = _windows(fin, opts.thresholds.holdout_fraction, scale_vars)
    x1 = one_variable(batch)
    err = spec.to_error(frame[spec.name].to_numpy())
    scale = residual_scale(err, opts.residuals)
    usable = np.isfinite(err) & ((err > 0) if scale == "log" else True)
    frame, err = frame[usable], err[usable]
    train_runs = frame["run"].astype(str).to_numpy()
    masks = np.array([~in_runs(train_runs, held) for _, held in windows], dtype=bool).reshape(len(windows), len(frame))
    if len(frame) > BACKTEST_ROWS:
        cols_all = [c for c in ("N", "D", "C") if c in frame and np.isfinite(frame[c]).all()]
        order = np.lexsort(frame[cols_all].to_numpy(dtype=float).T[::-1])
        pick = np.sort(order[np.linspace(0, len(frame) - 1, BACKTEST_ROWS).round().astype(int)])
        frame, err, train_runs, masks = frame.iloc[pick], err[pick], train_runs[pick], masks[:, pick]

    def run(f: AnyForm, n_boot: int) -> tuple[BacktestRow, list[dict[str, Any]]]:
        name = f.name
        if scale == "linear" and name in SIGNED and getattr(f, "signed_value", None) is None:
            f = signed_form(name)  # a floor that may be negative (see scalekit.laws.curve.SIGNED)
        cols = law_columns(f, x1)  # one-variable forms compete in compute (in D along one curve)
        rel: list[float] = []
        inside: list[bool] = []
        notes: list[str] = []
        preds: list[dict[str, Any]] = []
        if "U" in cols and "U" not in frame:
            return BacktestRow(name, f.n_params, 0, None, None, None, "needs a unique_tokens column"), []
        gone = [c for c in cols if c not in frame or not np.isfinite(frame[c]).all()]
        if gone:
            return BacktestRow(name, f.n_params, 0, None, None, None, f"needs {', '.join(gone)}, which this batch lacks"), []
        fits: list[FitResult | None] = []
        if windows:
            try:
                fits = fit_windows(frame[cols].to_numpy(dtype=float), err, masks, form=f, metric=spec.name,
                                   direction=spec.direction, bound=spec.bound, groups=train_runs,
                                   n_boot=n_boot, seed=opts.seed, loss=opts.loss, delta=opts.delta,
                                   starts=opts.starts, n_starts=opts.n_starts, residuals=scale)
            except FitError as exc:
                notes.append(str(exc))
        for (label, held), fit in zip(windows, fits):
            if fit is None:
                notes.append(f"{label}: too few points left")
                continue
            test = fin[fin["run"].astype(str).isin(held)]
            pr = fit.predict(*[test[c].to_numpy() for c in cols], interval="prediction", warn=False)  # held out: beyond by design
            obs = test[spec.name].to_numpy()
            r = (pr.value - obs) / np.abs(obs)  # relative to the size of the value (a metric may be negative)
            ins = ((obs >= pr.lo) & (obs <= pr.hi)) if pr.lo is not None and pr.hi is not None else np.zeros(obs.size, bool)
            rel += r.tolist()
            inside += ins.tolist()
            lo = pr.lo if pr.lo is not None else np.full(obs.size, np.nan)
            hi = pr.hi if pr.hi is not None else np.full(obs.size, np.nan)
            for run, o, v, a, b in zip(test["run"], obs, pr.value, lo, hi):
                preds.append({"form": name, "window": label, "run": str(run), "observed": float(o), "predicted": float(v),
                              "lo": float(a), "hi": float(b)})
        if not rel:
            return BacktestRow(name, f.n_params, 0, None, None, None, "; ".join(notes) or "no backtest window"), preds
        a = np.asarray(rel)
        return BacktestRow(name, f.n_params, len(rel), float(a.mean()), float(np.abs(a).mean()),
                           float(np.mean(inside)) if n_boot > 0 else None, "; ".join(notes),
                           float(np.median(np.abs(a))), float(np.abs(a).max())), preds

    # The forms are ranked on point fits. Held-out intervals (a bootstrap of every window, most of the
    # backtest's cost) are measured for every form, or with backtest_coverage="chosen" only for the chosen one.
    every = opts.backtest_coverage == "all"
    done = [run(f, opts.n_boot_backtest if every else 0) for f in cands]
    rows = [r for r, _ in done]
    chosen, reason = _choose(rows, windows)
    if not every and chosen is not None and opts.n_boot_backtest > 0:
        i = names.index(chosen)
        row, pr = run(cands[i], opts.n_boot_backtest)
        done[i] = (dataclasses.replace(rows[i], coverage=row.coverage), pr)  # the point fits are the same
        rows = [r for r, _ in done]
    preds = [p for _, pr in done for p in pr]
    if auto:  # the forms auto left out, and why, so the table shows what was not considered
        for name in _applicable(batch, spec.name):
            gone = ignored_variables(get_form(name), batch)
            if gone and name not in names:
                rows.append(BacktestRow(name, get_form(name).n_params, 0, None, None, None,
                                        f"not eligible under auto: ignores {', '.join(gone)}, which this batch varies"))
    return Selection(spec.name, tuple(rows), tuple({"window": lbl, "runs": sorted(h)} for lbl, h in windows), chosen,
                     reason, None, pd.DataFrame(preds))


def _choose(rows: list[BacktestRow], windows: list[tuple[str, set[str]]]) -> tuple[str | None, str]:
    scored = [r for r in rows if r.median_abs_rel_error is not None]
    if not scored:
        # no evidence: the additive law, the field's default, when it applies
        first = "two_var" if any(r.form == "two_var" for r in rows) else rows[0].form if rows else None
        why = "no backtest window applies (too few model sizes or runs)" if not windows else "no form could be backtested"
        return first, f"{first} by default: {why}" if first else why

    def score(r: BacktestRow) -> float:
        return r.median_abs_rel_error or 0.0

    best = min(scored, key=score)
    best_err = score(best)
    ties = [r for r in scored if score(r) <= best_err * (1 + TIE_TOLERANCE)]
    pick = min(ties, key=lambda r: (r.n_params, score(r)))
    if pick.form == best.form:
        others = [r for r in ties if r.form != pick.form]
        tail = (f"; {', '.join(r.form for r in others)} within {TIE_TOLERANCE:.0%} but with more parameters" if others else "")
        reason = (f"{pick.form} predicts the held-out runs best: median absolute error {best_err:.2%} over "
                  f"{pick.heldout} held-out predictions{tail}.")
    else:
        reason = (f"{pick.form} ({pick.n_params} parameters, median held-out error {score(pick):.2%}) is within "
                  f"{TIE_TOLERANCE:.0%} of the best, {best.form} ({best.n_params} parameters, {best_err:.2%}): "
                  "the simpler form wins the near-tie.")
    return pick.form, reason


def select_form(data: Batch | pd.DataFrame, metric: str | None = None, *, forms: Sequence[str | AnyForm] | None = None,
                options: Options | None = None, **overrides: Any) -> Selection:
    """``form="auto"``: backtest the candidates, pick one, and fit it on every run (with the full bootstrap).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
    >>> df = pd.DataFrame({"params": N, "tokens": D, "loss": 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28})
    >>> sel = select_form(df, n_boot=50, n_boot_backtest=20)
    >>> sel.chosen, sorted(sel.fit.params)
    ('two_var', ['A', 'B', 'E', 'alpha', 'beta'])
    """
    from ..data.load import load_batch

    batch = data if isinstance(data, Batch) else load_batch(data)
    opts = resolve_options(batch.config.options, options.as_dict() if options else None, overrides)
    cands = [get_form(f) for f in forms] if forms else candidate_laws(batch, metric)
    sel = backtest(batch, metric, form=cands if forms else None, options=opts)
    if sel.chosen is None:
        gone = sorted({v for n in _applicable(batch, metric) for v in ignored_variables(get_form(n), batch)})
        hint = (f"; every built-in form ignores {', '.join(gone)}, which this batch varies: declare a law in it "
                "(config `law:`, e.g. \"E + A * N^-alpha * E^-gamma\")" if gone else "")
        raise FitError(f"no law form applies to this batch{hint}", metric=sel.metric)
    chosen = next(c for c in cands if c.name == sel.chosen)
    extra: dict[str, Any] = {"x": one_variable(batch)} if len(chosen.variables) == 1 else {}
    fit = fit_batch(batch, sel.metric, chosen, resolve_options(opts.as_dict(), {"form": "auto", **extra}))
    return Selection(sel.metric, sel.rows, sel.windows, sel.chosen, sel.reason, fit, sel.predictions)

