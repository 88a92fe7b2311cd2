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


# --- one writer ------------------------------------------------------------------------------------------------
def test_one_writer_builds_the_document_from_blocks():
    """BatchAnalysis.summary() is the writer's output, block by block: every key comes from exactly one block,
    and the answers carry their extrapolation distance from the objects (nothing patched in after serialising)."""
    from scalekit.analyses.extrapolation import trained_range
    from scalekit.pipeline.summary import BLOCKS, batch_summary

    batch = scalekit.load_batch(synthetic_frame(noise=0.005), name="syn", max_params=1e8)
    an = scalekit.analyze(batch, n_boot=30, n_boot_optimal=20, n_boot_backtest=0)
    s = an.summary()
    assert s == batch_summary(an)
    keys = [k for block in BLOCKS for k in block(an)]
    assert len(keys) == len(set(keys)) and set(keys) == set(s)
    rng = trained_range(batch)
    ma = an.metrics["loss"]
    for entry, obj in zip(s["predictions"]["loss"], ma.allocations):
        assert obj.extrapolation == rng.distance(N=obj.N, D=obj.D, C=obj.C)
        assert entry["extrapolation"] == pytest.approx(obj.extrapolation)
    for entry, obj in zip(s["targets"]["loss"], ma.targets):
        assert entry["extrapolation"] == pytest.approx({k: v for k, v in obj.extrapolation.items()})
    assert s["cap"]["loss"]["extrapolation"]["N"] == pytest.approx(rng.distance(N=1e8)["N"])
    assert all("extrapolation" in a for a in s["cap"]["loss"]["allocations"])


def test_the_versions_section_is_analysed_not_patched_in():
    from scalekit.examples import example_source

    frame, cfg = example_source("perception")
    whole = scalekit.load_batch(frame, **cfg)
    an = scalekit.analyze(whole.select_version("v1"), n_boot=20, n_boot_optimal=20, n_boot_backtest=0, versions=whole)
    s = an.summary()
    vc = an.versions["map"]
    assert isinstance(vc, scalekit.VersionComparison) and s["versions"]["map"]["multiplier"] == vc.multiplier
    assert "versions" not in scalekit.analyze(whole.select_version("v1"), n_boot=0, n_boot_optimal=0,
                                              n_boot_backtest=0, checks=False).summary()


def test_no_summary_method_dumps_its_fields_wholesale():
    """Renaming a field must not silently change summary.json: summaries list their fields."""
    from pathlib import Path

    root = Path(scalekit.__file__).parent
    for f in root.rglob("*.py"):
        text = f.read_text()
        assert "self.__dict__" not in text, f
        assert "asdict(self" not in text, f
