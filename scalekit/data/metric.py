"""Metrics: which way is better, their bound, and the one map between a metric and its error.

Laws model a positive quantity that falls with scale. A lower-is-better metric (a loss) is that
quantity itself; a higher-is-better metric with a bound (mAP, accuracy) is fitted as the error
``bound - value`` and reported back on its own scale. :func:`to_error` and :func:`from_error`
are the only place this flip is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["MetricSpec", "from_error", "infer_direction", "to_error"]

_MIN_WORDS = ("loss", "error", "err", "ade", "fde", "ppl", "perplexity", "bpb", "nll", "wer", "cer")
_MAX_WORDS = {"map", "acc", "accuracy", "auc", "f1", "iou", "precision", "recall", "score"}

ArrayOrFloat = TypeVar("ArrayOrFloat", float, npt.NDArray[np.float64])


def to_error(values: ArrayOrFloat, direction: str, bound: float | None) -> ArrayOrFloat:
    """Metric values to the positive, lower-is-better quantity the laws model."""
    if direction == "max":
        return (bound if bound is not None else 1.0) - values
    return values


def from_error(err: ArrayOrFloat, direction: str, bound: float | None) -> ArrayOrFloat:
    """The inverse of :func:`to_error`: back to the metric's own scale."""
    return to_error(err, direction, bound)  # the flip is its own inverse


def name_tokens(name: str) -> set[str]:
    """The words of a column name, split at non-letters and at camelCase humps, lower-cased.

    >>> sorted(name_tokens("eval/CrossEntropyLoss"))
    ['cross', 'crossentropyloss', 'entropy', 'eval', 'loss']
    """
    parts = [t for t in re.split(r"[^A-Za-z0-9]+", name) if t]
    words = {t.lower() for t in parts}
    for t in parts:
        words |= {w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", t)}
    return words


def infer_direction(name: str) -> str | None:
    """Direction implied by a metric's name: ``"min"``, ``"max"`` or None if it says nothing.

    Whole words count, not substrings: ``gpu_power_w`` holds "wer" and ``upgrade_steps`` holds
    "ade", and neither says which way is better.

    Examples
    --------
    >>> infer_direction("eval_loss"), infer_direction("mAP"), infer_direction("width")
    ('min', 'max', None)
    >>> infer_direction("gpu_power_w"), infer_direction("upgrade_steps"), infer_direction("eval/CrossEntropyLoss")
    (None, None, 'min')
    """
    words = name_tokens(name)
    if words & set(_MIN_WORDS):
        return "min"
    if any(t in _MAX_WORDS or t.startswith("acc") for t in words):
        return "max"
    return None


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its column, which way is better, and its bound (for max metrics).

    ``bound`` is the best attainable value of a higher-is-better metric (1 for mAP or
    accuracy); such metrics are fitted as the error ``bound - value``.
    """

    name: str
    column: str
    direction: str  # "min" | "max"
    bound: float | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"

    def to_error(self, values: ArrayOrFloat) -> ArrayOrFloat:
        """Metric values to the positive quantity the laws model (lower is better)."""
        return to_error(values, self.direction, self.bound)

    def from_error(self, err: ArrayOrFloat) -> ArrayOrFloat:
        return from_error(err, self.direction, self.bound)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "direction": self.direction, "bound": self.bound}
