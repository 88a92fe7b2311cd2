"""What to train next inside analyze(): the plan per metric, summary.json `plan` (schema and numbers), the option."""

from __future__ import annotations

import json

import jsonschema
import pytest

import scalekit
from scalekit.analyses.plan import plan_runs
from scalekit.options import parse_assignment, resolve_options, split_assignments
from scalekit.pipeline.plan_summary import plan_block
from scalekit.pipeline.planning import MAX_RUNS, plan_allowance
from scalekit.pipeline.summary import schema
from scalekit.report.notebook import validate_parameters

from ..helpers import synthetic_frame


@pytest.fixture(scope="module")
def analysis() -> scalekit.BatchAnalysis:
    return scalekit.analyze(scalekit.load_batch(synthetic_frame(noise=0.005), name="syn"), n_boot=50, form="two_var")


def test_analyze_plans_the_optimum_at_the_largest_budget_within_the_allowance(analysis):
    p = analysis.plans["loss"]
    b = analysis.batch
    total = float(b.frame.groupby("run")["C"].max().sum())
    assert p.allowance == pytest.approx(total)  # plan_allowance defaults to 1x the batch's total compute
    assert p.decision.kind == "optimum" and p.decision.budget == pytest.approx(10 * float(b.frame["C"].max()))
    assert 0 < len(p.runs) <= MAX_RUNS and p.runs[-1].cumulative_flops <= p.allowance
    assert p.width_ratio < 1
    # the same plan as plan_runs on the analysis's law, decision and allowance (no hidden second path)
    again = plan_runs(analysis.metrics["loss"].nd_law, p.decision, p.allowance, min_gain=0.01, max_runs=MAX_RUNS,
                     min_cost=p.allowance / MAX_RUNS)
    assert [(r.N, r.D) for r in again.runs] == [(r.N, r.D) for r in p.runs]


def test_summary_plan_block_follows_the_schema_and_carries_the_plans_numbers(analysis):
    s = json.loads(json.dumps(analysis.summary(), allow_nan=False))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema()).iter_errors(s)]
    assert errors == []
    block, p = s["plan"]["loss"], analysis.plans["loss"]
    assert block["estimate"] == pytest.approx(p.estimate) and block["interval_now"] == pytest.approx(list(p.now))
    assert block["allowance"] == pytest.approx(p.allowance) and block["width_ratio"] == pytest.approx(p.width_ratio)
    got = [v for r in block["runs"] for v in (r["N"], r["D"], r["flops"], r["cumulative_flops"], *r["interval_after"])]
    assert len(block["runs"]) == len(p.runs) > 0
    assert got == pytest.approx([v for r in p.runs for v in (r.N, r.D, r.flops, r.cumulative_flops, r.lo, r.hi)])
    broken = json.loads(json.dumps(s))
    broken["plan"]["loss"]["runs"][0].pop("flops")
    assert list(jsonschema.Draft202012Validator(schema()).iter_errors(broken))


def test_plan_allowance_scales_the_plan_and_zero_turns_it_off(analysis):
    b = analysis.batch
    assert plan_allowance(b, resolve_options({"plan_allowance": 3})) == pytest.approx(3 * plan_allowance(b, resolve_options()))
    with pytest.raises(scalekit.ConfigError, match="plan_allowance"):
        resolve_options({"plan_allowance": -1})
    # settable as every option is: --set on the command line, a notebook parameter
    assert split_assignments([parse_assignment("plan_allowance=2.5")])[0] == {"plan_allowance": 2.5}
    assert validate_parameters({"plan_allowance": 2}).options == {"plan_allowance": 2}
    off = scalekit.analyze(b, n_boot=0, form="two_var", checks=False, plan_allowance=0)
    assert off.plans == {} and off.summary()["plan"] == {} and plan_block({}) == {}
