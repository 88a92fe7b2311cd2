"""What the browser tests share: Debian's headless Chromium, launched once per module, and where screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"


def missing(why: str) -> None:
    """Skip a test whose system package is absent; in CI (``CI`` set) fail, so the browser tests always run there."""
    if os.environ.get("CI"):
        pytest.fail(why + "; CI must run the browser tests")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        missing("Debian's chromium is not installed (bash .ci/install-system-deps installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def block_outside(page: Any) -> list[str]:
    """Let only file: and data: URLs load on ``page``; returns the list every other request is aborted into."""
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return outside
