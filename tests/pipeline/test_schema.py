"""summary.json against the JSON Schema that ships in the package: the examples, real data and a rendered site."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pandas as pd
import pytest

import scalekit
from scalekit.checks.registry import CHECKS
from scalekit.examples import example_source
from scalekit.pipeline.summary import schema

from ..conftest import ROOT, shared_file

VALIDATOR = jsonschema.Draft202012Validator(schema())


def problems(summary: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in VALIDATOR.iter_errors(summary)]


@pytest.fixture(scope="module")
def example_summaries() -> dict[str, dict]:
    out = {}
    for name in ("behavior", "perception"):
        frame, cfg = example_source(name)
        out[name] = scalekit.analyze(scalekit.load_batch(frame, **cfg), n_boot=30).summary()
    return out


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


def test_example_summaries_follow_the_schema(example_summaries):
    for name, s in example_summaries.items():
        assert problems(json.loads(json.dumps(s, allow_nan=False))) == [], name


def test_a_summary_that_breaks_the_contract_is_caught(example_summaries):
    good = example_summaries["behavior"]
    metric = next(iter(good["fits"]))
    breaks = [
        lambda s: s.pop("schema_version"),
        lambda s: s["fits"][metric].pop("ndata"),
        lambda s: s["fits"][metric]["ci"].update(alpha=[0.1]),
        lambda s: s["findings"].append({**s["findings"][0], "severity": "fatal"}),
        lambda s: s["bottom_line"][metric]["optimum"][0].pop("extrapolation"),
        lambda s: s["batch"]["excluded"].append({"run": "r1"}),
    ]
    for i, brk in enumerate(breaks):
        s = copy.deepcopy(good)
        brk(s)
        assert problems(s), i


def test_finding_checks_in_the_schema_are_the_catalog():
    assert schema()["$defs"]["finding"]["properties"]["check"]["enum"] == [name for name, _ in CHECKS]


def test_readme_describes_every_top_level_field_of_the_schema():
    text = (ROOT / "README.md").read_text()
    section = text.split("## summary.json", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    assert set(schema()["properties"]) - named == set()


def test_real_data_summaries_follow_the_schema():
    chin = pd.read_csv(shared_file("chinchilla_besiroglu", "svg_extracted_data.csv"))
    s = scalekit.analyze(scalekit.load_batch(chin, name="chinchilla"), n_boot=20).summary()
    assert problems(json.loads(json.dumps(s, allow_nan=False))) == []


@pytest.mark.slow
def test_rendered_site_summaries_follow_the_schema(example_site):
    found = sorted(example_site.glob("*/summary.json"))
    assert len(found) >= 3
    for p in found:
        assert problems(json.loads(p.read_text())) == [], p
