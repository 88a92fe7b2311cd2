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


def test_a_pinned_form_without_an_inference_optimum_skips_it_with_the_reason(batch):
    """kaplan has no inference-aware optimum: the analysis goes on and says why (it used to raise FitError)."""
    an = scalekit.analyze(batch, form="kaplan", n_boot=10, n_boot_optimal=5, inference_tokens=[1e12])
    ma = an.metrics["loss"]
    assert ma.law.form.name == "kaplan" and not ma.inference
    assert "kaplan" in ma.inference_note and "left out" in ma.inference_note
    s = json.loads(json.dumps(an.summary(), allow_nan=False))
    assert s["inference"]["loss"]["note"] == ma.inference_note and s["inference"]["loss"]["at_target"] == []
    additive = scalekit.analyze(batch, form="two_var", n_boot=10, n_boot_optimal=5, inference_tokens=[1e12])
    assert additive.metrics["loss"].inference and additive.metrics["loss"].inference_note is None


def test_findings_about_the_runs_do_not_depend_on_the_form_pinned():
    """Pinning kaplan on the behavior example made not_converged disappear: the run checks read the additive law always."""
    from scalekit.examples import example_source

    df, cfg = example_source("behavior")
    b = scalekit.load_batch(df, **cfg)
    runs = ("not_converged", "overfitting", "excluded_runs", "non_monotonic")

    def about_runs(form):
        an = scalekit.analyze(b, form=form, n_boot=10, n_boot_optimal=5)
        assert all(ma.law.form.name == (form if form != "auto" else ma.law.form.name) for ma in an.metrics.values())
        return sorted((f.check, f.metric, f.message) for f in an.findings if f.check in runs)

    auto = about_runs("auto")
    assert any(c == "not_converged" for c, _, _ in auto)
    assert about_runs("kaplan") == auto
