"""The executed notebook as one self-contained HTML page (nbconvert, our template, a contents sidebar)."""

from __future__ import annotations

import re
import secrets
import sys
from html import escape, unescape
from pathlib import Path
from typing import Any

from .resources import templates_dir

__all__ = ["add_toc", "export_html"]


_HEADING = re.compile(r"<h([23])(\s[^>]*)?>(.*?)</h\1>", re.S)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-") or "section"


def add_toc(html: str) -> str:
    """Fill the template's table-of-contents slot from the page's h2/h3 headings.

    A heading without an id gets a stable one from its text and its section's (``Fitted-performance-law--eval_loss``),
    so links to a section or a metric survive re-renders.
    """
    entries: list[tuple[int, str, str]] = []
    section = [""]
    used: set[str] = set(re.findall(r'id="([^"]+)"', html))

    def sub(m: re.Match[str]) -> str:
        level, attrs, inner = int(m.group(1)), m.group(2) or "", m.group(3)
        idm = re.search(r'id="([^"]+)"', attrs)
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        if idm:
            anchor = idm.group(1)
        else:
            base = _slug(unescape(text)) if level == 2 or not section[0] else f"{section[0]}--{_slug(unescape(text))}"
            anchor, n = base, 1
            while anchor in used:
                n += 1
                anchor = f"{base}-{n}"
            used.add(anchor)
            attrs = f' id="{anchor}"' + attrs
        if level == 2:
            section[0] = anchor
        entries.append((level, anchor, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    head, sep, body = html.partition("<main>")
    body = _HEADING.sub(sub, body)
    items, open_sub = [], False
    for level, anchor, text in entries:
        link = f'<a href="#{escape(anchor, quote=True)}">{escape(unescape(text))}</a>'
        if level == 2:
            if open_sub:
                items.append("</ol></li>")
                open_sub = False
            items.append(f"<li>{link}")
            items.append("<ol>")
            open_sub = True
        else:
            items.append(f"<li>{link}</li>")
    if open_sub:
        items.append("</ol></li>")
    toc = "<ol>" + "".join(items).replace("<ol></ol>", "") + "</ol>"
    return (head + sep + body).replace("<!--SCALEKIT-TOC-->", toc, 1)


def _system_templates() -> list[str]:
    """nbconvert's own templates where a virtual environment that reuses the system's packages hides them."""
    base = Path(sys.base_prefix) / "share" / "jupyter" / "nbconvert" / "templates"
    return [str(base)] if sys.base_prefix != sys.prefix and base.is_dir() else []


def export_html(notebook: str | Path, *, show_input: bool = False, title: str | None = None,
                nav: list[tuple[str, str]] | None = None) -> str:
    """The executed notebook as one self-contained HTML page (our template; code hidden by default).

    ``nav``: (label, relative link) pairs shown at the top of the page (the index, the comparison, the downloads).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    if title:
        nb.metadata["title"] = title
    if nav:
        nb.metadata["scalekit_nav"] = [list(x) for x in nav]
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]  # nbconvert's exporters have an unannotated __init__
        template_name="scalekit_report", extra_template_basedirs=[str(templates_dir()), *_system_templates()],
                            extra_template_paths=_system_templates())
    exporter.exclude_input = not show_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    mark = f"sk-figure-{secrets.token_hex(8)}"  # no text already in the notebook can name a figure
    figures = _stash_figures(nb, mark)
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(f"<!--{mark}:(\\d+)-->", lambda m: figures[int(m.group(1))], body)
    return add_toc(body)


_FIGURE = re.compile(r'<figure class="sk-figure">.*?</figure>', re.S)


def _stash_figures(nb: Any, mark: str) -> list[str]:
    """Swap each inline SVG figure in the outputs for a marker comment; returns the figures, by marker number.

    nbconvert parses and re-serialises the whole page with BeautifulSoup (to add alt text and
    tab stops): the figures' thousands of SVG elements were most of that, and none needs either.
    """
    figures: list[str] = []

    def stash(m: re.Match[str]) -> str:
        figures.append(m.group(0))
        return f"<!--{mark}:{len(figures) - 1}-->"

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html:
                text = "".join(html) if isinstance(html, list) else html
                out["data"]["text/html"] = _FIGURE.sub(stash, text)
    return figures


