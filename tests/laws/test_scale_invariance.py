"""Units do not change the answer (issue 20, item 2).

A fit on log residuals is the same problem in any units: multiplying the metric, N, D or C by a constant
may change only the parameters that carry that unit (E, A, B, N_c, x_break, ...). Exponents, success,
the objective, the chosen form, the findings and every optimum (in its own unit) stay the same.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalekit
from scalekit.examples import example_source
from scalekit.laws.evaluate import form_error

from ..helpers import finals_frame

SCALES = st.floats(-6.0, 6.0).map(lambda e: float(10.0 ** e))
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_N, _D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
_U = np.repeat([1e9, 3e9, 1e10], 10)
_C = np.geomspace(1e17, 1e23, 25)

# form -> (variables (n, V), true parameters, whether the variables are scales (False: a loss, entering linearly),
#          the parameters that carry no unit)
CASES = {
    "two_var": (np.c_[_N, _D], {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}, True, ("alpha", "beta")),
    "two_var_tied": (np.c_[_N, _D], {"E": 1.7, "A": 400.0, "B": 900.0, "eta": 0.3}, True, ("eta",)),
    "kaplan": (np.c_[_N, _D / 1e3], {"N_c": 1.1e6, "D_c": 3.2e4, "alpha_N": 0.25, "alpha_D": 0.3}, True,
               ("alpha_N", "alpha_D")),
    "data_constrained": (np.c_[np.tile(np.geomspace(1e7, 1e9, 10), 3), _U * np.tile([1, 2, 4, 8, 16], 6), _U],
                         {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28, "R_D_star": 15.0, "R_N_star": 5.0},
                         True, ("alpha", "beta", "R_D_star", "R_N_star")),
    "saturating": (_C[:, None], {"E": 0.5, "A": 300.0, "alpha": 0.12}, True, ("alpha",)),
    "power": (_C[:, None], {"G": 0.1, "a": 0.5}, True, ("a",)),
    "broken": (_C[:, None], {"E": 0.5, "A": 2000.0, "alpha": 0.1, "c1": 0.2, "x_break": 1e20, "f": 0.3}, True,
               ("alpha", "c1", "f")),
    "sigmoid": (_C[:, None], {"E": 0.2, "R": 0.6, "s": -0.8, "x0": 1e20}, True, ("s",)),
}

# Step-2 maps of a two-step fit (a loss to a downstream error) are not registry forms: they live in
# two_step.STEP2_MAPS and are fitted there by the core solver, on the error in its own units.
# map -> (the loss it maps, true internal parameters, the parameters that carry no unit)
MAPS = {
    "sigmoid": (np.linspace(0.8, 1.6, 15), np.array([0.1, 0.7, 5.0, 1.2]), (2, 3)),  # E, R, k, x0
    "exponential": (np.linspace(2.5, 4.5, 15), np.array([0.857, 2.2, 0.71]), (2,)),  # eps, k, gamma
}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    X, truth, _, _ = CASES[name]
    y = form_error(name, truth, *X.T) * np.exp(0.003 * np.random.default_rng(5).standard_normal(X.shape[0]))
    return X, y


@functools.cache
def _reference(name: str) -> scalekit.FitResult:
    X, y = _data(name)
    return scalekit.fit_curve(X, y, form=name, n_boot=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_form_recovers_its_law_at_the_reference_scale(name):
    """The reference fits below are real fits: each form recovers its own exponents from its noisy points."""
    r = _reference(name)
    truth, free = CASES[name][1], CASES[name][3]
    for k in free:
        assert r.params[k] == pytest.approx(truth[k], rel=0.6 if k in ("f", "R_N_star", "R_D_star") else 0.05), (k, r.params)


def _map_fit(name: str, sy: float) -> tuple[np.ndarray, float]:
    from scalekit.laws.two_step import STEP2_MAPS, _fit_map

    x, truth, _ = MAPS[name]
    m = STEP2_MAPS[name]
    e = m.error(truth, x) * np.exp(0.003 * np.random.default_rng(5).standard_normal(x.size))
    sol = _fit_map(m, x, e * sy, None)
    return sol.theta[0], float(sol.f[0])


@pytest.mark.parametrize("name", sorted(MAPS))
def test_every_step2_map_recovers_its_map_at_the_reference_scale(name):
    theta, _ = _map_fit(name, 1.0)
    np.testing.assert_allclose(theta, MAPS[name][1], rtol=0.05)


@SETTINGS
@given(name=st.sampled_from(sorted(MAPS)), sy=SCALES)
def test_step2_maps_are_the_same_in_any_target_unit(name, sy):
    """The map's variable is a loss (no unit to change); the target's unit moves only the parameters carrying it."""
    ref, fref = _map_fit(name, 1.0)
    theta, f = _map_fit(name, sy)
    free = list(MAPS[name][2])
    unit = [i for i in range(ref.size) if i not in free]
    np.testing.assert_allclose(theta[free], ref[free], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(theta[unit], sy * ref[unit], rtol=1e-6)
    assert f == pytest.approx(sy ** 2 * fref, rel=1e-6)  # squared error in the target's units


@SETTINGS
@given(name=st.sampled_from(sorted(CASES)), sy=SCALES, sx=SCALES)
def test_fit_curve_is_the_same_in_any_units(name, sy, sx):
    X, y = _data(name)
    _, _, is_scale, free = CASES[name]
    kx = sx if is_scale else 1.0  # a loss as the variable (two-step maps) has no unit to change
    ref = _reference(name)
    r = scalekit.fit_curve(X * kx, y * sy, form=name, n_boot=0)
    for k in free:
        assert r.params[k] == pytest.approx(ref.params[k], rel=1e-6, abs=1e-9), (k, r.params, ref.params)
    assert r.objective == pytest.approx(ref.objective, rel=1e-6)
    assert r.success == ref.success
    # the law itself is the same law, in the new units
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(r.predict(*(X * kx).T), sy * ref.predict(*X.T), rtol=1e-6)


def _batch_frame(sy: float, sn: float, sd: float) -> scalekit.Batch:
    df = finals_frame(noise=0.003)
    df = df.assign(params=df["params"] * sn, tokens=df["tokens"] * sd, loss=df["loss"] * sy)
    return scalekit.load_batch(df)


@functools.cache
def _law_reference(form: str) -> scalekit.FitResult:
    return scalekit.fit_law(_batch_frame(1.0, 1.0, 1.0), form=form, n_boot=0, n_boot_backtest=0)


@SETTINGS
@given(form=st.sampled_from(["auto", "two_var", "kaplan", "saturating", "broken"]), sy=SCALES, sn=SCALES, sd=SCALES)
def test_fit_law_chooses_and_fits_the_same_law_in_any_units(form, sy, sn, sd):
    ref = _law_reference(form)
    r = scalekit.fit_law(_batch_frame(sy, sn, sd), form=form, n_boot=0, n_boot_backtest=0)
    assert r.form.name == ref.form.name
    free = next(c[3] for n, c in CASES.items() if n == r.form.name)
    # the batch follows the additive law: other forms sit in flat valleys, where the solver's stopping rule
    # (a relative gain below 1e-13) leaves the exponents a few 1e-7 from the optimum, whatever the units
    # a parameter the fit reports at a bound (no effect on the fitted values) has no value to compare: only its report
    at_bound = {p.split(" = ")[0] for p in r.problems if "sits at a bound" in p}
    assert at_bound == {p.split(" = ")[0] for p in ref.problems if "sits at a bound" in p}
    for k in set(free) - at_bound:
        assert r.params[k] == pytest.approx(ref.params[k], rel=1e-5), (k, r.params, ref.params)
    assert r.objective == pytest.approx(ref.objective, rel=1e-9)
    assert r.success == ref.success
    if form == "auto":
        rows = [(x["form"], x["median_abs_rel_error"]) for x in r.method["selection"]["table"]]
        ref_rows = [(x["form"], x["median_abs_rel_error"]) for x in ref.method["selection"]["table"]]
        assert [f for f, _ in rows] == [f for f, _ in ref_rows]
        np.testing.assert_allclose([e for _, e in rows], [e for _, e in ref_rows], rtol=1e-5)


def _behavior(sy: float) -> scalekit.Batch:
    frame, cfg = example_source("behavior")
    return scalekit.load_batch(frame.assign(**{m: frame[m] * sy for m in ("eval_loss", "min_ade", "train_loss")}), **cfg)


def _analysis(sy: float) -> scalekit.BatchAnalysis:
    return scalekit.analyze(_behavior(sy), n_boot=20, n_boot_optimal=0, n_boot_backtest=0)


def test_isoflop_bootstrap_is_the_same_in_any_metric_unit():
    """Approach 2's seed noise is measured on the batch in log loss, so a unit of the metric changes nothing."""
    from scalekit.analyses.optimal import isoflop

    ref = isoflop(_behavior(1.0), "eval_loss", n_boot=50)
    for sy in (1e3, 1e-4):
        got = isoflop(_behavior(sy), "eval_loss", n_boot=50)
        assert got.a == pytest.approx(ref.a, rel=1e-6) and got.a_ci == pytest.approx(ref.a_ci, rel=1e-6), sy


