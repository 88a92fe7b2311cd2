"""fit_law / fit_curve: published numbers on real data, recovery on synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize as sp_minimize
from scipy.special import huber, logsumexp

import scalekit
from scalekit import FitError
from scalekit.laws.engine import hoffmann_grid
from scalekit.laws.forms import TWO_VAR

from ..helpers import synthetic_frame

# SOURCE.md: L-BFGS-B / summed Huber (delta 1e-3) on the 240 points.
REF = {"objective": 0.00101827, "E": 1.8171, "alpha": 0.3473, "beta": 0.3671}
BESIROGLU_CI = {"E": (1.769, 1.871), "alpha": (0.317, 0.373), "beta": (0.331, 0.415),
                "A": (285.214, 743.626), "B": (1042.357, 5810.344)}


@pytest.fixture(scope="module")
def chin_fit(chinchilla):
    batch = scalekit.load_batch(chinchilla, metrics=["loss"], name="chinchilla")
    return scalekit.fit_law(batch, n_boot=1000, seed=0, form="two_var")


def test_chinchilla_point_estimate_matches_published(chin_fit):
    assert chin_fit.ndata == 240
    # published to 6 significant figures: allow half a unit of the last digit
    assert chin_fit.objective <= REF["objective"] + 5e-9
    for k in ("E", "alpha", "beta"):
        assert chin_fit.params[k] == pytest.approx(REF[k], rel=5e-3), k
    assert chin_fit.success


def test_chinchilla_bootstrap_intervals_overlap_besiroglu(chin_fit):
    for k, (lo, hi) in BESIROGLU_CI.items():
        mlo, mhi = chin_fit.ci[k]
        assert mlo < hi and lo < mhi, (k, chin_fit.ci[k], (lo, hi))
    # and the estimates lie inside Besiroglu's intervals
    for k, (lo, hi) in BESIROGLU_CI.items():
        assert lo <= chin_fit.params[k] <= hi


def _ref_objective(theta, logN, logD, logL, delta=1e-3):
    a, b, e, alpha, beta = theta
    pred = logsumexp([a - alpha * logN, b - beta * logD, np.full_like(logN, e)], axis=0)
    return huber(delta, pred - logL).sum()


def test_global_optimum_beats_lbfgsb_from_hoffmann_grid(chinchilla, chin_fit):
    """Our optimum is at least as good as scipy L-BFGS-B from (a sample of) Hoffmann's grid."""
    N = chinchilla["Model Size"].to_numpy()
    D = chinchilla["Training FLOP"].to_numpy() / (6 * N)
    logN, logD, logL = np.log(N), np.log(D), np.log(chinchilla["loss"].to_numpy())
    grid = hoffmann_grid(TWO_VAR)
    rng = np.random.default_rng(1)
    best = np.inf
    for i in rng.choice(len(grid), size=40, replace=False):
        r = sp_minimize(_ref_objective, grid[i], args=(logN, logD, logL), method="L-BFGS-B",
                        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 5000})
        best = min(best, r.fun)
    # the engine's objective is the reference objective evaluated at its optimum
    assert _ref_objective(chin_fit.theta, logN, logD, logL) == pytest.approx(chin_fit.objective, rel=1e-12)
    assert chin_fit.objective <= best * (1 + 1e-9)


def test_bootstrap_is_reproducible_and_seed_dependent(chinchilla):
    b = scalekit.load_batch(chinchilla, metrics=["loss"])
    r1 = scalekit.fit_law(b, n_boot=50, seed=3, form="two_var")
    r2 = scalekit.fit_law(b, n_boot=50, seed=3, form="two_var")
    r3 = scalekit.fit_law(b, n_boot=50, seed=4, form="two_var")
    assert r1.ci == r2.ci
    assert r1.ci != r3.ci
    assert r1.params == r3.params


@pytest.mark.parametrize(
    "true,noise,sizes,datas,tol",
    [
        (dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28), 0.0, 6, 6, 1e-4),
        (dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28), 0.005, 8, 8, 0.08),
        (dict(E=0.5, A=50.0, B=2000.0, alpha=0.25, beta=0.45), 0.002, 7, 5, 0.08),
        (dict(E=2.5, A=1e3, B=1e4, alpha=0.5, beta=0.6), 0.0, 4, 3, 1e-3),  # few points (12)
    ],
)
def test_recovers_known_parameters(true, noise, sizes, datas, tol):
    df = synthetic_frame(**true, noise=noise, sizes=sizes, datas=datas, seed=7)
    r = scalekit.fit_law(df, n_boot=0, form="two_var")
    for k in ("alpha", "beta", "E"):
        assert r.params[k] == pytest.approx(true[k], rel=tol), (k, r.params)


def test_noisy_recovery_truth_inside_intervals():
    true = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    df = synthetic_frame(**true, noise=0.01, sizes=7, datas=7, seed=11)
    r = scalekit.fit_law(df, n_boot=300, seed=0, form="two_var")
    for k in ("alpha", "beta", "E"):
        lo, hi = r.ci[k]
        assert lo <= true[k] <= hi, (k, r.ci[k])
        assert r.stderr[k] > 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    alpha=st.floats(0.15, 0.8), beta=st.floats(0.15, 0.8), E=st.floats(0.3, 3.0),
    logA=st.floats(2, 8), logB=st.floats(2, 9),
)
def test_property_noiseless_recovery(alpha, beta, E, logA, logB):
    df = synthetic_frame(E=E, A=np.exp(logA), B=np.exp(logB), alpha=alpha, beta=beta, sizes=6, datas=6)
    r = scalekit.fit_law(df, n_boot=0, loss="squared", form="two_var")
    pred = r.predict(df["params"], df["tokens"])
    assert np.max(np.abs(np.log(pred / df["loss"]))) < 1e-6


