"""Exporting an executed notebook to the report page (scalekit.render.export)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat

from scalekit.render.export import export_html
from scalekit.report.svg import figure_html, tooltips


def test_figures_reach_the_page_byte_for_byte(tmp_path):
    """nbconvert re-serialises the page through BeautifulSoup; the figures skip that pass and arrive exactly as written
    (viewBox keeps its case, tooltips their text), between the other outputs, which still get nbconvert's handling."""
    fig, ax = plt.subplots()
    sc = ax.scatter([1, 2], [3, 4])
    tooltips(fig, sc, ["run <a>", "run b"])
    fig.set_label("two points")
    svg = figure_html(fig)
    plt.close(fig)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/html": "<p>before</p>" + svg + "<img src='x.png'>"}),
                    nbformat.v4.new_output("display_data", {"text/html": svg})]
    # a user's own markdown that looks like a figure marker stays what it is
    nb.cells = [cell, nbformat.v4.new_markdown_cell("<!--sk-figure:7--> text <!--sk-figure-0:0-->")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    page = export_html(path)
    assert page.count(svg) == 2 and "viewBox=" in svg and "<title>run &lt;a&gt;</title>" in svg
    assert "<!--sk-figure:7--> text <!--sk-figure-0:0-->" in page  # the user's look-alike markers stay as they are
    assert page.count("<!--sk-figure") == 2
    assert "<p>before</p>" in page and 'alt="No description has been provided for this image"' in page  # still nbconvert's
