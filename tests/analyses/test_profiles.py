"""Targets, profile curves, budget predictions, capped allocation, the improvement grid, versions compared."""

from __future__ import annotations

import numpy as np
import pytest

import scalekit
from scalekit.analyses import profiles
from scalekit.analyses.grid import improvement_grid
from scalekit.examples import example_source
from scalekit.pipeline.compare import compare_summaries
from scalekit.pipeline.summary import Summary

from ..helpers import finals_frame, law

P = dict(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)


@pytest.fixture(scope="module")
def fit():
    return scalekit.fit_law(finals_frame(noise=0.002), n_boot=200, form="two_var")


def test_cheapest_point_is_the_minimum_compute_on_the_profile(fit):
    target = 2.6
    t = profiles.cheapest_for_target(fit, target)
    assert t.reachable and law(t.N, t.D, **fit.params) == pytest.approx(target, rel=1e-6)
    Ns = np.geomspace(t.N / 30, t.N * 30, 4001)
    Ds = profiles.profile_curve(fit, target, Ns)
    ok = np.isfinite(Ds)
    np.testing.assert_allclose(law(Ns[ok], Ds[ok], **fit.params), target, rtol=1e-6)  # every profile point reaches it
    C = 6 * Ns[ok] * Ds[ok]
    assert pytest.approx(C.min(), rel=1e-4) == t.C and C.min() * (1 + 1e-9) >= t.C
    assert t.N_ci[0] < t.N < t.N_ci[1]


def test_unreachable_target_says_so(fit):
    t = profiles.cheapest_for_target(fit, 1.6)  # below E = 1.7
    assert not t.reachable and "not reachable" in t.note


def test_budget_allocation_matches_closed_form(fit):
    C = 1e21
    a = profiles.optimal_allocation(fit, C)
    q = fit.params
    G = (q["alpha"] * q["A"] / (q["beta"] * q["B"])) ** (1 / (q["alpha"] + q["beta"]))
    assert pytest.approx(G * (C / 6) ** (q["beta"] / (q["alpha"] + q["beta"])), rel=1e-9) == a.N
    assert pytest.approx(C) == 6 * a.N * a.D
    assert a.value == pytest.approx(law(a.N, a.D, **q), rel=1e-9)
    Ns = np.geomspace(a.N / 10, a.N * 10, 2001)  # and it is the best split of that budget
    assert a.value <= law(Ns, C / (6 * Ns), **q).min() * (1 + 1e-6)
    assert a.value_ci[0] <= a.value <= a.value_ci[1]


def test_capped_allocation(fit):
    q = fit.params
    cap = profiles.capped_allocation(fit, 1e9, budgets=(1e19, 1e22), target=2.4)
    assert cap.floor == pytest.approx(q["E"] + q["A"] / 1e9 ** q["alpha"], rel=1e-9)
    assert cap.floor_ci[0] <= cap.floor <= cap.floor_ci[1]
    small, big = cap.allocations
    assert not small.capped and big.capped and big.N == 1e9 and pytest.approx(1e22) == 6 * big.N * big.D
    assert law(1e9, cap.D_for_target, **q) == pytest.approx(2.4, rel=1e-6)


def test_targets_in_analysis_use_the_best_run():
    an = scalekit.analyze(scalekit.load_batch(finals_frame(noise=0.001)), n_boot=100, targets=(0.01, 0.02, 0.05))
    m = an.primary
    assert [t.improvement for t in m.targets] == [0.01, 0.02, 0.05]
    assert m.targets[0].value == pytest.approx(m.best["value"] * 0.99)
    assert m.targets[0].C < m.targets[1].C < m.targets[2].C
    assert m.targets[0].compute_multiple == pytest.approx(m.targets[0].C / m.best["C"])


def test_improvement_grid_signs_and_baseline():
    b = scalekit.load_batch(finals_frame(noise=0.0))
    g = improvement_grid(b)
    assert g.baseline == (1e7, 2e9) and g.relative[0, 0] == 0
    assert np.all(g.relative[1:, :] < 0) and np.all(np.diff(g.relative, axis=0) < 0)  # bigger model: lower loss
    assert g.better == "negative"
    g2 = improvement_grid(b, baseline={"N": 4e7, "D": 8e9})
    assert g2.baseline == (4e7, 8e9) and g2.relative[2, 2] == 0
    m = scalekit.load_batch(finals_frame(value=lambda N, D: 1 - law(N, D, E=0.15, A=30.0, B=300.0, alpha=0.3, beta=0.33), metric="map"))
    gm = improvement_grid(m)
    assert gm.better == "positive" and gm.relative[-1, -1] > 0