def test_higher_is_better_metric_fitted_as_error_and_reported_on_own_scale():
    rng = np.random.default_rng(0)
    N, D = np.meshgrid(np.geomspace(1e6, 1e8, 6), np.geomspace(1e5, 1e7, 5), indexing="ij")
    err = 0.15 + 30 / N.ravel() ** 0.3 + 80 / D.ravel() ** 0.35
    df = __import__("pandas").DataFrame({"params": N.ravel(), "samples": D.ravel(),
                                         "map": (1 - err) * np.exp(0.0 * rng.standard_normal(err.size))})
    r = scalekit.fit_law(df, metric="map", n_boot=0, form="two_var")
    assert r.direction == "max" and r.bound == 1.0
    assert r.params["alpha"] == pytest.approx(0.3, rel=1e-4)
    assert r.params["E"] == pytest.approx(0.15, rel=1e-4)
    assert r.predict(1e9, 1e8) == pytest.approx(1 - (0.15 + 30 / 1e9**0.3 + 80 / 1e8**0.35), rel=1e-6)
    assert "1 - map" in r.report()


def test_one_variable_forms():
    C = np.geomspace(1e18, 1e23, 12)
    r = scalekit.fit_curve(C, 0.08 * C**0.51, form="power", n_boot=0)
    assert r.params["a"] == pytest.approx(0.51, rel=1e-9)
    assert r.params["G"] == pytest.approx(0.08, rel=1e-6)
    x = np.geomspace(1e6, 1e10, 10)
    r2 = scalekit.fit_curve(x, 2.0 + 300 * x**-0.3, form="saturating", n_boot=0)
    assert r2.params["alpha"] == pytest.approx(0.3, rel=1e-5)
    assert r2.params["E"] == pytest.approx(2.0, rel=1e-5)


def test_prediction_intervals_cover_and_nest(chin_fit):
    conf = chin_fit.predict(1e9, 2e10, interval="confidence")
    pred = chin_fit.predict(1e9, 2e10, interval="prediction")
    assert conf.lo < conf.value < conf.hi
    assert pred.lo <= conf.lo and pred.hi >= conf.hi
    arr = chin_fit.predict([1e8, 1e9], [1e10, 1e11])
    assert arr.shape == (2,) and arr[1] < arr[0]


def test_result_fields_and_summary_json_safe(chin_fit):
    s = chin_fit.summary()
    text = json.dumps(s, allow_nan=False)
    assert set(s["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert s["ndata"] == 240 and s["method"]["delta"] == 1e-3 and s["method"]["n_boot"] == 1000
    assert s["ci"]["alpha"][0] < s["params"]["alpha"] < s["ci"]["alpha"][1]
    assert "NaN" not in text
    assert chin_fit.covar.shape == (5, 5)
    assert chin_fit.residuals.shape == (240,)
    assert np.isfinite(chin_fit.aic) and chin_fit.bic > chin_fit.aic
    assert "alpha" in chin_fit.report() and "<table" in chin_fit._repr_html_()


def test_n_boot_zero_skips_bootstrap(chinchilla):
    b = scalekit.load_batch(chinchilla, metrics=["loss"])
    r = scalekit.fit_law(b, n_boot=0, form="two_var")
    assert r.ci is None and r.stderr is None and r.boot_theta is None
    p = r.predict(1e9, 1e10, interval="confidence")
    assert p.lo is None


def test_too_few_points_is_a_clear_error():
    df = synthetic_frame(sizes=2, datas=2)
    with pytest.raises(FitError, match="cannot determine"):
        scalekit.fit_law(df, n_boot=0, form="two_var")


def test_excluded_points_reported():
    df = synthetic_frame(sizes=5, datas=5)
    df.loc[3, "loss"] = np.nan  # diverged run
    r = scalekit.fit_law(df, n_boot=0, form="two_var")
    assert r.ndata == 24
    assert any("diverged" in e["reason"] and e["run"] == "r3" for e in r.excluded)


def test_olmo_ladder_reproduces_published_c4_law_and_13b_prediction():
    """Bhagia et al. (2024) step 1: one point per run (mean of the last 5 evals, D at the last row), Huber 1e-3."""
    import pandas as pd

    from ..conftest import shared_file

    sizes = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840}
    rows = []
    for size, N in sizes.items():
        for k in ("1xC", "2xC", "5xC", "10xC"):
            d = pd.read_csv(shared_file("olmo_ladder", "ladder-runs", f"{size}-{k}.csv"))
            y = d["eval/c4_en-validation/CrossEntropyLoss"].dropna()
            rows.append({"run": f"{size}-{k}", "params": N, "tokens": d["throughput/total_tokens"].iloc[-1], "c4_loss": y.iloc[-5:].mean()})
    r = scalekit.fit_law(pd.DataFrame(rows), n_boot=0, form="two_var")
    assert r.params["E"] == pytest.approx(0.934375, rel=1e-3)
    assert r.params["alpha"] == pytest.approx(0.103603, rel=1e-3)
    assert r.params["beta"] == pytest.approx(0.161969, rel=1e-3)
    assert r.predict(13202396160, 5000088518656) == pytest.approx(2.3443873, rel=1e-5)  # published 13B-5T prediction
