"""Approach 2 in the report is the public isoflop() with its default method, named as such, on real IsoFLOP data."""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

import scalekit
from scalekit.analyses import optimal

from ..conftest import shared_file
from ..helpers import scalekit_cli


@pytest.mark.slow
def test_the_report_gives_the_isoflop_exponent_of_the_public_function(tmp_path):
    pts = pd.read_csv(shared_file("porian_isoflop", "porian_isoflop_points.csv"))
    sub = pts[pts["config_id"] == "rw|tuned|short|const|standard|val"]
    f = tmp_path / "porian.csv"
    sub.rename(columns={"n": "params", "t": "tokens"})[["params", "tokens", "flops", "loss"]].to_csv(f, index=False)
    out = tmp_path / "site"
    scalekit_cli("report", str(f), "--out", str(out), "--n-boot", "20", "--set", "n_boot_optimal=60", "--jobs", "1", "--quiet")
    reported = json.loads((out / "porian" / "summary.json").read_text())["optimal"]["loss"]["isoflop"]
    direct = optimal.isoflop(scalekit.load_batch(f), n_boot=60, seed=0)
    assert reported["method"] == direct.extra["method"] == "akima"
    assert reported["a"] == pytest.approx(direct.a, rel=1e-12) and reported["a_ci"] == pytest.approx(direct.a_ci, rel=1e-12)
    assert reported["noise"] == pytest.approx(direct.extra["noise"]) and "residual scatter" in reported["noise_source"]
    page = (out / "porian" / "report.html").read_text()
    start = page.index('id="Compute-optimal-model-and-data-size"')
    section = html.unescape(re.sub(r"<[^>]+>", " ", page[start:page.find("<h2 id=", start + 1)]))
    assert "Akima" in section and "parabola" not in section.lower()
    assert f"seed noise of {direct.extra['noise']:.2g}" in section
