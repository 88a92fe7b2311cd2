"""Numbers as every page shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["fmt", "fmt_ci"]


def fmt(x: Any, digits: int = 4) -> str:
    """A number for a page: ``digits`` significant figures, scientific notation when very large or small.

    >>> fmt(0.123456), fmt(2e7), fmt(None)
    ('0.1235', '2.000e+07', '–')
    """
    if x is None:
        return "–"
    if isinstance(x, float):
        if x != x:
            return "–"
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.{digits-1}e}"
        return f"{x:.{digits}g}"
    return str(x)


def fmt_ci(value: Any, ci: Sequence[Any] | None) -> str:
    """``value [lo, hi]``, or the value alone when there is no interval."""
    return f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else fmt(value)
