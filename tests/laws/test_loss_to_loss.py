"""Loss-to-loss maps (scalekit.loss_to_loss): recovery of known maps, chaining through a law, held-out transfer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.exceptions import ConfigError, FitError
from scalekit.laws.loss_to_loss import fit_loss_to_loss
from scalekit.laws.result import Prediction

TRUTH = {"K": 0.8, "kappa": 1.4, "E_A": 1.7, "E_B": 1.2}


def runs_frame(*, truth=TRUTH, noise=0.002, run_noise=0.0, seed=0, sizes=6, datas=4, checkpoints=10) -> pd.DataFrame:
    """Loss curves of two eval sets: L_A from a known law (floor E_A), L_B = K (L_A - E_A)^kappa + E_B, each with noise.

    ``run_noise`` adds one multiplicative offset per run to L_B (points of a run are then correlated).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(1e7, 1e9, sizes):
        for Dt in np.geomspace(2e9, 1e11, datas):
            offset = np.exp(run_noise * rng.standard_normal())
            for i, t in enumerate(np.geomspace(0.05, 1.0, checkpoints)):
                la = truth["E_A"] + 400 / N ** 0.34 + 410 / (t * Dt) ** 0.28
                lb = truth["K"] * (la - truth["E_A"]) ** truth["kappa"] + truth["E_B"]
                rows.append({"run": f"N{N:.3g}-D{Dt:.3g}", "step": i + 1, "params": N, "tokens": t * Dt,
                             "a_loss": la * np.exp(noise * rng.standard_normal()),
                             "b_loss": lb * offset * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def noisy() -> pd.DataFrame:
    return runs_frame()


@pytest.fixture(scope="module")
def noisy_map(noisy) -> scalekit.loss_to_loss.LossToLossFit:
    return fit_loss_to_loss(noisy, "a_loss", "b_loss", n_boot=150, seed=1)


def test_recovers_a_known_map_with_the_truth_inside_the_intervals(noisy_map):
    m = noisy_map
    assert m.ndata == 240 and m.nruns == 24 and m.method["bootstrap_unit"] == "run"
    for k, v in TRUTH.items():
        lo, hi = m.ci[k]
        assert lo <= v <= hi, (k, v, m.ci[k])
    assert m.params["kappa"] == pytest.approx(TRUTH["kappa"], rel=0.05)
    assert m.params["K"] == pytest.approx(TRUTH["K"], rel=0.1)
    true_map = TRUTH["K"] * (m.x - TRUTH["E_A"]) ** TRUTH["kappa"] + TRUTH["E_B"]
    truth_rmse = np.sqrt(np.mean((true_map / m.y - 1) ** 2))
    assert m.rmse <= truth_rmse * 1.02  # as close to the data as the true map: noise, nothing more
    json.dumps(m.summary(), allow_nan=False)


def test_recovers_an_exact_map_to_many_digits():
    truth = {"K": 2.5, "kappa": 0.7, "E_A": 1.7, "E_B": 0.4}
    m = fit_loss_to_loss(runs_frame(truth=truth, noise=0.0), "a_loss", "b_loss", n_boot=0)
    for k, v in truth.items():
        assert m.params[k] == pytest.approx(v, rel=1e-4), k
    assert m.rmse < 1e-8 and m.ci is None


def test_fixed_floors_stay_fixed(noisy):
    m = fit_loss_to_loss(noisy, "a_loss", "b_loss", n_boot=40, E_A=1.7, E_B=1.2)
    assert (m.params["E_A"], m.params["E_B"]) == (1.7, 1.2)
    assert np.all(m.draws[:, 2] == 1.7) and np.all(m.draws[:, 3] == 1.2)
    assert m.method["fixed_floors"] == {"E_A": 1.7, "E_B": 1.2}
    # with the floors right, the two free parameters are pinned down far better than with four free
    assert m.params["kappa"] == pytest.approx(1.4, rel=0.01)
    free = fit_loss_to_loss(noisy, "a_loss", "b_loss", n_boot=40)
    assert np.ptp(m.ci["kappa"]) < np.ptp(free.ci["kappa"])


def test_bootstrap_resamples_runs_not_rows():
    # One offset per run makes a run's checkpoints move together: resampling rows would understate the uncertainty.
    df = runs_frame(noise=0.0005, run_noise=0.01, seed=3)
    by_run = fit_loss_to_loss(df, "a_loss", "b_loss", n_boot=100, E_A=1.7)
    by_row = fit_loss_to_loss(df.assign(run=[f"row{i}" for i in range(len(df))]), "a_loss", "b_loss", n_boot=100, E_A=1.7)
    assert by_run.nruns == 24 and by_row.nruns == len(df)
    assert np.ptp(by_run.ci["kappa"]) > 1.5 * np.ptp(by_row.ci["kappa"])


def test_predict(noisy_map):
    m = noisy_map
    p = m.params
    la = np.array([2.0, 2.5, 3.5])
    assert np.allclose(m.predict(la), p["K"] * (la - p["E_A"]) ** p["kappa"] + p["E_B"], rtol=1e-12)
    conf = m.predict(la, interval="confidence")
    pred = m.predict(la, interval="prediction")
    assert isinstance(conf, Prediction) and conf.kind == "confidence"
    assert np.all((conf.lo <= conf.value) & (conf.value <= conf.hi))
    assert np.all(pred.hi - pred.lo > conf.hi - conf.lo)
    assert np.isnan(m.predict(p["E_A"] * 0.99))  # below the map's floor there is no image
    with pytest.raises(ConfigError, match="interval must be"):
        m.predict(la, interval="bayes")


def test_predict_from_law_chains_the_law_through_the_map(noisy, noisy_map):
    m = noisy_map
    law = scalekit.fit_law(noisy, metric="a_loss", n_boot=120, seed=2)
    N, D = np.array([2e9, 5e9]), np.array([2e11, 1e12])
    assert np.array_equal(m.predict_from_law(law, N, D), m.predict(law.predict(N, D)))
    chained = m.predict_from_law(law, N, D, interval="confidence")
    assert np.all((chained.lo <= chained.value) & (chained.value <= chained.hi))
    # the interval is the documented pairing: law draw i mapped by map draw i (cycling the shorter set)
    logx = np.log(np.column_stack([N, D]))
    la_draws = np.exp(law.form.log_predict(law.boot_theta, logx))
    n = max(len(la_draws), len(m.draws))
    mb = m.draws[np.arange(n) % len(m.draws)]
    ld = la_draws[np.arange(n) % len(la_draws)]
    with np.errstate(invalid="ignore"):  # a law draw below a map draw's floor E_A has no image: left out
        draws = mb[:, [0]] * (ld - mb[:, [2]]) ** mb[:, [1]] + mb[:, [3]]
    assert np.allclose(chained.lo, np.nanpercentile(draws, 2.5, axis=0), rtol=1e-10)
    assert np.allclose(chained.hi, np.nanpercentile(draws, 97.5, axis=0), rtol=1e-10)
    # both uncertainties: wider than the map's alone at the law's point prediction
    map_only = m.predict(law.predict(N, D), interval="confidence")
    assert np.all(chained.hi - chained.lo > map_only.hi - map_only.lo)
    other = scalekit.fit_law(noisy, metric="b_loss", n_boot=0)
    with pytest.raises(ConfigError, match=r"source_fit is a law of 'b_loss'.*source is 'a_loss'"):
        m.predict_from_law(other, N, D)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"source": "a_loss", "target": "a_loss"}, ConfigError, "same metric"),
    ({"source": "a_loss", "target": "nope"}, ConfigError, "unknown metric 'nope'"),
    ({"source": "a_loss", "target": "acc"}, ConfigError, "'acc' is higher-is-better"),
    ({"source": "a_loss", "target": "b_loss", "points": "best"}, ConfigError, "points must be 'all'.*'best'"),
    ({"source": "a_loss", "target": "b_loss", "E_A": 5.0}, ConfigError, r"E_A must be a floor in \[0, 2\.\d+\) \(below the smallest 'a_loss' fitted\); got 5\.0"),
    ({"source": "a_loss", "target": "b_loss", "E_B": -1}, ConfigError, r"E_B must be a floor in \[0, .*got -1"),
    ({"source": "a_loss", "target": "b_loss", "n_boot": -1}, ConfigError, "option .n_boot.: got -1"),
])
def test_bad_input(kwargs, exc, match):
    df = runs_frame(sizes=3, datas=2, checkpoints=3, noise=0.0).assign(acc=0.5)
    with pytest.raises(exc, match=match):
        fit_loss_to_loss(df, **kwargs)


