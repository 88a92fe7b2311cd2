"""Every section shows the law the report uses (chosen or pinned) first; the additive fit only as a labelled comparison."""

from __future__ import annotations

import html
import json
import re

import pytest

from scalekit.examples import write_examples
from scalekit.report.format import fmt_ci

from ..helpers import scalekit_cli


def _text(fragment: str) -> str:
    t = re.sub(r"<svg.*?</svg>|<style.*?</style>|<script.*?</script>", "", fragment, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", t)))


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<h2 id=", start + 1)
    return page[start:end]


@pytest.mark.slow
def test_a_pinned_kaplan_law_is_the_law_of_every_section_and_the_index(tmp_path):
    data = write_examples(tmp_path / "ex")
    perception = next(p for p in data if p.stem == "perception")
    out = tmp_path / "site"
    scalekit_cli("report", str(perception), "--out", str(out), "--n-boot", "20", "--set", "form=kaplan", "--jobs", "1",
                 "--quiet")
    summary = json.loads((out / "perception-v1" / "summary.json").read_text())
    fit = summary["fits"]["map"]
    assert fit["form"] == "kaplan" and "additive" in fit
    additive_alpha = fmt_ci(fit["additive"]["params"]["alpha"], fit["additive"]["ci"]["alpha"])
    page = (out / "perception-v1" / "report.html").read_text()

    law = _text(_section(page, "Fitted-performance-law"))
    assert re.search(r"95% hi (\S+)", law).group(1) == "N_c"  # the first parameter table is the pinned law's
    comparison = law.index("For comparison only: the additive law")
    assert law.index("N_c") < comparison < law.index("alpha 0.")  # the additive law after it, labelled

    findings = _text(_section(page, "Key-findings"))
    assert findings.index("kaplan N_c") < findings.index("additive (comparison only)")

    index = _text((out / "index.html").read_text())
    row = index[index.index("perception v1 summary.json"):index.index("perception v2 summary.json")]
    assert "kaplan: N_c = " in row
    assert additive_alpha not in row  # the additive law's alpha is no longer shown as the batch's law
