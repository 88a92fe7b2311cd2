"""HTML fragments: one table model and a displayable fragment. Every user string is escaped here.

Every table carries a "Download CSV" link: the table's cells as a ``data:`` URL, so it works
offline and with no script.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from .format import fmt

__all__ = ["HTML", "csv_link", "escape", "paragraph", "slug", "table"]


@dataclass(frozen=True)
class HTML:
    """An HTML fragment that notebooks display as such."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


def slug(text: str) -> str:
    """An anchor or file name from text: lower case, words joined by '-'.

    >>> slug("Cheapest run: 1% better (eval_loss)")
    'cheapest-run-1-better-eval_loss'
    """
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "table"


_FORMULA_START = tuple("=+-@\t\r＝＋－＠")  # what makes a spreadsheet read a cell as a formula (OWASP, CSV injection)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a cell that would start a formula (a run named ``=HYPERLINK(...)``) gets a
    leading quote, as OWASP advises for CSV exports; numbers (``-0.5``, ``+2.1%``) stay numbers."""
    return "'" + text if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text) else text


def _raw(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return _cell(str(v))


def csv_link(headers: Sequence[Any], rows: Sequence[Sequence[Any]], name: str) -> str:
    """A link that downloads ``rows`` as ``name``.csv (numbers at 6 significant figures)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_cell(str(h)) for h in headers])
    for r in rows:
        w.writerow([_raw(c) for c in r])
    href = "data:text/csv;charset=utf-8," + quote(buf.getvalue())
    fname = slug(name) + ".csv"
    return (f'<a class="sk-csv" download="{escape(fname, quote=True)}" href="{href}">'
            f'Download CSV<span class="sk-visually-hidden"> of {escape(name)}</span></a>')


def table(headers: list[str], rows: list[list[Any]], caption: str | None = None, cls: str = "sk-table",
          csv_name: str | None = None) -> str:
    """A table; every header and cell is formatted and escaped. It scrolls inside its own box on narrow screens
    and downloads as CSV (named ``csv_name``, else from the caption)."""
    h = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    name = csv_name or caption or " ".join(str(x) for x in headers[:3] if x) or "table"
    return (f'<div class="sk-table-wrap"><table class="{cls}">{cap}<thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'
            f"{csv_link(headers, rows, name)}</div>")


def paragraph(text: str, cls: str | None = None) -> HTML:
    """Plain text as a paragraph, escaped."""
    attr = f' class="{escape(cls, quote=True)}"' if cls else ""
    return HTML(f"<p{attr}>{escape(text)}</p>")
