"""The hand-off from results to their display.

Results hold numbers; the report stage (:mod:`scalekit.report.results`) knows how to show them.
A result's ``_repr_html_``/``report()`` calls :func:`html`/:func:`text` here, which load the
report stage by name on first use, as pandas does for its plotting backend: the library's
lower stages never import the report stage, so data flows one way.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

__all__ = ["html", "text"]

_BACKEND = "scalekit.report.results"


@cache
def _backend() -> Any:
    return import_module(_BACKEND)


def html(obj: object) -> str:
    """``obj`` as an HTML fragment, every user string escaped."""
    return str(_backend().to_html(obj))


def text(obj: object) -> str:
    """``obj`` as plain text, in the manner of lmfit's ``fit_report()``."""
    return str(_backend().to_text(obj))
