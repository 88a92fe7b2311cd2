"""Reports read at a glance, checked in real headless Chromium: the bottom line first and equal to summary.json,
extrapolation labels where the numbers say so, links that resolve, CSVs that parse, axe-core clean, no sideways
scroll at 420 px, dark mode and print styles. Screenshots at 1280 and 420 px, light and dark, go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from scalekit.report.format import params

from ..conftest import ROOT
from .conftest import ARTIFACTS, block_outside, missing

pytestmark = [pytest.mark.slow, pytest.mark.browser]
AXE = ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {"index": "index.html", "behavior": "behavior/report.html", "perception-v1": "perception-v1/report.html",
         "perception-v2": "perception-v2/report.html", "compare": "compare.html"}


def open_page(browser, path: Path, width: int = 1280, scheme: str = "light", shot: str | None = None):
    """The page in a fresh tab with every request off this machine blocked; a full-page screenshot if ``shot``."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme)
    outside = block_outside(page)
    page.goto(path.as_uri(), wait_until="load")
    if shot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    assert outside == []
    return page


def summary(site: Path, slug: str) -> dict:
    return json.loads((site / slug / "summary.json").read_text())


@pytest.mark.parametrize("width", [1280, 420])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_and_no_sideways_scroll(browser, example_site, width, scheme):
    for name, rel in PAGES.items():
        page = open_page(browser, example_site / rel, width, scheme, shot=f"{name}-{width}-{scheme}.png")
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner + 1, (name, width, scroll, inner)  # tables scroll in their own box, the page does not
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        rgb = [int(x) for x in re.findall(r"\d+", bg)[:3]]
        assert (sum(rgb) < 150) == (scheme == "dark"), (name, scheme, bg)  # prefers-color-scheme is honoured
        page.close()


def test_bottom_line_first_and_equal_to_summary(browser, example_site):
    for slug in ("behavior", "perception-v1", "perception-v2"):
        s = summary(example_site, slug)
        page = open_page(browser, example_site / slug / "report.html")
        headings = page.eval_on_selector_all("main h2", "els => els.map(e => e.textContent.replace('¶', '').trim())")
        assert headings[0] == "Bottom line", headings
        top = page.evaluate("document.querySelector('.sk-bottom-line').getBoundingClientRect().top + window.scrollY")
        assert top < 400, top  # the answer is on the first screen, not 5,000 px down
        assert set(page.eval_on_selector_all(".sk-bottom", "els => els.map(e => e.dataset.metric)")) == set(s["bottom_line"])
        for metric, bl in s["bottom_line"].items():
            sec = page.locator(f'.sk-bottom[data-metric="{metric}"]')
            shown = sec.locator(".sk-optimum").evaluate_all("els => els.map(e => [+e.dataset.c, +e.dataset.n, +e.dataset.d])")
            want = [[o["C"], o["N"], o["D"]] for o in bl["optimum"]]
            assert len(shown) == len(want) >= 1
            for got, exp in zip(shown, want):
                assert got == pytest.approx(exp, rel=1e-5)
            text = sec.inner_text()
            for o in bl["optimum"]:
                assert f"N = {params(o['N'])}" in text  # the number the reader sees is summary.json's, formatted once
            assert bl["caveat"] and "Caveat:" in text
            assert sec.locator("table tbody tr").count() == len(bl["costs"])
        page.close()


def _expected_labels(bl: dict) -> int:
    limit = bl["extrapolation_factor"]
    points = [o["extrapolation"] for o in bl["optimum"]] + [c["extrapolation"] for c in bl["costs"] if c["reachable"]]
    return sum(1 for d in points if max(v for v in d.values() if v is not None) > limit)