def test_too_few_points():
    df = runs_frame(sizes=2, datas=1, checkpoints=2, noise=0.0)
    with pytest.raises(FitError, match="4 rows with both 'a_loss' and 'b_loss' cannot determine"):
        fit_loss_to_loss(df, "a_loss", "b_loss")


def test_a_floor_the_data_push_below_zero_is_held_at_the_bound():
    """True E_B < 0 is outside the box: the fit stops exactly at E_B = 0 (projected step), converged, below a nearby
    feasible point."""
    df = runs_frame(truth={**TRUTH, "E_B": -0.3}, noise=0.0005)
    m = fit_loss_to_loss(df, "a_loss", "b_loss", n_boot=0)
    assert m.params["E_B"] == 0.0 and m.success
    from scalekit.laws import general
    from scalekit.laws.loss_to_loss import _MAP

    t = np.array([np.log(m.params["K"]), m.params["kappa"], m.params["E_A"], 0.0])
    nudged = t + np.array([0.0, 0.0, 0.0, 1e-3])
    f = general.objective(_MAP, np.stack([t, nudged]), m.x[:, None], np.log(m.y), np.ones(m.ndata), 1e-3)
    assert f[0] < f[1]


def test_each_resample_reaches_the_best_valley_a_dense_multistart_finds():
    """Every bootstrap draw is refitted from several valleys at once: none ends above what refining all 121 grid
    starts on that resample reaches. The behavior example's eval -> train map has two valleys (floors near 0 and
    near the smallest losses); from the full fit's optimum alone, some resamples stop in the worse one."""
    from scalekit.examples import example_source
    from scalekit.laws import loss_to_loss as l2l

    frame, cfg = example_source("behavior")
    la, lb, groups, _, _ = l2l._pairs(scalekit.load_batch(frame, **cfg), "eval_loss", "train_loss", "all")
    floors = (None, None)
    *_, optima = l2l._best_fit(la, lb, 1e-3, 6, floors)
    boot, failed = l2l._bootstrap(la, lb, groups, optima, 1e-3, 12, 0, floors)
    assert failed == 0
    rng = np.random.default_rng(0)
    uniq, inv = np.unique(groups, return_inverse=True)
    w = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)), size=12).astype(float)[:, inv]
    from scalekit.laws import general

    internal = boot.copy()
    internal[:, 0] = np.log(internal[:, 0])
    f_boot = general.objective(l2l._MAP, internal, la[:, None], np.log(lb), w, 1e-3)
    for i in range(12):
        grid, _ = l2l._grid_starts(la, lb, floors, w[i][None])
        dense = l2l._solve(la, lb, grid[0], 1e-3, floors, np.repeat(w[i][None], grid.shape[1], axis=0))
        assert f_boot[i] <= np.nanmin(dense.f) * (1 + 1e-5), i
