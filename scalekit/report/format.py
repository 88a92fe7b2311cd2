"""Numbers as every page shows them: one formatter for reports, the index and the comparison.

Three significant figures; model sizes as M/B/T; data with its unit (tokens, samples, steps);
compute in FLOP; large and small numbers as ``1.23×10⁷`` (never Python's ``1.23e+07``);
intervals in one style, ``value [lo–hi]``; booleans as yes/no. Library text that quotes numbers
in Python's notation (finding messages) is rewritten by :func:`prose` on its way to a page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compute", "data", "factor", "fmt", "fmt_ci", "interval", "law_cell", "metric_value", "num", "params", "pct",
           "prose"]

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
NONE = "–"


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def num(x: Any, digits: int = 3) -> str:
    """A plain number: ``digits`` significant figures, powers of ten as ``1.23×10⁷`` outside [1e-3, 1e5).

    >>> num(0.123456), num(2e7), num(None), num(12345.6), num(-0.0004567)
    ('0.123', '2.00×10⁷', '–', '12300', '-4.57×10⁻⁴')
    """
    f = _finite(x)
    if f is None:
        return NONE
    if f == 0:
        return "0"
    if abs(f) >= 1e5 or abs(f) < 1e-3:
        m, e = f"{f:.{digits - 1}e}".split("e")
        return f"{m}×10{str(int(e)).translate(_SUP)}"
    s = f"{f:#.{digits}g}"  # '#' keeps the trailing zeros: 2.00, not 2
    if "e" in s:  # 12345 at 3 digits: write it out
        s = f"{float(s):.0f}"
    return s.rstrip(".")


def _si(x: Any, unit: str = "") -> str:
    f = _finite(x)
    if f is None:
        return NONE
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(f) >= div * 0.9995:
            v = f / div
            if abs(v) >= 1e4:  # beyond the largest suffix
                return num(f) + (f" {unit}" if unit else "")
            return num(v) + suf + (f" {unit}" if unit else "")
    return num(f) + (f" {unit}" if unit else "")


def params(x: Any) -> str:
    """A model size: ``25.0M``, ``1.41B``, ``894B``.

    >>> params(2.43e7), params(8.94e11), params(None)
    ('24.3M', '894B', '–')
    """
    return _si(x)


def data(x: Any, unit: str = "tokens") -> str:
    """A data size with its unit: ``20.0B tokens``, ``906k samples``.

    >>> data(2e10, "tokens"), data(9.06e5, "samples")
    ('20.0B tokens', '906k samples')
    """
    return _si(x, unit)


def compute(x: Any) -> str:
    """Compute in FLOP: ``1.00×10¹⁶ FLOP``.

    >>> compute(1e16)
    '1.00×10¹⁶ FLOP'
    """
    s = num(x)
    return s if s == NONE else f"{s} FLOP"


def pct(x: Any, signed: bool = False) -> str:
    """A fraction as a percentage: ``1.2%`` (``+1.2%`` if signed).

    >>> pct(0.0123), pct(-0.05, signed=True)
    ('1.23%', '-5.00%')
    """
    f = _finite(x)
    if f is None:
        return NONE
    s = num(100 * f)
    return (("+" if f > 0 and signed else "") + s + "%") if s != NONE else NONE


def factor(x: Any) -> str:
    """A ratio: ``44.5×``.

    >>> factor(44.458), factor(1.0)
    ('44.5×', '1.00×')
    """
    s = num(x)
    return s if s == NONE else f"{s}×"


def metric_value(x: Any) -> str:
    """A value of a metric (its own scale): three significant figures."""
    return num(x)


def interval(lo: Any, hi: Any, f: Callable[[Any], str] = num) -> str:
    """``[lo–hi]`` in the same formatter as the value, or empty when there is none.

    >>> interval(0.315, 0.372)
    '[0.315–0.372]'
    """
    if _finite(lo) is None or _finite(hi) is None:
        return ""
    return f"[{f(lo)}–{f(hi)}]"


def fmt_ci(value: Any, ci: Sequence[Any] | None, f: Callable[[Any], str] = num) -> str:
    """``value [lo–hi]``, or the value alone when there is no interval.

    >>> fmt_ci(0.341, [0.315, 0.372]), fmt_ci(2.43e7, None, params)
    ('0.341 [0.315–0.372]', '24.3M')
    """
    iv = interval(ci[0], ci[1], f) if ci and len(ci) == 2 else ""
    return f"{f(value)} {iv}".strip() if iv else f(value)


def law_cell(form: str, params: dict[str, Any] | None, ci: dict[str, Any] | None) -> str:
    """A law's name, with its parameters when they are not the additive law's alpha, beta and E shown beside it.

    >>> law_cell("two_var", {"alpha": 0.3}, None), law_cell("kaplan", {"alpha_N": 0.076, "N_c": 8.8e13}, {"alpha_N": [0.07, 0.08]})
    ('two_var', 'kaplan: alpha_N = 0.0760 [0.0700–0.0800], N_c = 8.80×10¹³')
    """
    if form == "two_var" or not params:
        return form
    return f"{form}: " + ", ".join(f"{k} = {fmt_ci(v, (ci or {}).get(k))}" for k, v in params.items())


def fmt(x: Any, digits: int = 3) -> str:
    """Any cell of a table: numbers by :func:`num`, booleans as yes/no, None as a dash, text as it is.

    >>> fmt(0.123456), fmt(2e7), fmt(None), fmt(True), fmt("eval_loss")
    ('0.123', '2.00×10⁷', '–', 'yes', 'eval_loss')
    """
    if x is None:
        return NONE
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return "yes" if x else "no"
    if isinstance(x, str):
        return x
    if _finite(x) is not None or isinstance(x, float):
        if isinstance(x, int) and abs(x) < 1e5:
            return str(x)
        return num(x, digits)
    return prose(str(x))


_PYNUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?e[+-]?\d+(?![\w.])")


def prose(text: str) -> str:
    """Library text with Python's number notation rewritten: ``N=4.53e+07`` becomes ``N=4.53×10⁷``.

    >>> prose("N=4.53e+07, D=2.1e+08 at C=1e+16 (1.51x)")
    'N=4.53×10⁷, D=2.10×10⁸ at C=1.00×10¹⁶ (1.51x)'
    """
    return _PYNUM.sub(lambda m: num(float(m.group(0))), text)
