"""Two-step prediction (scalekit.laws.two_step): truth recovered, intervals that cover, bad input, real data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit import ConfigError, FitError
from scalekit.laws.two_step import fit_two_step, smoothed_points

from ..conftest import shared_file

LAW1 = {"E": 0.7, "A": 10.0, "B": 20.0, "alpha": 0.22, "beta": 0.2}
SIG = {"a": -0.7, "x0": 1.05, "k": 7.0, "b": 0.95}  # acc = a / (1 + exp(-k (bpb - x0))) + b
EXP = {"eps": 0.8, "k": 2.0, "gamma": 2.0}  # err = eps - k exp(-gamma loss)


def bpb_law(N, D):
    return LAW1["E"] + LAW1["A"] / N ** LAW1["alpha"] + LAW1["B"] / D ** LAW1["beta"]


def acc_map(x):
    return SIG["a"] / (1 + np.exp(-SIG["k"] * (x - SIG["x0"]))) + SIG["b"]


def err_map(x):
    return EXP["eps"] - EXP["k"] * np.exp(-EXP["gamma"] * x)


def ladder(seed: int, noise1: float = 0.004, noise2: float = 0.006, ckpts: int = 16) -> pd.DataFrame:
    """16 runs (4 sizes x 4 token multipliers), ``ckpts`` evaluations each, noisy bpb and accuracy and error."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(5e7, 6e8, 4):
        for mult in (20, 40, 100, 200):
            Dend = mult * N
            for i, fr in enumerate(np.linspace(0.1, 1.0, ckpts)):
                D = fr * Dend
                x = bpb_law(N, D) * np.exp(noise1 * rng.standard_normal())
                rows.append({"run": f"{N:.3g}-{mult}", "step": i + 1, "params": N, "tokens": D, "task_bpb": x,
                             "task_acc": acc_map(x) + noise2 * rng.standard_normal(),
                             "task_err": err_map(x) + noise2 * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_recovers_both_steps_from_noiseless_runs():
    df = ladder(0, noise1=0.0, noise2=0.0)
    r = fit_two_step(df, intermediate="task_bpb", target="task_acc", step1_points="final", n_boot=0, window=1,
                     anchor=False)
    for k, v in LAW1.items():
        assert r.step1.params[k] == pytest.approx(v, rel=1e-4)
    for k, v in SIG.items():
        assert r.params[k] == pytest.approx(v, rel=1e-3, abs=1e-4)
    N, D = 5e9, 2e11
    assert float(r.predict(N, D)) == pytest.approx(acc_map(bpb_law(N, D)), rel=1e-4)
    e = fit_two_step(df, intermediate="task_bpb", target="task_err", step2="exponential", n_boot=0, window=1)
    for k, v in EXP.items():
        assert e.params[k] == pytest.approx(v, rel=1e-3)
    assert float(e.predict(N, D)) == pytest.approx(err_map(bpb_law(N, D)), rel=1e-4)


def test_noisy_fit_is_close_and_its_intervals_cover_held_out_runs():
    """Over several seeds, 95% prediction intervals at larger (N, D) cover fresh runs at a sensible rate."""
    held = [(2e9, 4e10), (2e9, 1e11), (4e9, 8e10)]
    inside, total, rel = 0, 0, []
    for seed in range(6):
        r = fit_two_step(ladder(seed), intermediate="task_bpb", target="task_acc", n_boot=60, seed=seed)
        assert r.params["k"] == pytest.approx(SIG["k"], rel=0.25)
        assert r.ci is not None and r.ci["x0"][0] <= r.params["x0"] <= r.ci["x0"][1]
        rng = np.random.default_rng(100 + seed)
        N, D = np.array(held).T
        p = r.predict(N, D, interval="prediction", seed=seed)
        c = r.predict(N, D, interval="confidence")
        assert np.mean(p.hi - p.lo) > np.mean(c.hi - c.lo)  # lack of fit widens the interval
        for j, (n, d) in enumerate(held):
            x = bpb_law(n, d) * np.exp(0.004 * rng.standard_normal(5))
            actual = float(np.mean(acc_map(x) + 0.006 * rng.standard_normal(5)))
            inside += int(p.lo[j] <= actual <= p.hi[j])
            total += 1
            rel.append(abs(p.value[j] / acc_map(bpb_law(n, d)) - 1))
        assert set(p.extrapolation) >= {"N", "D", "C", "intermediate"}
    assert inside / total >= 0.8, f"{inside} of {total} held-out runs inside the 95% prediction interval"
    assert np.mean(rel) < 0.02


def test_joint_bootstrap_shares_run_weights_and_summary_is_json_safe():
    import json

    r = fit_two_step(ladder(1), intermediate="task_bpb", target="task_acc", n_boot=20, seed=3)
    assert r.step1.boot_theta is not None and r.boot_theta is not None
    assert r.step1.boot_theta.shape[0] == r.boot_theta.shape[0] == 20
    s = r.summary()
    json.dumps(s, allow_nan=False)
    assert s["step2"]["map"] == "sigmoid" and set(s["step2"]["params"]) == {"a", "x0", "k", "b"}
    assert s["step1"]["form"] == "two_var" and s["ndata"]["runs"] == 16
    assert s["method"]["anchor"] is True and s["method"]["n_boot"] == 20
    assert "Two-step" in r._repr_html_() and "task_acc" in r.report()


@pytest.mark.parametrize("step2", ["sigmoid", "exponential"])
def test_batched_step2_resamples_reach_what_scipy_reaches_one_by_one(step2):
    # the core solves every resample at once; each must be as good as a bounded scipy fit of that resample alone
    from scipy.optimize import least_squares

    from scalekit.laws.core import run_counts
    from scalekit.laws.two_step import STEP2_MAPS, _fit_map

    target = "task_acc" if step2 == "sigmoid" else "task_err"
    r = fit_two_step(ladder(2), intermediate="task_bpb", target=target, step2=step2, n_boot=0)
    m, anchor = STEP2_MAPS[step2], step2 == "sigmoid"
    e = 1.0 - r.y if anchor else r.y
    x, e = (np.r_[r.x, 0.0], np.r_[e, 0.0]) if anchor else (r.x, e)
    runs, idx = np.unique(r.groups, return_inverse=True)
    W = run_counts(np.random.default_rng(5), runs.size, 6)[:, idx]
    W = np.column_stack([W, np.ones(6)]) if anchor else W
    bound = 1.0 if anchor else None
    sol = _fit_map(m, x, e, bound, W, r.theta)
    lo, hi = m.bounds(bound)
    for k in range(6):
        sw = np.sqrt(W[k])
        ref = least_squares(lambda t, sw=sw: sw * (m.error(t, x) - e), np.clip(r.theta, lo + 1e-9, hi - 1e-9),
                            bounds=(lo, hi), x_scale="jac", ftol=1e-14, xtol=1e-14, gtol=1e-14, max_nfev=5000)
        assert sol.converged[k] and sol.f[k] <= ref.cost * (1 + 1e-7)
        np.testing.assert_allclose(sol.theta[k], ref.x, rtol=1e-3, atol=1e-5)


def test_smoothed_points_follow_the_ladder_protocol():
    df = ladder(0, ckpts=10)
    fin = smoothed_points(df.rename(columns={"params": "N", "tokens": "D"}), ["task_bpb"], "final", window=5)
    assert len(fin) == 16 and fin["D"].max() == pytest.approx(200 * 6e8)
    allp = smoothed_points(df.rename(columns={"params": "N", "tokens": "D"}), ["task_bpb"], "all", skip=0.1, window=5)
    assert len(allp) == 16 * 9  # the first 10% (one of ten) of each run skipped


def test_bad_input_names_the_column():
    df = ladder(0, ckpts=4)
    with pytest.raises(ConfigError, match="nope"):
        fit_two_step(df, intermediate="nope", target="task_acc", n_boot=0)
    with pytest.raises(ConfigError, match="step2"):
        fit_two_step(df, intermediate="task_bpb", target="task_acc", step2="linear", n_boot=0)
    with pytest.raises(ConfigError, match="ghost"):
        fit_two_step(df, intermediate="task_bpb", target="task_acc", step1_runs=["ghost"], n_boot=0)
    few = df[df["run"].isin(df["run"].unique()[[0, 4, 8]])]
    with pytest.raises(FitError, match="task_bpb"):
        fit_two_step(few, intermediate="task_bpb", target="task_acc", step1_points="final", n_boot=0)
    bad = df.copy()
    bad.loc[5, "task_acc"] = np.inf
    batch = scalekit.load_batch(df)
    object.__setattr__(batch, "frame", batch.frame.assign(task_acc=bad["task_acc"].to_numpy()))
    with pytest.raises(FitError, match="task_acc"):
        fit_two_step(batch, intermediate="task_bpb", target="task_acc", n_boot=0)


def _reproduction():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reproduce_two_step.py"
    spec = importlib.util.spec_from_file_location("reproduce_two_step", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_olmo_ladder_13b_eight_tasks():
    """Bhagia et al. 2024's chained prediction of 13B-5T: lower error than the paper's 0.060, intervals cover >= 6/8."""
    data = shared_file("olmo_ladder", "ladder-runs", "peteish13_eval_final.csv").parents[2]
    rows = _reproduction().olmo_two_step(data, n_boot=40)
    mare = np.mean([abs(r["rel_error"]) for r in rows])
    assert mare < 0.060, mare
    assert sum(r["inside"] for r in rows) >= 6


def test_gadre_17_task_error_of_the_two_targets():
    """Gadre et al. 2024: published relative errors 3.64% (1.4B M=640) and 0.05% (6.9B M=20).

    Ours differ because our loss law is the Huber fit on log residuals (theirs least squares on the
    loss): its C4 predictions err 0.40-0.42% where theirs err 0.71-0.73%. An error of 0.4% in the
    loss moves the predicted error by about gamma k exp(-gamma L) * 0.01 L ~ 1.5% of it, so we hold
    each to the published error within 1.5 points (and below 5%).
    """
    data = shared_file("gadre_overtraining", "gadre_models_flat.csv").parents[1]
    rows = {r["run"]: r for r in _reproduction().gadre_two_step(data, n_boot=0)}
    assert abs(rows["1.4B M=640"]["rel_error"]) == pytest.approx(0.0364, abs=0.015)
    assert abs(rows["6.9B M=20"]["rel_error"]) == pytest.approx(0.0005, abs=0.015)
    assert all(abs(r["loss_rel_error"]) < 0.0075 for r in rows.values())
