"""Figures as inline SVG: dense layers rasterized, a hover tooltip on every run's marker, alt text, unique ids.

A figure's artists can carry tooltips: :func:`tooltips` gives a collection one text per point
(matplotlib writes each point inside ``<a xlink:href="sktip:K">``, which :func:`figure_html`
turns into ``<g><title>text</title>...</g>``: the browser shows it on hover, offline, with no
script). The figure's label (``fig.get_label()``) is its alt text. Each figure's ids are
prefixed so that several figures can share a page.
"""

from __future__ import annotations

import hashlib
import io
import re
import weakref
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.collections import Collection
    from matplotlib.figure import Figure

__all__ = ["RC", "figure_html", "tooltips"]

# What every report figure is drawn with. Titles, labels and legends carry user strings (metric, run, batch
# names): a `$` in one must stay a dollar sign, not start mathtext (an unbalanced one makes the figure fail
# to draw); our own labels use no mathtext. SVG text as text, not glyph outlines: a tenth of the bytes,
# selectable, restyled by the page's dark mode; DejaVu Sans has the superscripts of 10¹⁶; a fixed hash salt
# gives stable ids (the same figure, the same SVG). Set per figure, never globally: the user's session keeps its own.
RC: dict[Any, Any] = {"text.parse_math": False, "svg.fonttype": "none", "svg.hashsalt": "scalekit",
                         "font.sans-serif": ["DejaVu Sans", "Arial", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"]}
_COORD_ATTR = re.compile(r'(\s(?:d|x|y|x1|x2|y1|y2|width|height|transform|points|cx|cy|r|viewBox)=")([^"]*)"')
_DECIMALS = re.compile(r"(\d\.\d\d)\d+")
_INDENT = re.compile(r"\n[ \t]+<")
_TIPS: weakref.WeakKeyDictionary[Figure, list[str]] = weakref.WeakKeyDictionary()


def tooltips(fig: Figure, artist: Collection, texts: Sequence[str]) -> None:
    """Give each point of ``artist`` (a scatter) the hover text ``texts[i]``."""
    tips = _TIPS.setdefault(fig, [])
    start = len(tips)
    tips.extend(texts)
    artist.set_urls([f"sktip:{start + i}" for i in range(len(texts))])


def figure_html(fig: Figure, *, dpi: int = 110) -> str:
    """The figure as an inline ``<figure>`` with an SVG (raster for layers marked rasterized) and its alt text."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context(RC):  # the draw-time keys (fonts, SVG writer), as the figure was made with
        fig.savefig(buf, format="svg", dpi=dpi, metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = _INDENT.sub("\n<", svg)  # matplotlib indents every element: bytes, not meaning
    tips = _TIPS.get(fig, [])
    svg = re.sub(r'<a xlink:href="sktip:(\d+)"[^>]*>', lambda m: f"<g><title>{escape(tips[int(m.group(1))])}</title>", svg)
    svg = svg.replace("</a>", "</g>")
    # coordinates to 1/100 of a point: invisible, and a third of the bytes
    svg = _COORD_ATTR.sub(lambda m: m.group(1) + _DECIMALS.sub(r"\1", m.group(2)) + '"', svg)
    prefix = "f" + hashlib.sha1(svg.encode()).hexdigest()[:8] + "-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{prefix}{m.group(1)}"', svg)
    alt = str(fig.get_label() or "figure")
    svg = re.sub(r"<svg ", f'<svg role="img" aria-labelledby="{prefix}alt" ', svg, count=1)
    svg = re.sub(r"(<svg [^>]*>)", lambda m: m.group(1) + f'<title id="{prefix}alt">{escape(alt)}</title>', svg, count=1)
    svg = re.sub(r'width="[\d.]+pt" height="[\d.]+pt" ', "", svg, count=1)  # scale to the column (CSS), keep the viewBox
    return f'<figure class="sk-figure">{svg}</figure>'
