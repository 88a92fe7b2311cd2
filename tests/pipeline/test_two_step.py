"""The `two_step` config key, scalekit.analyze's two_step field and summary.json's `two_step` section."""

from __future__ import annotations

import json

import pytest

import scalekit
from scalekit import ConfigError
from scalekit.pipeline.summary import Summary

from ..laws.test_two_step import ladder


def _batch(two_step):
    df = ladder(0, ckpts=8).drop(columns="task_err")
    return scalekit.load_batch(df, two_step=two_step, metrics=[{"name": "task_bpb", "direction": "min"},
                                                               {"name": "task_acc", "direction": "max", "bound": 1}])


@pytest.mark.parametrize("bad, where", [
    ("task_bpb", "two_step"),
    ([{"target": "task_acc"}], "two_step[0].intermediate"),
    ([{"intermediate": "task_bpb", "target": "task_acc", "step2": "linear"}], "two_step[0].step2"),
    ([{"intermediate": "task_bpb", "target": "task_acc", "colour": 1}], "two_step[0]"),
    ([{"intermediate": "task_bpb", "target": "task_acc", "at": [{"N": -1, "D": 1e9}]}], "two_step[0].at"),
])
def test_config_key_is_validated_with_one_message(bad, where):
    with pytest.raises(ConfigError) as e:
        scalekit.load_batch(ladder(0, ckpts=4), two_step=bad)
    assert where in str(e.value)


def test_analyze_fits_the_declared_pair_and_summary_has_the_section():
    b = _batch([{"intermediate": "task_bpb", "target": "task_acc", "at": [{"N": 2e9, "D": 1e11}]}])
    assert b.config.two_step[0]["step2"] == "sigmoid"
    an = scalekit.analyze(b, n_boot=20, checks=False)
    assert list(an.two_step) == ["task_bpb->task_acc"]
    s = json.loads(json.dumps(an.summary(), allow_nan=False))
    e = s["two_step"]["task_bpb->task_acc"]
    assert e["intermediate"] == "task_bpb" and e["target"] == "task_acc" and e["error"] is None
    assert set(e["step1"]["params"]) == {"E", "A", "B", "alpha", "beta"} and e["step2"]["map"] == "sigmoid"
    p = e["predictions"][0]
    assert p["where"] == "declared" and p["N"] == 2e9 and p["lo"] <= p["value"] <= p["hi"]
    assert set(p["extrapolation"]) >= {"N", "D", "C", "intermediate"}
    assert len(e["predictions"]) >= 2  # and at the intermediate's compute-optimal point(s)
    assert Summary.from_dict(s).raw["two_step"] == s["two_step"]  # the typed loader still reads it
    from scalekit.report.sections import two_step_html

    html = two_step_html(an.two_step).html
    assert "task_bpb" in html and "95% prediction interval" in html


def test_no_declaration_no_section_and_a_bad_column_is_an_entry_error():
    an = scalekit.analyze(_batch(None), n_boot=10, checks=False)
    assert an.two_step == {} and "two_step" not in an.summary()
    bad = scalekit.analyze(_batch([{"intermediate": "nope", "target": "task_acc"}]), n_boot=10, checks=False)
    assert "nope" in bad.summary()["two_step"]["nope->task_acc"]["error"]
