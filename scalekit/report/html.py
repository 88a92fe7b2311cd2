"""HTML fragments: one table model and a displayable fragment. Every user string is escaped here."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from .format import fmt

__all__ = ["HTML", "escape", "paragraph", "table"]


@dataclass(frozen=True)
class HTML:
    """An HTML fragment that notebooks display as such."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


def table(headers: list[str], rows: list[list[Any]], caption: str | None = None, cls: str = "sk-table") -> str:
    """A table; every header and cell is formatted and escaped."""
    h = "".join(f"<th>{escape(str(c))}</th>" for c in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table class="{cls}">{cap}<thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def paragraph(text: str, cls: str | None = None) -> HTML:
    """Plain text as a paragraph, escaped."""
    attr = f' class="{escape(cls, quote=True)}"' if cls else ""
    return HTML(f"<p{attr}>{escape(text)}</p>")
