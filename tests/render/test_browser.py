"""The rendered site in real headless Chromium (Debian's package), with all outside network blocked."""

from __future__ import annotations

import shutil

import pytest

from ..conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (bash .ci/install-system-deps installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def visit(browser, url: str, shot: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console, failed, outside, dialogs = [], [], [], []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
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
