"""Hyperparameters at scale through analyze(): the summary.json block (schema, one bootstrap count, the same numbers
as the analysis and the page), the bracketing warning, and the StepLaw MoE sweep end to end."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.pipeline.summary import schema
from scalekit.report import sections as sec

from ..analyses.test_hparam_laws import TRUTH, sweep
from ..conftest import shared_file

VALIDATOR = jsonschema.Draft202012Validator(schema())


def batch_of(frame: pd.DataFrame) -> scalekit.Batch:
    return scalekit.load_batch(frame.rename(columns={"N": "params", "D": "tokens"}), name="sweep",
                               hparams=["lr", "batch_size"])


@pytest.fixture(scope="module")
def analysed():
    return scalekit.analyze(batch_of(sweep()), n_boot=20, n_boot_optimal=60, seq_len=2048, hparam_N=[3e9],
                            hparam_D=[1e11], checks=True)


def test_the_block_follows_the_schema_and_states_the_analysis_numbers(analysed):
    s = json.loads(json.dumps(analysed.summary(), allow_nan=False))
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:120]}" for e in VALIDATOR.iter_errors(s)] == []
    h = s["hyperparameters"]["loss"]
    hp = analysed.hyperparameters["loss"]
    assert h["n_boot"] == 60 and h["cells"] == 9 and h["seq_len"] == 2048
    assert h["laws"]["bowls"]["lr"]["ci"]["D_exp"] == list(hp.laws.lr.ci["b"])
    assert h["laws"]["surface"]["ci"]["b_B"] == list(hp.laws.surface.fit.ci["b_B"])
    asked = next(a for a in h["answers"] if a["label"] == "asked")
    assert asked["N"] == 3e9 and asked["extrapolation"]["N"] == pytest.approx(3.0)
    truth = TRUTH["c_lr"] * 3e9 ** TRUTH["a_lr"] * 1e11 ** TRUTH["b_lr"]
    for est in ("bowls", "near", "surface"):
        lo, hi = asked["lr"][est]["ci"]
        assert lo <= truth <= hi, est
    assert asked["batch_sequences"]["bowls"]["value"] == pytest.approx(asked["batch_tokens"]["bowls"]["value"] / 2048)
    # the budgets' optima are answered too, before the asked point
    assert [a["label"] for a in h["answers"]][-1] == "asked" and len(h["answers"]) >= 2


def test_the_page_shows_the_numbers_of_the_file(analysed):
    from scalekit.report.format import fmt_ci

    hp = analysed.hyperparameters["loss"]
    html = sec.hparams_answers_html(hp).html + sec.hparams_details_html(hp).html
    a = hp.answers[-1]
    v, ci = a.lr["bowls"]
    assert fmt_ci(v, ci) in html
    assert f"{hp.laws.n_boot} bootstrap resamples" in html


def test_a_grid_that_misses_the_optimum_is_a_warning_finding():
    f = sweep(lr_grid=np.geomspace(1e-2, 1e-1, 6))
    an = scalekit.analyze(batch_of(f), n_boot=0, n_boot_optimal=0)
    hits = [x for x in an.findings if x.check == "hparams" and "bracket" in x.title]
    assert len(hits) == 1 and hits[0].severity == "warning" and len(hits[0].evidence["cells"]) == 9


def test_steplaw_moe_summary_end_to_end():
    b = scalekit.load_batch(shared_file("steplaw_moe", "steplaw_moe.csv"))
    an = scalekit.analyze(b, n_boot=20, n_boot_optimal=40, seq_len=2048)
    s = json.loads(json.dumps(an.summary(), allow_nan=False))
    assert list(VALIDATOR.iter_errors(s)) == []
    h = s["hyperparameters"]["smooth_loss"]
    assert h["runs"] == 708 and h["cells"] == 16 and h["unbracketed"] == []
    # the published dense law's data exponent for B* (0.571) lies inside the surface's interval on these MoE cells
    lo, hi = h["laws"]["surface"]["batch"]["ci"]["D_exp"]
    assert lo <= 0.571 <= hi
