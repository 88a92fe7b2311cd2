"""Fitting scaling laws: :func:`fit_law` for batches, :func:`fit_curve` for plain arrays.

The recipe is Hoffmann et al. (2022) Approach 3 as replicated by Besiroglu et al. (2024):
``log L = LSE(a - alpha log N, b - beta log D, e)``, Huber loss (delta 1e-3) on the log
residuals, summed; global optimum over many starts; uncertainty by bootstrap over runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.batch import Batch
from ..data.load import load_batch
from ..options import FIT_FORM, Options, resolve_options
from .curve import fit_batch, fit_curve, fit_windows, law_columns, select_points
from .forms import LawForm, get_form
from .formula import Law
from .general import GeneralForm
from .result import FitResult
from .select import config_laws, ignored_variables, select_form

__all__ = ["fit_batch", "fit_curve", "fit_law", "fit_windows", "law_columns", "select_points"]

def config_law(batch: Batch) -> Law:
    """The batch's first formula law (config ``law:``, else the first of ``laws:``) as a :class:`Law` (see
    :func:`scalekit.laws.select.config_laws`)."""
    laws = config_laws(batch)
    assert laws, "the batch declares no law"
    return laws[0]


def fit_law(
    data: Batch | pd.DataFrame | str | Path,
    metric: str | None = None,
    *,
    options: Options | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides: Any,
) -> FitResult:
    """Fit a scaling law to a batch.

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts (loaded with default config).
    metric : str, optional
        Metric name (default: the batch's first metric).
    options : Options, optional
        Run options (see :mod:`scalekit.options`); the batch config's options fill what they
        leave unset.
    **overrides
        Any option by name, overriding both: ``form`` (default "two_var": L(N, D) = E + A/N^alpha + B/D^beta;
        "auto" picks the form that best predicts held-out larger runs, see :func:`scalekit.backtest`;
        :func:`scalekit.forms` lists the rest),
        ``x`` ("N", "D" or "C"), ``n_boot`` (bootstrap resamples over runs, 0 skips it),
        ``seed``, ``loss`` ("huber" or "squared", on log residuals), ``delta``, ``points``
        ("auto", "final" or "all": ``auto`` takes final points when they take 3 or more values
        of D spanning at least 10x, else all checkpoints), ``starts`` and ``n_starts``.
    progress : callable, optional
        ``progress(done, total)`` as bootstrap resamples finish (for a display on long fits).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5))
    >>> L = 1.7 + 400 / N.ravel() ** 0.34 + 410 / D.ravel() ** 0.28
    >>> df = pd.DataFrame({"params": N.ravel(), "tokens": D.ravel(), "loss": L})
    >>> r = fit_law(df, n_boot=0)
    >>> round(r.params["alpha"], 3), round(r.params["beta"], 3)
    (0.34, 0.28)
    """
    batch = data if isinstance(data, Batch) else load_batch(data)
    form = overrides.pop("form", None)
    law = form if isinstance(form, (LawForm, GeneralForm)) else None
    if law is None and form is None and batch.config.law and "form" not in batch.config.options:
        law = config_law(batch)  # the batch's own law (config `law:`), unless a form is asked for
    # fit_law fits the additive law unless a form is asked for (here, in `options` or in the batch's
    # config); reports default to form="auto", chosen by backtest.
    opts = resolve_options({"form": FIT_FORM}, batch.config.options, options.as_dict() if options else None,
                           {**overrides, "form": None if law else form})
    spec = batch.metric(metric)
    if law is None and opts.form == "auto":
        sel = select_form(batch, spec.name, options=opts)
        assert sel.fit is not None  # select_form always fits the chosen form
        return replace(sel.fit, method={**sel.fit.method, "selection": sel.summary()})
    chosen = law or get_form(opts.form)
    res = fit_batch(batch, spec.name, chosen, opts, progress=progress)
    gone = ignored_variables(chosen, batch)
    if gone:  # pinned by name although it leaves out a variable the batch varies: say so wherever the fit is shown
        res = replace(res, method={**res.method, "ignores": gone},
                      message=f"{res.message}; {chosen.name} ignores {', '.join(gone)}, which this batch varies")
    return res
