"""The comparison page's versions section: numbers in the report's one format, user strings escaped."""

from __future__ import annotations

import re

import scalekit
from scalekit.analyses.versions import compare_versions
from scalekit.examples import example_source
from scalekit.pipeline.summary import Summary
from scalekit.report.versions import versions_html


def test_versions_section_uses_the_one_formatter_and_escapes_names():
    frame, cfg = example_source("perception")
    frame = frame.assign(version=frame["version"].replace({"v2": "v2<b>x</b>"}))
    vc = compare_versions(scalekit.load_batch(frame, **cfg), form="kaplan", n_boot=30)
    s = Summary.from_dict({"schema_version": 1, "batch": {"name": "p", "slug": "p", "runs": 1, "rows": 1,
                                                          "ranges": {"C": [1.0, 2.0]}},
                           "versions": {"map": vc.summary()}})
    html = versions_html([s]).html
    assert "<b>x</b>" not in html and "v2&lt;b&gt;x&lt;/b&gt;" in html
    assert not re.search(r"\de[+-]\d", html)  # no Python float reprs such as 8.87e+14
    assert "FLOP" in html and "×" in html and "1.69×" in html