@functools.cache
def _analysis_reference() -> scalekit.BatchAnalysis:
    return _analysis(1.0)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sy=SCALES)
def test_analyze_reports_the_same_in_any_metric_unit(sy):
    """The example batch with its losses in other units (a summed loss): same forms, exponents, findings and optima."""
    ref, an = _analysis_reference().summary(), _analysis(sy).summary()
    assert [(f["check"], f["severity"], f["metric"]) for f in an["findings"]] == \
        [(f["check"], f["severity"], f["metric"]) for f in ref["findings"]]
    for m, fit in ref["fits"].items():
        assert an["fits"][m]["form"] == fit["form"]
        for k in ("alpha", "beta"):
            assert an["fits"][m]["params"][k] == pytest.approx(fit["params"][k], rel=1e-6)
        for k in ("E", "A", "B"):
            assert an["fits"][m]["params"][k] == pytest.approx(sy * fit["params"][k], rel=1e-6)
    for m, approaches in ref["optimal"].items():
        for approach, o in approaches.items():
            for k in ("a", "b"):
                if o.get(k) is not None:
                    assert an["optimal"][m][approach][k] == pytest.approx(o[k], rel=1e-6), (m, approach, k)
    for m, bl in ref["bottom_line"].items():
        for c_new, c in zip(an["bottom_line"][m]["costs"], bl["costs"]):
            for k in ("N", "D", "C"):  # optima in N, D and C: the metric's unit does not move them
                if c.get(k) is not None:
                    assert c_new[k] == pytest.approx(c[k], rel=1e-6), (m, k)
            if c.get("value") is not None:
                assert c_new["value"] == pytest.approx(sy * c["value"], rel=1e-6)