def test_versions_compared():
    frame, cfg = example_source("perception")
    b = scalekit.load_batch(frame, **cfg)
    assert b.versions == ["v1", "v2"]
    sums = [Summary.from_dict(scalekit.analyze(b.select_version(v), n_boot=200).summary()) for v in b.versions]
    (mc,) = compare_summaries(sums)
    assert mc.metric == "map" and set(mc.gain_10x) == {"perception v1", "perception v2"}
    assert mc.exponents_agree is True and all(mc.law_holds.values())
    assert "Exponents agree" in mc.sentence
    # a version whose law differs clearly is reported as not comparable
    other = finals_frame(value=lambda N, D: 1 - law(N, D, E=0.1, A=300.0, B=3e5, alpha=0.6, beta=1.2), metric="map",
                         sizes=np.geomspace(1.1e7, 1.2e8, 6), datas=np.geomspace(9e4, 1.2e6, 5), noise=0.0005)
    wild = scalekit.load_batch(other, name="wild")
    s2 = Summary.from_dict(scalekit.analyze(wild, n_boot=200).summary())
    (mc2,) = compare_summaries([sums[0], s2])  # kaplan against the additive law: exponents of different laws
    assert sums[0].fits["map"].form != s2.fits["map"].form
    assert mc2.exponents_agree is None and "laws differ in form" in mc2.sentence
    v1 = Summary.from_dict(scalekit.analyze(b.select_version("v1"), n_boot=200, form="two_var").summary())
    s3 = Summary.from_dict(scalekit.analyze(wild, n_boot=200, form="two_var").summary())
    (mc3,) = compare_summaries([v1, s3])  # one law, clearly different exponents
    assert mc3.exponents_agree is False and "differ beyond" in mc3.sentence


def test_numeric_answers_match_the_closed_forms_on_the_additive_law(fit):
    """The grid-and-parabola path used for other forms gives the closed forms' numbers on the additive law."""
    from scalekit.laws import evaluate as ev

    for C in (1e19, 1e21):
        N_num, e_num = ev.frontier_nd(fit, C)
        assert N_num[0] == pytest.approx(float(ev.optimal_N(fit.params, C)), rel=2e-3)
        assert e_num[0] == pytest.approx(float(ev.frontier_error(fit.params, C)), rel=1e-5)
    e = float(ev.frontier_error(fit.params, 3e20))
    C, N = ev.cheapest_nd(fit, e)
    assert C[0] == pytest.approx(3e20, rel=1e-3) and N[0] == pytest.approx(float(ev.optimal_N(fit.params, 3e20)), rel=3e-3)
    t = profiles.cheapest_for_target(fit, fit.to_metric(np.array(e)))
    Cd, _ = ev.cheapest_nd(fit, e, draws=True)
    assert np.nanpercentile(Cd, [2.5, 97.5]) == pytest.approx(t.C_ci, rel=0.02)
    Ns = np.array([3e8, 1e9])
    assert ev.profile_nd(fit, e, Ns) == pytest.approx(profiles.profile_curve(fit, fit.to_metric(np.array(e)), Ns), rel=1e-6)


def test_kaplan_law_answers_come_from_the_chosen_form():
    """Kaplan's law has N_opt ~ C^(1/(1 + alpha_N/alpha_D)); the answers the report gives for it are that law's."""
    from ..laws.test_select import KAP, _frame

    kap = scalekit.fit_law(_frame("kaplan", KAP, 1, noise=0.003, dscale=1e-3), n_boot=100, form="kaplan")
    r = kap.params["alpha_N"] / kap.params["alpha_D"]
    par = scalekit.analyses.parametric(kap)
    assert par.a == pytest.approx(1 / (1 + r), rel=2e-3) and par.a_ci[0] < 1 / (1 + r) < par.a_ci[1]
    C = 1e16
    a = profiles.optimal_allocation(kap, C)
    Ns = np.geomspace(a.N / 10, a.N * 10, 2001)
    vals = kap.predict(Ns, C / (6 * Ns), warn=False)
    assert Ns[np.argmin(vals)] == pytest.approx(a.N, rel=0.01)  # brute force over N at fixed compute
    target = float(kap.predict(a.N, a.D, warn=False))
    t = profiles.cheapest_for_target(kap, target)
    assert t.reachable and pytest.approx(C, rel=1e-3) == t.C and t.N_ci[0] < t.N < t.N_ci[1]
    capped = profiles.optimal_allocation(kap, C, max_params=a.N / 4)
    assert capped.capped and pytest.approx(a.N / 4) == capped.N and capped.value > a.value
