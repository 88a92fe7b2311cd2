"""What to train next: the greedy plan's expected intervals, checked against refits on simulated outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.analyses.plan import Decision, isoflop_plan, plan_runs
from scalekit.exceptions import ConfigError

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def loss(N, D):
    return TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / D ** TRUE["beta"]


def ladder(rng, runs=None):
    rows = runs or [(N, m * N) for N in np.geomspace(5e7, 4e8, 4) for m in (5, 20, 80)]
    return pd.DataFrame([{"run": f"r{i}", "params": N, "tokens": D, "loss": loss(N, D) * np.exp(0.01 * rng.standard_normal())}
                         for i, (N, D) in enumerate(rows)])


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    df = ladder(rng)
    return df, scalekit.fit_law(df, n_boot=200, seed=0)


def test_the_greedy_plan_stays_within_the_allowance_and_narrows_the_interval(small):
    df, fit = small
    C_max = float((6 * df.params * df.tokens).max())
    p = plan_runs(fit, Decision("optimum", budget=100 * C_max), allowance=3 * C_max)
    assert p.runs and p.runs[-1].cumulative_flops <= 3 * C_max
    widths = [np.log(r.hi / r.lo) for r in p.runs]
    assert widths == sorted(widths, reverse=True) and widths[0] < np.log(p.now[1] / p.now[0])
    assert p.now[0] < p.estimate < p.now[1] and p.width_ratio < 1
    assert p.now_bootstrap is not None and p.now_bootstrap[0] < p.estimate < p.now_bootstrap[1]


def test_expected_interval_matches_the_refit_on_simulated_outcomes(small):
    df, fit = small
    C_max = float((6 * df.params * df.tokens).max())
    d = Decision("optimum", budget=100 * C_max)
    p = plan_runs(fit, d, allowance=3 * C_max)
    rng = np.random.default_rng(1)
    ratios = []
    for _ in range(7):  # each refit re-measures the misfit rate, which 1% noise moves: a median over 7 outcomes
        extra = ladder(rng, [(r.N, r.D) for r in p.runs]).assign(run=lambda f: "new" + f["run"])
        refit = scalekit.fit_law(pd.concat([df, extra], ignore_index=True), n_boot=0)
        after = plan_runs(refit, d, allowance=1.0).now  # the refit's own delta-method interval
        ratios.append(np.log(after[1] / after[0]) / np.log(p.runs[-1].hi / p.runs[-1].lo))
    assert 0.6 < float(np.median(ratios)) < 1.6, ratios


def test_value_and_param_decisions_and_bad_input(small):
    _, fit = small
    v = plan_runs(fit, Decision("value", N=1e10, D=2e11), allowance=1e20)
    assert v.estimate == pytest.approx(loss(1e10, 2e11), rel=0.05) and v.runs
    a = plan_runs(fit, Decision("param", name="alpha"), allowance=1e20)
    assert a.estimate == pytest.approx(fit.params["alpha"]) and a.runs[-1].hi - a.runs[-1].lo < a.now[1] - a.now[0]
    with pytest.raises(ConfigError, match="not a parameter"):
        plan_runs(fit, Decision("param", name="gamma"), allowance=1e20)
    with pytest.raises(ConfigError, match="allowance"):
        plan_runs(fit, Decision("param", name="alpha"), allowance=-1)


def test_isoflop_plan_is_centred_and_warns_when_the_optimum_is_uncertain(small):
    _, fit = small
    iso = isoflop_plan(fit, 1e21, n=5, span=4)
    assert iso.sizes[2] == pytest.approx(iso.N_opt) and all(t * s * 6 == pytest.approx(1e21) for s, t in zip(iso.sizes, iso.tokens))
    assert "off-centre" in iso.warning  # 12 small runs leave N_opt at 1e21 FLOPs uncertain by more than 2x


def test_scalekit_plan_on_a_batch_defaults_to_the_optimum_at_10x_the_largest_compute(small):
    df, _ = small
    p = scalekit.plan(df, allowance=1e20, n_boot=50)
    C_max = float((6 * df.params * df.tokens).max())
    assert p.decision.kind == "optimum" and p.decision.budget == pytest.approx(10 * C_max) and p.runs
