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


def curve_sweep(seed: int = 0) -> pd.DataFrame:
    """Runs with in-training curves: per cell a learning-rate x batch-size grid; the steps to any loss follow
    McCandlish's S = S_min (1 + B_noise / B) with B_noise = 8 D^0.5 tokens."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in (1e8, 3e8, 1e9):
        for D in (2e9, 8e9):
            B_noise = 8.0 * D ** 0.5
            S_min = 0.2 * D / B_noise
            lr_opt = TRUTH["c_lr"] * N ** TRUTH["a_lr"] * D ** TRUTH["b_lr"]
            for lr in lr_opt * np.array([0.25, 0.5, 1.0, 2.0, 4.0]):
                for B in 2.0 ** np.arange(15, 22):
                    final = D / B
                    steps = np.geomspace(final / 30, final, 20)
                    p = steps / (S_min * (1 + B_noise / B))
                    x = np.log(lr / lr_opt)
                    loss = (1.8 + 400 / N ** 0.34) * (1 + 0.3 * p ** -0.5) * (1 + 0.004 * x * x)
                    loss = loss * np.exp(0.0003 * rng.standard_normal(steps.size))
                    run = f"N{N:.0e}-D{D:.0e}-lr{lr:.3g}-B{int(B)}"
                    rows += [{"run": run, "params": N, "tokens": s * B, "step": s, "lr": lr, "batch_size": B, "loss": v}
                             for s, v in zip(steps, loss)]
    return pd.DataFrame(rows)


def test_curves_at_several_batch_sizes_give_the_critical_batch_in_the_report():
    from scalekit.report import figures as plots

    b = scalekit.load_batch(curve_sweep(), name="curves", hparams=["lr", "batch_size"])
    an = scalekit.analyze(b, n_boot=0, n_boot_optimal=50, checks=False)
    hp = an.hyperparameters["loss"]
    crit = hp.critical
    assert crit is not None and len(crit.cells) == 6, hp.critical_note
    for c in crit.cells:
        assert c.B_crit == pytest.approx(8.0 * c.D ** 0.5, rel=0.1)
    assert abs(crit.trend.params["b"] - 0.5) <= 0.05
    s = json.loads(json.dumps(an.summary(), allow_nan=False))
    assert list(VALIDATOR.iter_errors(s)) == []
    block = s["hyperparameters"]["loss"]["critical_batch"]
    assert [c["B_crit"] for c in block["cells"]] == [c.B_crit for c in crit.cells]
    assert "Critical batch per cell" in sec.hparams_details_html(hp).html
    assert plots.critical_batch_figure(crit).axes


def test_cells_with_fewer_than_three_learning_rates_give_no_section():
    an = scalekit.analyze(batch_of(sweep(lr_grid=np.array([1e-3, 2e-3]))), n_boot=0, n_boot_optimal=0, checks=False)
    assert an.hyperparameters == {} and "hyperparameters" not in an.summary()


def test_the_sweep_finding_and_summary_json_state_one_interval():
    """The best value's trend in N: the finding's interval is summary.json's (one bootstrap count, one seed)."""
    an = scalekit.analyze(batch_of(sweep()), n_boot=0, n_boot_optimal=37, seed=3)
    s = an.summary()
    found = [f for f in s["findings"] if f["check"] == "hparams" and "moves with model size" in f["title"]]
    assert found
    for f in found:
        h = f["evidence"]["hparam"]
        assert f["evidence"]["k_ci"] == s["hparams"]["loss"]["moves"][h]["k_ci"]


@pytest.mark.parametrize("shape", ["lr only", "one D"])
def test_a_learning_rate_only_sweep_and_a_single_data_size_give_the_section(shape):
    from scalekit.report import figures as plots

    f = sweep(B_grid=np.array([2.0 ** 18])) if shape == "lr only" else sweep()
    if shape == "one D":
        f = f[f["D"] == 8e9]
    hp_cols = ["lr"] if shape == "lr only" else ["lr", "batch_size"]
    b = scalekit.load_batch(f.rename(columns={"N": "params", "D": "tokens"}), name="sweep", hparams=hp_cols,
                            ignore=["batch_size"] if shape == "lr only" else [])
    an = scalekit.analyze(b, n_boot=0, n_boot_optimal=30, checks=False, hparam_N=[3e9], hparam_D=[8e9])
    hp = an.hyperparameters["loss"]
    s = json.loads(json.dumps(an.summary(), allow_nan=False))
    assert list(VALIDATOR.iter_errors(s)) == []
    truth_a = TRUTH["a_lr"]
    assert abs(hp.laws.lr.fit.params["a"] - truth_a) <= 0.05
    assert abs(hp.laws.surface.fit.params["a_lr"] - truth_a) <= 0.05
    assert (hp.laws.B is None) == (shape == "lr only")
    html = sec.hparams_answers_html(hp).html + sec.hparams_details_html(hp).html
    assert "lr* [95%]" in html
    assert plots.hparam_bowls_figure(hp, b).axes and plots.hparam_trend_figure(hp).axes
