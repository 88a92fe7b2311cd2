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
from ..jsonsafe import jsonable
from ..options import Options, resolve_options
from .curve import fit_batch, fit_windows, law_columns, select_points
from .forms import AnyForm, get_form
from .result import FitResult

__all__ = ["TIE_TOLERANCE", "BacktestRow", "Selection", "backtest", "candidate_forms", "select_form"]

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
    """The forms that apply to this batch and metric, in order of parameter count.

    Two-variable forms need N and D to vary; ``data_constrained`` needs a ``unique_tokens``
    column with repeated data; ``sigmoid`` needs a bounded metric; one-variable forms are fitted
    in compute C.
    """
    spec = batch.metric(metric)
    f = batch.frame
    out = []
    if f["N"].nunique() >= 2 and f["D"].nunique() >= 2:
        out += ["two_var", "kaplan"]
        if _repeats(f):
            out.append("data_constrained")
    out += ["saturating", "broken"]
    if spec.bound is not None:
        out.append("sigmoid")
    out = [n for n in out if not ignored_variables(get_form(n), batch)]
    return sorted(out, key=lambda n: (get_form(n).n_params, out.index(n)))


def _repeats(f: pd.DataFrame) -> bool:
    return "U" in f and bool((f["D"] > 1.01 * f["U"]).any())


def ignored_variables(form: AnyForm, batch: Batch) -> list[str]:
    """Declared variables that vary in ``batch`` but ``form`` leaves out: today the unique tokens U when data repeats.

    Such a form cannot tell the batch's runs apart along that variable (repeated epochs look like fresh data to it), so
    ``form="auto"`` does not consider it; pinned by name, it is fitted and the report says what it ignores.
    """
    out = []
    if _repeats(batch.frame) and "U" not in form.variables:
        out.append("U")
    return out


def _windows(fin: pd.DataFrame, holdout_fraction: float) -> list[tuple[str, set[str]]]:
    sizes = np.sort(fin["N"].unique())
    out: list[tuple[str, set[str]]] = []
    for k, label in ((1, "largest model size"), (2, "largest two model sizes")):
        if sizes.size - k >= 3:
            out.append((label, set(fin.loc[fin["N"] >= sizes[-k] * 0.999, "run"].astype(str))))
    k = max(2, round(holdout_fraction * len(fin)))
    if len(fin) - k >= 6:
        out.append(("largest compute", set(fin.sort_values("C")["run"].iloc[-k:].astype(str))))
        if _repeats(fin):  # the declared variable U: hold out the most repeated data, where laws that ignore it break
            out.append(("most repeated data", set(fin.assign(_r=fin["D"] / fin["U"]).sort_values("_r")["run"].iloc[-k:].astype(str))))
    uniq: list[tuple[str, set[str]]] = []
    for label, runs in out:
        if runs and all(runs != r for _, r in uniq):
            uniq.append((label, runs))
    return uniq


def backtest(data: Batch | pd.DataFrame, metric: str | None = None, *, form: str | Sequence[str] | None = None,
             options: Options | None = None, **overrides: Any) -> Selection:
    """Expanding-window backtest of one form or several (default: every applicable form).

    Parameters
    ----------
    data : Batch or DataFrame
    metric : str, optional
        Default: the batch's first metric.
    form : str or list of str, optional
        The forms to test (``"auto"`` or None: :func:`candidate_forms`).
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
    auto = form is None or form == "auto"
    names = (candidate_forms(batch, spec.name) if form is None or form == "auto" else [form] if isinstance(form, str)
             else list(form))
    frame, _ = select_points(batch, opts.points, spec.name)
    frame = frame[np.isfinite(frame[spec.name])]
    fin = batch.finals()
    fin = fin[np.isfinite(fin[spec.name]) & fin["run"].isin(frame["run"].unique())]
    windows = _windows(fin, opts.thresholds.holdout_fraction)
    err = spec.to_error(frame[spec.name].to_numpy())
    usable = np.isfinite(err) & (err > 0)
    frame, err = frame[usable], err[usable]
    train_runs = frame["run"].astype(str).to_numpy()
    masks = np.array([~in_runs(train_runs, held) for _, held in windows], dtype=bool).reshape(len(windows), len(frame))
    if len(frame) > BACKTEST_ROWS:
        cols_all = [c for c in ("N", "D", "C") if c in frame]
        order = np.lexsort(frame[cols_all].to_numpy(dtype=float).T[::-1])
        pick = np.sort(order[np.linspace(0, len(frame) - 1, BACKTEST_ROWS).round().astype(int)])
        frame, err, train_runs, masks = frame.iloc[pick], err[pick], train_runs[pick], masks[:, pick]

    def run(name: str, n_boot: int) -> tuple[BacktestRow, list[dict[str, Any]]]:
        f = get_form(name)
        cols = law_columns(f, "C")  # one-variable forms compete in compute
        rel: list[float] = []
        inside: list[bool] = []
        notes: list[str] = []
        preds: list[dict[str, Any]] = []
        if "U" in cols and "U" not in frame:
            return BacktestRow(name, f.n_params, 0, None, None, None, "needs a unique_tokens column"), []
        fits: list[FitResult | None] = []
        if windows:
            try:
                fits = fit_windows(frame[cols].to_numpy(dtype=float), err, masks, form=f, metric=spec.name,
                                   direction=spec.direction, bound=spec.bound, groups=train_runs,
                                   n_boot=n_boot, seed=opts.seed, loss=opts.loss, delta=opts.delta,
                                   starts=opts.starts, n_starts=opts.n_starts)
            except FitError as exc:
                notes.append(str(exc))
        for (label, held), fit in zip(windows, fits):
            if fit is None:
                notes.append(f"{label}: too few points left")
                continue
            test = fin[fin["run"].astype(str).isin(held)]
            pr = fit.predict(*[test[c].to_numpy() for c in cols], interval="prediction", warn=False)  # held out: beyond by design
            obs = test[spec.name].to_numpy()
            r = (pr.value - obs) / obs
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
    done = [run(name, opts.n_boot_backtest if every else 0) for name in names]
    rows = [r for r, _ in done]
    chosen, reason = _choose(rows, windows)
    if not every and chosen is not None and opts.n_boot_backtest > 0:
        i = names.index(chosen)
        row, pr = run(chosen, opts.n_boot_backtest)
        done[i] = (dataclasses.replace(rows[i], coverage=row.coverage), pr)  # the point fits are the same
        rows = [r for r, _ in done]
    preds = [p for _, pr in done for p in pr]
    if auto:  # the forms auto left out, and why, so the table shows what was not considered
        for name in ("two_var", "kaplan", "saturating", "broken"):
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


def select_form(data: Batch | pd.DataFrame, metric: str | None = None, *, forms: Sequence[str] | None = None,
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
    sel = backtest(batch, metric, form=list(forms) if forms else None, options=opts)
    if sel.chosen is None:
        raise FitError("no law form applies to this batch", metric=sel.metric)
    extra: dict[str, Any] = {"x": "C"} if len(get_form(sel.chosen).variables) == 1 else {}
    fit = fit_batch(batch, sel.metric, get_form(sel.chosen), resolve_options(opts.as_dict(), {"form": sel.chosen, **extra}))
    return Selection(sel.metric, sel.rows, sel.windows, sel.chosen, sel.reason, fit, sel.predictions)

