"""analyze(): options reach every analysis; optional sections appear only when asked for."""

from __future__ import annotations

import json

import pytest

import scalekit
from scalekit.analyses.inference import inference_optimal

from ..helpers import synthetic_frame


@pytest.fixture(scope="module")
def batch():
    return scalekit.load_batch(synthetic_frame(noise=0.004, seed=3))


def test_inference_section_only_when_asked_and_equal_to_the_library(batch):
    plain = scalekit.analyze(batch, n_boot=60)
    assert "inference" not in plain.summary() and all(not m.inference for m in plain.metrics.values())
    an = scalekit.analyze(batch, n_boot=60, inference_tokens=[1e11, 1e13], budgets=[1e20])
    ma = an.metrics["loss"]
    at_target = [r for r in ma.inference if r.budget is None]
    direct = inference_optimal(ma.fit, target=ma.target.value, inference_tokens=[1e11, 1e13], k=6.0)
    assert [r.N for r in at_target] == [r.N for r in direct]
    assert at_target[1].N < at_target[0].N < ma.target.N  # more demand: a smaller model, trained longer
    s = json.loads(json.dumps(an.summary(), allow_nan=False))["inference"]["loss"]
    assert len(s["at_target"]) == 2 and len(s["at_budgets"]) == 2 and s["inference_tokens"] == [1e11, 1e13]
    assert s["at_target"][1]["saving"] > s["at_target"][0]["saving"] > 0
    assert len(s["cost_curve"]["total_flops"]) == 3  # demands 0, 1e11, 1e13


def test_unreachable_target_is_said_not_raised(batch):
    an = scalekit.analyze(batch, n_boot=0, inference_tokens=[1e12], target=0.6)
    assert an.metrics["loss"].inference_note and "floor" in an.summary()["inference"]["loss"]["note"]
