"""The rendered site in real headless Chromium (Debian's package), with all outside network blocked."""

from __future__ import annotations

import pytest

from .conftest import ARTIFACTS, block_outside

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def visit(browser, url: str, shot: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console, failed, dialogs = [], [], []
    outside = block_outside(page)
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return page, console, failed, outside, dialogs


def test_index_in_browser(browser, example_site):
    page, console, failed, outside, dialogs = visit(browser, (example_site / "index.html").as_uri(), "index.png")
    assert console == [] and failed == [] and outside == [] and dialogs == []
    links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert "behavior/report.html" in links and "compare.html" in links
    assert page.locator("h2", has_text="Batches compared").count() == 1
    page.close()


def test_report_in_browser(browser, example_site):
    page, console, failed, outside, dialogs = visit(browser, (example_site / "behavior" / "report.html").as_uri(), "report-behavior.png")
    assert console == [] and failed == [] and outside == [] and dialogs == []
    n_figures = page.evaluate("document.querySelectorAll('figure.sk-figure svg').length")
    assert n_figures >= 10
    # every figure drawn: a non-empty box on the page
    assert page.evaluate("Array.from(document.querySelectorAll('figure.sk-figure svg')).every(s => s.getBoundingClientRect().height > 50)")
    assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0  # no code (markdown cells use .jp-InputArea too)
    assert page.locator(".jp-MarkdownCell").count() >= 8
    body = page.inner_text("body")
    assert "import scalekit" not in body and "validate_parameters" not in body
    headings = page.eval_on_selector_all("main h2", "els => els.map(e => e.textContent.replace('¶', '').trim())")
    for h in ("Key findings", "The batch at a glance", "Fitted performance law", "Compute-optimal model and data size",
              "Limitation checks", "How it was fitted"):
        assert h in headings, (h, headings)
    toc = page.eval_on_selector_all("#sk-toc a", "els => els.map(e => e.getAttribute('href'))")
    assert len(toc) >= 8
    for t in toc:  # every entry points at exactly one heading
        assert page.evaluate("id => document.querySelectorAll(`[id=\"${CSS.escape(id)}\"]`).length", t[1:]) == 1, t
    page.close()


def test_compare_page_in_browser(browser, example_site):
    page, console, failed, outside, _ = visit(browser, (example_site / "compare.html").as_uri(), "compare.png")
    assert console == [] and failed == [] and outside == []
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert "Exponents side by side" in page.inner_text("body")
    page.close()


# --- every entry point with hostile names, in Chromium with a dialog listener (issue 13) ----------------------------
EVIL = {
    "metric_header": "<img src=x onerror=alert(1)>_loss",
    "metric_3rows": "<script>alert(2)</script>_loss",
    "run": "<img src=x onerror=alert(3)>r",
    "version": "<svg onload=alert(4)>",
    "version2": 'v2"><script>alert(5)</script>',
    "group": "<b onmouseover=alert(6)>g",
    "column": "<iframe src=javascript:alert(7)>",
    "batch": "<script>alert(8)</script>",
    "failing_column": "<img src=x onerror=alert(9)>",
    "dollar_metric": "a$_{b$_loss",  # two dollars: mathtext would parse (and fail on) the text between them
}


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory):
    import numpy as np
    import pandas as pd
    import yaml

    from ..helpers import scalekit_cli, small_batch

    root = tmp_path_factory.mktemp("evil")
    data = root / "data"
    # a constant tokens column: the fit fails ("D takes a single value") and the runs form no grid
    p = small_batch(data, "const_tokens", metric=EVIL["metric_header"])
    df = pd.read_csv(p).assign(tokens=1e9)
    df.to_csv(p, index=False)
    # three rows: too few points for the law
    p = small_batch(data, "three", metric=EVIL["metric_3rows"])
    pd.read_csv(p).iloc[[0, 7, 19]].to_csv(p, index=False)
    # every other user string at once, and a metric with dollars
    p = small_batch(data, "names", metric=EVIL["dollar_metric"], run_names=[f"{EVIL['run']}{i}" for i in range(20)])
    df = pd.read_csv(p)
    df = pd.concat([df.assign(version=EVIL["version"]), df.assign(version=EVIL["version2"])])
    df[EVIL["column"]] = np.arange(len(df))
    df["group"] = EVIL["group"]
    df.to_csv(p, index=False)
    p.with_suffix(".yaml").write_text(yaml.safe_dump({"name": EVIL["batch"], "ignore": [EVIL["column"]]}))
    # a batch that fails to load, with an error message quoting a hostile column name
    p = small_batch(data, "broken")
    df = pd.read_csv(p).rename(columns={"params": EVIL["failing_column"]})
    df.to_csv(p, index=False)
    out = root / "site"
    proc = scalekit_cli("report", str(data), "--out", str(out), "--jobs", "2", "--n-boot", "20",
                        "--set", "n_boot_optimal=10", "--set", "thresholds.n_boot_checks=5", check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]  # only 'broken' fails
    return out


def _pages(out):
    pages = [out / "index.html", out / "compare.html"]
    pages += sorted(out.glob("*/report.html")) + sorted(out.glob("*/failed.html"))
    return pages


def test_hostile_names_fire_nothing_on_any_page(browser, evil_site):
    pages = _pages(evil_site)
    assert len(list(evil_site.glob("*/report.html"))) == 4 and len(list(evil_site.glob("*/failed.html"))) == 1, pages
    seen_text = ""
    for i, path in enumerate(pages):
        page, console, failed, outside, dialogs = visit(browser, path.as_uri(), f"evil-{i}.png")
        assert dialogs == [], (path, dialogs)
        assert console == [] and failed == [] and outside == [], (path, console, failed, outside)
        # no element came from a name: no handler attributes, no frames, no script that calls alert
        assert page.evaluate("document.querySelectorAll('[onerror], [onload], [onmouseover], iframe').length") == 0, path
        assert page.evaluate("Array.from(document.scripts).filter(s => s.textContent.includes('alert(')).length") == 0, path
        seen_text += page.inner_text("body")
        page.close()
    # the names are shown as text, not dropped
    for key in ("metric_header", "metric_3rows", "batch", "failing_column", "dollar_metric"):
        assert EVIL[key] in seen_text, key


def test_failure_branches_were_exercised(evil_site):
    """The escaped notes of the failure branches are on the pages the browser visited."""
    texts = {p.parent.name: p.read_text() for p in evil_site.glob("*/report.html")}
    const = next(t for s, t in texts.items() if s.startswith("const"))
    assert "The law could not be fitted" in const and "do not form a grid" in const
    three = next(t for s, t in texts.items() if s.startswith("three"))
    assert "The law could not be fitted" in three and "3 usable points" in three
    names = [t for s, t in texts.items() if "alert-8" in s or "script" in s]
    assert len(names) == 2 and all(t.count("data:image/png;base64") >= 5 for t in names)  # the $ metric drew its figures
