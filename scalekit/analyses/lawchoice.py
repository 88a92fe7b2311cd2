"""Which law a metric's report is about: the form chosen by backtest (``form="auto"``) or the pinned one."""

from __future__ import annotations

from ..data.batch import Batch
from ..exceptions import FitError
from ..laws.fit import fit_law
from ..laws.result import FitResult
from ..laws.select import Selection, select_form
from ..options import Options

__all__ = ["choose_law"]


def choose_law(batch: Batch, metric: str, opts: Options) -> tuple[FitResult | None, Selection | None]:
    """With ``form="auto"``: the chosen form's fit and the backtest behind it; with a pinned form: its fit, no backtest.

    A selection that cannot fit any form returns (None, None): the additive fit then reports its own error.
    A pinned form that cannot be fitted raises :class:`FitError`.
    """
    if opts.form != "auto":
        return fit_law(batch, metric, options=opts, form=opts.form), None
    try:
        sel = select_form(batch, metric, options=opts)
    except FitError:
        return None, None
    return sel.fit, sel
