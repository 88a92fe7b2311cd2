"""The backtests (scalekit.analyses): held-out transfer through a loss-to-loss map, and the schedule law's
prediction of a run's end from its first half."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import scalekit
from scalekit.analyses.schedule_backtest import schedule_backtest
from scalekit.analyses.transfer_backtest import transfer_backtest
from scalekit.laws.loss_to_loss import fit_loss_to_loss

from ..conftest import shared_file
from ..laws.test_loss_to_loss import runs_frame
from ..laws.test_schedule_law import wsd_frame


def test_transfer_backtest_on_an_exact_map():
    df = runs_frame(noise=0.0)
    with warnings.catch_warnings():  # the held-out size is beyond the fit by design: no extrapolation warning in reports
        warnings.simplefilter("error", scalekit.ExtrapolationWarning)
        bt = transfer_backtest(df, "a_loss", "b_loss", n_boot=0)
    assert bt.heldout_N == pytest.approx(1e9) and len(bt.runs) == 4
    assert bt.error_map_only < 1e-6 and bt.error_via_map < 1e-6 and bt.error_source_law < 1e-6
    # L_B is not an additive power law in N and D: its own law extrapolates worse than the map does
    assert bt.error_own_law > 0.005
    assert bt.map.ndata == 200  # the held-out size's 40 rows are not fitted
    json.dumps(bt.summary(), allow_nan=False)


def test_backtest_exact_on_the_law():
    df, sch = wsd_frame()
    hot = df[df["run"].str.endswith("/hot")]
    bt = schedule_backtest(scalekit.load_batch(hot), until=0.5, decay=0.999,
                           schedules={r: s for r, s in sch.items() if r.endswith("/hot")})
    assert bt["mean_abs_rel_error"] < 1e-6 < bt["baseline_mean_abs_rel_error"]


OLMO_N = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840}


@pytest.fixture(scope="module")
def olmo() -> scalekit.Batch:
    """OLMo ladder (Bhagia et al. 2024): 16 runs, every in-training eval of C4, Pile and the Dolma Stack (code)."""
    folder = shared_file("olmo_ladder", "ladder-runs")
    frames = []
    for size, N in OLMO_N.items():
        for mult in ("1xC", "2xC", "5xC", "10xC"):
            d = pd.read_csv(folder / f"{size}-{mult}.csv")
            f = pd.DataFrame({"run": f"{size}-{mult}", "step": d["_step"], "params": N, "tokens": d["throughput/total_tokens"]})
            for s in ("c4_en", "pile", "dolma_stack"):
                f[f"loss_{s}"] = d[f"eval/{s}-validation/CrossEntropyLoss"]
            frames.append(f)
    return scalekit.load_batch(pd.concat(frames, ignore_index=True))


@pytest.mark.realdata
def test_olmo_c4_to_pile_transfers_to_the_held_out_size(olmo):
    bt = transfer_backtest(olmo, "loss_c4_en", "loss_pile", n_boot=20)
    assert bt.map.ndata == 1566 - 571  # every eval of the 12 smaller runs
    assert bt.map.rmse < 0.005  # C4 and Pile losses lie on one shifted power law
    assert bt.error_map_only < 0.005  # the map alone predicts 1.3B's Pile loss from its C4 loss
    assert bt.error_via_map < 0.015 and bt.error_own_law < 0.015
    # code is further from C4: the map fits several times worse
    code = fit_loss_to_loss(olmo, "loss_c4_en", "loss_dolma_stack", n_boot=0)
    assert code.rmse > 3 * bt.map.rmse


@pytest.mark.realdata
def test_gadre_c4_to_paloma_c4_on_redpajama_models():
    d = pd.read_csv(shared_file("gadre_overtraining", "gadre_models_flat.csv"))
    d = d[d["dataset_name"] == "rpj"]
    df = pd.DataFrame({"run": d["name"], "params": d["N"], "tokens": d["D"], "loss_c4_val": d["loss_c4_val"],
                       "loss_paloma_c4_en": d["loss_paloma_c4_en"]}).reset_index(drop=True)
    bt = transfer_backtest(df, "loss_c4_val", "loss_paloma_c4_en", n_boot=20)
    assert bt.runs == ("rpj-open_lm_7b-1.0",)
    assert bt.map.rmse < 0.002 and bt.map.params["kappa"] == pytest.approx(1.0, abs=0.1)  # two C4 samples: ~identity
    assert bt.error_map_only < 0.005
    assert bt.error_via_map == pytest.approx(bt.error_source_law, abs=0.005)  # the error is the C4 law's