def test_extrapolation_labels_where_expected(browser, example_site):
    total = 0
    for slug in ("behavior", "perception-v1", "perception-v2"):
        s = summary(example_site, slug)
        page = open_page(browser, example_site / slug / "report.html")
        for metric, bl in s["bottom_line"].items():
            text = page.locator(f'.sk-bottom[data-metric="{metric}"]').inner_text()
            n = _expected_labels(bl)
            assert text.count("extrapolation:") == n, (slug, metric, n, text)
            total += n
        # predictions and targets further down carry their distance too
        for p in (x for v in s["predictions"].values() for x in v):
            assert set(p["extrapolation"]) == {"N", "D", "C"}
        assert page.locator("text=beyond the trained range").count() >= 1
        page.close()
    assert total >= 2  # the examples ask for budgets and targets past their runs: the labels must show


def _links(page) -> list[str]:
    return page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")


def test_every_link_resolves_and_every_csv_parses(browser, example_site):
    n_csv = 0
    for rel in PAGES.values():
        path = example_site / rel
        page = open_page(browser, path)
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in _links(page):
            if href.startswith("data:text/csv"):
                rows = list(csv.reader(io.StringIO(unquote(href.split(",", 1)[1]))))
                assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), href[:80]
                n_csv += 1
                continue
            u = urlparse(href)
            assert u.scheme in ("", "file"), href  # nothing from elsewhere
            if not u.path:
                assert u.fragment in ids, (rel, href)
                continue
            target = (path.parent / unquote(u.path)).resolve()
            assert target.is_file(), (rel, href)
            if u.fragment and target.suffix == ".html":
                assert f'id="{u.fragment}"' in target.read_text(), (rel, href)
        page.close()
    assert n_csv >= 10
    # each report links the index, the comparison, its summary.json and its notebook
    page = open_page(browser, example_site / "behavior" / "report.html")
    assert {"../index.html", "../compare.html", "summary.json", "report.ipynb"} <= set(_links(page))
    assert page.locator(".sk-reproduce pre code").inner_text().startswith("scalekit report")
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violations(browser, example_site, scheme):
    if not AXE.is_file():
        missing("axe-core is not installed (bash .ci/install-system-deps installs it)")
    for name, rel in PAGES.items():
        page = open_page(browser, example_site / rel, 1280, scheme)
        page.add_script_tag(path=str(AXE))
        res = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                            ".map(v => ({id: v.id, impact: v.impact, help: v.help, n: v.nodes.length,"
                            " target: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
        bad = [v for v in res if v["impact"] in ("serious", "critical")]
        assert bad == [], (name, scheme, bad)
        page.close()


def test_figures_have_tooltips_alt_text_and_no_python_reprs(browser, example_site):
    s = summary(example_site, "behavior")
    page = open_page(browser, example_site / "behavior" / "report.html")
    alts = page.eval_on_selector_all(
        "figure.sk-figure svg", "els => els.map(s => document.getElementById(s.getAttribute('aria-labelledby')).textContent)")
    assert len(alts) >= 10 and all(len(a) > 60 and "No description" not in a for a in alts)
    tips = page.eval_on_selector_all("figure.sk-figure svg g > title", "els => els.map(e => e.textContent)")
    runs = {t.split(":")[0][4:] for t in tips if t.startswith("run ")}
    assert len(runs) >= s["batch"]["runs"]  # every run's marker carries its tooltip
    text = page.inner_text("main")
    assert not re.search(r"\d(\.\d+)?e[+-]\d+", text), re.search(r".{30}\d(\.\d+)?e[+-]\d+.{10}", text)
    assert not re.search(r"\b(True|False|None|nan)\b", text)
    assert "FLOP" in text
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.getElementById('sk-toc')).display") == "none"
    page.close()


def test_index_shows_each_bottom_line(browser, example_site):
    page = open_page(browser, example_site / "index.html")
    for slug in ("behavior", "perception-v1", "perception-v2"):
        s = summary(example_site, slug)
        card = page.locator(f"#batch-{slug}")
        text = card.inner_text()
        for metric, bl in s["bottom_line"].items():
            assert metric in text and f"N {params(bl['optimum'][0]['N'])}" in text
    page.close()
