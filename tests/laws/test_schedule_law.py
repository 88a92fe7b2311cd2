"""The loss-curve law with learning-rate annealing: known parameters recovered, predictions under new schedules,
validation at the door, and the published curves (Gemstones cooldowns, OLMo ladder)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit import ConfigError, FitError
from scalekit.data.schedule import Schedule, parse_schedule
from scalekit.laws.schedule_law import annealing_areas

from ..conftest import shared_file

TRUE = {"L0": 2.2, "A": 25.0, "alpha": 0.5, "C": 2e-4}


def wsd_frame(noise: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Schedule]]:
    """A constant-LR curve and WSD cooldowns from it, per size, from the law with known parameters."""
    rng = np.random.default_rng(seed)
    rows, sch = [], {}
    for N, L0 in ((1e8, TRUE["L0"]), (2e8, 2.0)):
        hot = Schedule("constant")
        lr = hot.lr(np.arange(20001), 20000)
        S1, S2 = annealing_areas(lr)
        for s in range(250, 20001, 250):
            rows.append({"run": f"{N:.0e}/hot", "params": N, "step": s, "tokens": s * 1e6,
                         "loss": (L0 + 25 * S1[s] ** -0.5 - 2e-4 * S2[s]) * np.exp(noise * rng.standard_normal())})
        sch[f"{N:.0e}/hot"] = hot
        for start in (2000, 4000, 6000):
            end = int(start * 1.2)
            s = Schedule("wsd", decay_start=float(start), total=float(end))
            S1, S2 = annealing_areas(s.lr(np.arange(end + 1)))
            rows.append({"run": f"{N:.0e}/cool{start}", "params": N, "step": end, "tokens": end * 1e6,
                         "loss": (L0 + 25 * S1[end] ** -0.5 - 2e-4 * S2[end]) * np.exp(noise * rng.standard_normal())})
            sch[f"{N:.0e}/cool{start}"] = s
    return pd.DataFrame(rows), sch


def test_areas_follow_the_paper():
    # S1 sums the learning rate; S2 sums the momentum of its drops, m_i = lambda m_{i-1} + (eta_{i-1} - eta_i)
    S1, S2 = annealing_areas([1.0, 1.0, 0.6, 0.2, 0.2], decay=0.5)
    assert S1.tolist() == pytest.approx([0.0, 1.0, 1.6, 1.8, 2.0])
    m = [0.0, 0.4, 0.4 * 0.5 + 0.4, (0.4 * 0.5 + 0.4) * 0.5]
    assert S2.tolist() == pytest.approx([0.0, *np.cumsum(m).tolist()])
    _, S2w = annealing_areas([0.0, 0.5, 1.0, 1.0], decay=0.9)  # warmup adds no annealing area
    assert np.all(S2w == 0)


def test_known_parameters_recovered_and_longer_cooldown_predicted():
    df, sch = wsd_frame()
    law = scalekit.fit_schedule_law(scalekit.load_batch(df), schedules=sch, decay=0.999, n_boot=0)
    p = law.laws["1e+08"].params
    for k, v in TRUE.items():
        assert p[k] == pytest.approx(v, rel=1e-4)
    # a cooldown never seen: from step 15000, twice as long
    s = Schedule("wsd", decay_start=15000.0, total=21000.0)
    S1, S2 = annealing_areas(s.lr(np.arange(21001)))
    truth = TRUE["L0"] + 25 * S1[-1] ** -0.5 - 2e-4 * S2[-1]
    assert float(law.predict(s, [21000], size=1e8)[0]) == pytest.approx(truth, rel=1e-5)
    assert law.predict("1e+08/cool2000", [2400])[0] == pytest.approx(df.loc[df["run"] == "1e+08/cool2000", "loss"].iloc[0],
                                                                      rel=1e-6)


def test_decay_chosen_by_leave_one_run_out_with_noise():
    df, sch = wsd_frame(noise=0.002)
    law = scalekit.fit_schedule_law(scalekit.load_batch(df), schedules=sch, n_boot=60)
    c = law.laws["1e+08"]
    assert c.decay in (0.998, 0.999, 0.9995) and c.ci is not None
    # resampling runs leaves the one hot curve's own noise in every draw: the interval is about the cooldowns
    assert c.ci["C"][0] <= c.params["C"] <= c.ci["C"][1]
    assert c.params["alpha"] == pytest.approx(TRUE["alpha"], rel=0.03) and c.params["C"] == pytest.approx(TRUE["C"], rel=0.1)
    s = law.summary()
    assert s["formula"] == "L0 + A*S1^-alpha - C*S2" and {x["size"] for x in s["laws"]} == {"1e+08", "2e+08"}


def test_core_fit_reaches_the_huber_optimum_scipy_reaches():
    # the law's Huber fit on log residuals by the core solver, against scipy's bounded robust least squares
    from scipy.optimize import least_squares

    from scalekit.laws.schedule_law import _log_model, _solve, _starts

    df, sch = wsd_frame(noise=0.004, seed=3)
    df = df[df["params"] == 1e8]
    S1, S2, y = [], [], df["loss"].to_numpy()
    for run, step in zip(df["run"], df["step"]):
        a1, a2 = annealing_areas(sch[run].lr(np.arange(int(step) + 1), sch[run].total or int(step)))
        S1.append(a1[int(step)])
        S2.append(a2[int(step)])
    S1, S2 = np.array(S1), np.array(S2)
    starts = _starts(S1, S2, y, 1e-3, True)
    sol = _solve(S1, S2, y, 1e-3, starts, True)
    S = np.column_stack([S1, S2])

    def res(t):
        return _log_model(t[None], S)[0][0] - np.log(y)

    best = min(least_squares(res, s0, bounds=([0, -50, 1e-3, 0], [np.inf, 50, 5, np.inf]), loss="huber", f_scale=1e-3,
                             x_scale="jac", ftol=1e-14, xtol=1e-14, gtol=1e-14, max_nfev=5000).cost for s0 in starts)
    # scipy's robust cost is f_scale^2 * rho(r^2 / f_scale^2) / 2 summed: Huber's loss, the core's objective
    assert sol.converged.any() and np.min(sol.f) <= best * (1 + 1e-7)


def test_bad_input_is_named():
    df, _ = wsd_frame()
    with pytest.raises(FitError, match="no run has a learning-rate curve"):
        scalekit.fit_schedule_law(scalekit.load_batch(df))
    with pytest.raises(ConfigError, match=r"schedule.kind.*'sine'"):
        parse_schedule({"kind": "sine"})
    with pytest.raises(ConfigError, match=r"schedule.*unknown field.*'warmpu'"):
        scalekit.load_batch(df, schedule={"kind": "cosine", "warmpu": 100})
    with pytest.raises(ConfigError, match=r"hparams.*expected a column name"):
        scalekit.load_batch(df, hparams=[3])
    with pytest.raises(scalekit.BatchValidationError, match=r"hyperparameter 'wd'.*not in the table"):
        scalekit.load_batch(df, hparams=["wd"])
    bad = df.assign(lr=np.where(df.index == 3, -1.0, 1e-3))
    with pytest.raises(scalekit.BatchValidationError, match=r"learning rate -1 is not.*column 'lr'.*row\(s\) 3"):
        scalekit.load_batch(bad)


@pytest.fixture(scope="module")
def reproduce():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import reproduce_schedules

    return reproduce_schedules


def test_gemstones_cooldowns_predicted(reproduce):
    data = shared_file("gemstones", "wandb_dfs", "wandb_df_for_fitting_cool_end.jsonl").parents[2]
    g = reproduce.gemstones(data)
    mare = g["mare"]
    assert len(g["rows"]) == 99  # 20 models x 5 held-out cooldowns, less 3072x12's missing one
    assert mare["law"] < 0.005 and mare["law"] * 2 < min(mare["hot"], mare["hot_x_gain"])


def test_olmo_final_loss_from_first_half(reproduce):
    data = shared_file("olmo_ladder", "ladder-runs", "1B-10xC.csv").parents[2]
    bt = reproduce.olmo(data)
    assert len(bt["runs"]) == 16
    assert bt["mean_abs_rel_error"] < 0.01 and bt["mean_abs_rel_error"] * 4 < bt["baseline_mean_abs_rel_error"]
