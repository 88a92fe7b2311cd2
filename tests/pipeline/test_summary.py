"""summary.json: schema_version, and the typed loader the index and the comparison read it through."""

from __future__ import annotations

import json

import pytest

import scalekit
from scalekit.pipeline.summary import SCHEMA_VERSION, Summary, SummaryError, load_summary

from ..helpers import synthetic_frame


@pytest.fixture(scope="module")
def summary() -> dict:
    return scalekit.analyze(scalekit.load_batch(synthetic_frame(noise=0.005), name="syn"), n_boot=50).summary()


def test_schema_version_and_round_trip(tmp_path, summary):
    assert summary["schema_version"] == SCHEMA_VERSION == 1
    p = tmp_path / "summary.json"
    p.write_text(json.dumps(summary))
    s = load_summary(p)
    assert (s.name, s.slug, s.runs) == ("syn", "syn", 36)
    fit = s.fits["loss"]
    assert fit.params == summary["fits"]["loss"]["params"] and fit.ci["alpha"] == tuple(summary["fits"]["loss"]["ci"]["alpha"])
    assert fit.a == summary["optimal"]["loss"]["parametric"]["a"]
    assert s.severity_counts() == {sev: sum(f["severity"] == sev for f in summary["findings"]) for sev in ("critical", "warning", "info")}


@pytest.mark.parametrize("text, said", [("{not json", "is not valid JSON"), ("[1, 2]", "is not a JSON object"),
                                        ('{"batch": {}}', "does not follow the summary.json contract"),
                                        ('{"schema_version": 99, "batch": {}}', "schema_version 99 is newer")])
def test_corrupt_or_foreign_summaries_are_named_errors(tmp_path, text, said):
    p = tmp_path / "summary.json"
    p.write_text(text)
    with pytest.raises(SummaryError, match=said) as e:
        load_summary(p)
    assert str(p) in str(e.value) and isinstance(e.value, scalekit.ScalekitError)


def test_missing_file_is_a_named_error(tmp_path):
    with pytest.raises(SummaryError, match="cannot be read"):
        load_summary(tmp_path / "nope.json")
    assert isinstance(Summary, type)
