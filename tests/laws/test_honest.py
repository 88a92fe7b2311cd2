"""Honest success (issue 20, item 3): a fit the data do not identify is not a success.

Parameters at a bound, exponents beyond their form's sane range, a rank-deficient Jacobian or a collapsed
bootstrap give ``success=False`` with the reason in ``message``, and a critical ``identifiability`` finding.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import least_squares

import scalekit
from scalekit.laws.general import GeneralForm

from ..helpers import finals_frame, law, scalekit_cli


def _no_repetition():
    df = finals_frame()
    return df.assign(unique_tokens=df["tokens"])  # every run sees each token once: R_D* has nothing to act on


def _growing():
    return finals_frame(value=lambda N, D: 10 - law(N, D))  # the loss grows with N and D


def test_a_clean_fit_is_a_success_without_problems():
    r = scalekit.fit_law(finals_frame(noise=0.003), n_boot=50)
    assert r.success and r.problems == () and "not a success" not in r.message
    assert r.params["alpha"] == pytest.approx(0.34, rel=0.05)


def test_power_law_interval_is_the_bootstrap_spread_not_a_point():
    """The power law used to stop at its least-squares start (the exact Huber Hessian of a linear model is zero
    when every residual lies beyond delta), so every resample returned that start: a zero-width interval."""
    df = finals_frame()
    r = scalekit.fit_law(df, form="power", x="N", n_boot=200)
    # the point estimate is the Huber optimum (scipy's robust least squares minimises the same objective)
    x, y = np.log(df["params"].to_numpy()), np.log(df["loss"].to_numpy())
    ref = least_squares(lambda t: t[0] + t[1] * x - y, [0.0, 0.0], loss="huber", f_scale=1e-3, xtol=1e-15, ftol=1e-15,
                        gtol=1e-15)
    assert r.params["a"] == pytest.approx(ref.x[1], rel=1e-5)
    lo, hi = r.ci["a"]
    assert hi - lo > 0.01 and lo < r.params["a"] < hi and r.stderr["a"] > 1e-3
    assert r.success and r.problems == ()


def test_data_constrained_without_repetition_is_not_a_success():
    r = scalekit.fit_law(_no_repetition(), form="data_constrained", n_boot=50)
    assert not r.success
    assert "R_D_star" in r.message and "no effect on the fitted values" in r.message
    assert any("R_D_star" in p for p in r.problems)


def test_a_loss_growing_with_scale_is_not_a_success():
    r = scalekit.fit_law(_growing(), n_boot=50)
    assert not r.success
    assert "outside its sane range" in r.message or "sits at a bound" in r.message
    assert r.summary()["success"] is False and "not a success" in r.summary()["message"]


def test_an_exponent_beyond_its_sane_range_is_not_a_success():
    x = np.geomspace(1.0, 3.0, 20)
    r = scalekit.fit_curve(x, 0.5 + 4.0 * x ** -6.0, form="saturating", n_boot=0)  # alpha = 6: fitted, but insane
    assert r.params["alpha"] == pytest.approx(6.0, rel=1e-4)
    assert not r.success and "alpha = 6 is outside its sane range (0, 5)" in r.message


class _Redundant(GeneralForm):
    """log y = a + b - c log x: a and b enter only as their sum."""

    name = "redundant"
    variables = ("x",)
    param_names = ("a", "b", "c")
    internal_names = ("a", "b", "c")
    formula = "y = exp(a + b) x^-c"

    def evaluate(self, th, logx, jac):
        a, b, c = th
        v = a + b - c * logx[:, 0]
        return (v, [np.ones_like(v), np.ones_like(v), -logx[:, 0] + 0 * v]) if jac else (v, [])

    def natural(self, theta):
        return np.asarray(theta, dtype=float)

    def internal(self, params):
        return np.array([params["a"], params["b"], params["c"]])

    def starts(self, logx, logy):
        return np.array([[0.0, 0.0, 0.5]])


def test_a_rank_deficient_jacobian_is_not_a_success():
    x = np.geomspace(1.0, 100.0, 15)
    y = 3.0 * x ** -0.4 * np.exp(0.01 * np.random.default_rng(0).standard_normal(15))
    r = scalekit.fit_curve(x, y, form=_Redundant(), n_boot=0)
    assert not r.success and "rank-deficient" in r.message and "a, b trade off" in r.message


def test_a_collapsed_bootstrap_is_not_a_success():
    """One run holding every point: each resample is that run, so the interval has zero width."""
    x = np.geomspace(1e7, 1e9, 12)
    y = 20 * x ** -0.1 * np.exp(0.01 * np.random.default_rng(1).standard_normal(12))
    r = scalekit.fit_curve(x, y, form="power", groups=["one run"] * 12, n_boot=30)
    assert not r.success and "the bootstrap collapsed" in r.message


def test_the_report_gets_a_critical_identifiability_finding():
    an = scalekit.analyze(scalekit.load_batch(_growing()), n_boot=20, n_boot_optimal=10, n_boot_backtest=10)
    crit = [f for f in an.findings if f.check == "identifiability" and f.severity == "critical"]
    assert crit and crit[0].metric == "loss" and crit[0].evidence["problems"]
    assert not [f for f in scalekit.analyze(scalekit.load_batch(finals_frame(noise=0.003)), n_boot=20, n_boot_optimal=10,
                                            n_boot_backtest=10).findings if f.severity == "critical"]


def test_cli_fit_says_not_a_success(tmp_path):
    grow = tmp_path / "grow.csv"
    _growing().to_csv(grow, index=False)
    out = scalekit_cli("fit", str(grow), "--set", "n_boot=30").stdout
    assert "success = False" in out and "not a success" in out
    norep = tmp_path / "norep.csv"
    _no_repetition().to_csv(norep, index=False)
    s = json.loads(scalekit_cli("fit", str(norep), "--form", "data_constrained", "--json", "--set", "n_boot=30").stdout)
    assert s["success"] is False and "R_D_star" in s["message"]


def test_cli_fit_power_gives_the_bootstrap_interval(tmp_path):
    p = tmp_path / "grid.csv"
    finals_frame().to_csv(p, index=False)
    s = json.loads(scalekit_cli("fit", str(p), "--form", "power", "--x", "N", "--json", "--set", "n_boot=100").stdout)
    lo, hi = s["ci"]["a"]
    assert s["success"] is True and hi - lo > 0.01 and lo < s["params"]["a"] < hi
