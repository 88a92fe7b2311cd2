"""What every fit result shares: read-only parameter mappings, the interval check, and fit options from one schema.

Every public fit (:func:`scalekit.fit_law`, :func:`scalekit.fit_curve`, :func:`scalekit.fit_two_step`,
:func:`scalekit.fit_loss_to_loss`, :func:`scalekit.fit_schedule_law`, :func:`scalekit.compare_versions`)
returns a frozen result with the same names:

``form``, ``params`` (read-only), ``ci`` (name -> (lo, hi)), ``stderr``, ``draws`` (bootstrap draws of the
published parameters, one row per resample, columns in ``params`` order), ``objective``, ``ndata``,
``success``, ``message``, ``residuals`` (on the scale ``residual_scale`` names), ``predict(...,
interval=None | "confidence" | "prediction", level=0.95)`` (an array without an interval, else a
:class:`~scalekit.laws.result.Prediction` whose ``extrapolation`` says how far each input lies beyond
the range fitted) and ``summary()``. Results compare by identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from ..data.batch import Batch
    from ..options import Options

__all__ = ["INTERVALS", "FrozenDict", "as_batch", "check_interval", "fit_options", "frozen"]

K = TypeVar("K")
V = TypeVar("V")

INTERVALS = ("confidence", "prediction")


class FrozenDict(dict[K, V]):
    """A dict that refuses changes (``TypeError``), so a result's ``params`` cannot be edited in place.

    A plain ``dict`` subclass rather than :class:`types.MappingProxyType`: it pickles, copies and serialises
    to JSON like the dict it is; ``dict(frozen)`` gives an editable copy.
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a fit's parameters are read-only; copy them with dict(...) to change them")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


def frozen(d: Mapping[K, V] | None) -> FrozenDict[K, V] | None:
    """``d`` as a :class:`FrozenDict` (None stays None); interval lists become (lo, hi) tuples."""
    if d is None:
        return None
    return FrozenDict({k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})  # type: ignore[misc]


def check_interval(interval: str | None) -> None:
    """The one check of ``predict(interval=...)``: None, "confidence" or "prediction", else a ConfigError."""
    if interval is not None and interval not in INTERVALS:
        raise ConfigError(f"interval must be None, 'confidence' or 'prediction', not {interval!r}", key="interval")


def as_batch(data: Batch | pd.DataFrame | str | Path) -> Batch:
    """A Batch from anything :func:`scalekit.load_batch` accepts (a Batch is returned as it is)."""
    from ..data.batch import Batch
    from ..data.load import load_batch

    return data if isinstance(data, Batch) else load_batch(data)


def fit_options(batch: Batch | None, options: Options | None, overrides: Mapping[str, Any]) -> Options:
    """Options of a fit: schema defaults < the batch config's ``options:`` < ``options`` < keyword ``overrides``."""
    from ..options import resolve_options

    return resolve_options(None if batch is None else batch.config.options, options.as_dict() if options else None,
                           dict(overrides))
