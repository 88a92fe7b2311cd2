"""The law library: derivatives, recovery of known parameters, and the objective against scipy from many starts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

import scalekit
from scalekit.laws import core, general
from scalekit.laws.evaluate import form_error
from scalekit.laws.forms import FORMS, get_form
from scalekit.laws.library import Kaplan, Shared
from scalekit.laws.lse import TWO_VAR

_N, _D = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 5))]
_C = np.geomspace(1e17, 1e23, 25)
_L = np.linspace(0.8, 1.6, 15)
_U = np.repeat([1e9, 3e9, 1e10], 10)
_R = np.tile([1, 2, 4, 8, 16], 6)

# form -> (variables (n, V), true published parameters)
CASES = {
    "kaplan": (np.c_[_N, _D / 1e3], {"N_c": 1.1e6, "D_c": 3.2e4, "alpha_N": 0.25, "alpha_D": 0.3}),
    "data_constrained": (np.c_[np.tile(np.geomspace(1e7, 1e9, 10), 3), _U * _R, _U],
                         {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28, "R_D_star": 15.0, "R_N_star": 5.0}),
    "broken": (_C[:, None], {"E": 0.5, "A": 2000.0, "alpha": 0.1, "c1": 0.2, "x_break": 1e20, "f": 0.3}),
    "sigmoid": (_C[:, None], {"E": 0.2, "R": 0.6, "s": -0.8, "x0": 1e20}),
}
# parameters recovered to this relative tolerance at 0.2% noise (prefactors, the break's position and sharpness are
# weakly identified by nature: a looser bound)
TOL = {"x_break": 0.5, "f": 0.6, "R_N_star": 0.5, "R_D_star": 0.5, "E": 0.1, "A": 0.2, "B": 0.2}


def _data(name, noise, seed):
    X, truth = CASES[name]
    rng = np.random.default_rng(seed)
    y = form_error(name, truth, *X.T) * np.exp(noise * rng.standard_normal(X.shape[0]))
    return X, y, truth


@pytest.mark.parametrize("name", sorted(CASES))
def test_jacobian_matches_finite_differences(name):
    X, truth = CASES[name]
    f = get_form(name)
    th = f.internal(truth) * (1 + 0.03 * np.random.default_rng(1).standard_normal(f.n_params))
    _, J = f.log_predict_jac(th[None], np.log(X))
    for j in range(f.n_params):
        e = np.zeros(f.n_params)
        e[j] = 1e-6 * max(1.0, abs(th[j]))
        fd = (f.log_predict(th + e, np.log(X)) - f.log_predict(th - e, np.log(X))) / (2 * e[j])
        np.testing.assert_allclose(J[0, :, j], fd, rtol=1e-4, atol=1e-7, err_msg=f"{name}: {f.internal_names[j]}")


@pytest.mark.parametrize("form", ["two_var", "saturating", "power"])
def test_sum_of_power_terms_in_the_general_interface_matches_its_law_and_finite_differences(form):
    # what a Shared fit of a log-sum-exp form evaluates: the same law, and the derivatives of its log
    f = get_form(form)
    X = np.c_[_N, _D][:, : len(f.variables)]
    th = np.random.default_rng(2).normal(0.3, 0.1, f.n_params)[None] + np.r_[np.full(f.n_terms, 3.0), np.zeros(len(f.exp_terms))]
    logx = np.log(X)
    v, J = f.evaluate([th[:, i, None] for i in range(f.n_params)], logx, True)
    np.testing.assert_allclose(v[0], f.log_predict(th[0], logx), rtol=1e-13)
    for j in range(f.n_params):
        e = np.zeros(f.n_params)
        e[j] = 1e-6
        fd = (f.log_predict(th[0] + e, logx) - f.log_predict(th[0] - e, logx)) / 2e-6
        np.testing.assert_allclose(np.broadcast_to(J[j], v.shape)[0], fd, rtol=1e-5, atol=1e-8, err_msg=f"{form}: {j}")
    assert [f.param_names[f.published_index(i)] for i in range(f.n_params)][: f.n_terms] == [t.natural_coef for t in f.terms]


def test_every_listed_form_is_accepted_by_fit_law_and_maps_are_not_listed():
    from scalekit.options import FIELDS

    assert set(scalekit.forms()) == set(FIELDS["form"][1].choices) - {"auto"}
    assert not {"sigmoid_linear", "exponential"} & set(scalekit.forms())  # step-2 maps live in two_step.STEP2_MAPS
    assert {type(f).__name__ for f in FORMS.values()}.isdisjoint({"Additive"})  # two_var has one home: TWO_VAR


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("noise,seed", [(0.0, 0), (0.002, 1), (0.002, 2)])
def test_each_form_recovers_its_own_parameters(name, noise, seed):
    X, y, truth = _data(name, noise, seed)
    r = scalekit.fit_curve(X, y, form=name, n_boot=0)
    for k, v in truth.items():
        tol = 1e-4 if noise == 0 else TOL.get(k, 0.05)
        assert r.params[k] == pytest.approx(v, rel=tol), (name, k, r.params[k], v)


@pytest.mark.parametrize("name", sorted(CASES))
def test_objective_no_worse_than_scipy_from_many_starts(name):
    """scipy's least_squares with loss='huber' (f_scale = delta) minimises exactly our summed Huber objective."""
    X, y, truth = _data(name, 0.01, 7)
    r = scalekit.fit_curve(X, y, form=name, n_boot=0)
    f = get_form(name)
    logx, logy = np.log(X), np.log(y)
    rng = np.random.default_rng(0)
    th0 = f.internal(truth)
    best = np.inf
    for i in range(12):
        start = th0 + (0 if i == 0 else 0.3) * rng.standard_normal(f.n_params) * np.maximum(1.0, np.abs(th0)) * 0.3
        with np.errstate(all="ignore"):
            sol = least_squares(lambda t: np.nan_to_num(f.log_predict(t, logx) - logy, nan=1e3), start, loss="huber",
                                f_scale=1e-3, method="trf", max_nfev=3000, xtol=1e-15, ftol=1e-15, gtol=1e-15)
        best = min(best, float(general.objective(f, sol.x[None], logx, logy, np.ones(y.size), 1e-3)[0]))
    assert r.objective <= best * (1 + 1e-6) + 1e-12, (name, r.objective, best)


def test_lse_forms_no_worse_than_scipy_from_many_starts():
    X, y, _ = _data("kaplan", 0.01, 3)
    y = form_error("two_var", {"E": 1.7, "A": 400, "B": 410, "alpha": 0.34, "beta": 0.28}, *X.T) * y / form_error(
        "kaplan", CASES["kaplan"][1], *X.T)
    for name, XX in (("two_var", X), ("saturating", (6 * X[:, 0] * X[:, 1])[:, None])):
        r = scalekit.fit_curve(XX, y, form=name, n_boot=0)
        f = get_form(name)
        logx, logy = np.log(XX), np.log(y)
        rng = np.random.default_rng(0)
        best = np.inf
        for _ in range(12):
            start = r.theta + rng.normal(0, 0.5, r.theta.size) * np.maximum(1.0, np.abs(r.theta))
            sol = least_squares(lambda t, f=f, logx=logx, logy=logy: f.log_predict(t, logx) - logy, start, loss="huber", f_scale=1e-3,
                                max_nfev=3000, xtol=1e-15, ftol=1e-15, gtol=1e-15)
            best = min(best, float(np.sum(core.huber(f.log_predict(sol.x, logx) - logy, 1e-3)[1])))
        assert r.objective <= best * (1 + 1e-6) + 1e-12, (name, r.objective, best)


def test_registry_lists_every_form_with_its_formula():
    reg = scalekit.forms()
    assert set(reg) == set(FORMS) >= {"two_var", "kaplan", "data_constrained", "broken", "sigmoid", "saturating", "power"}
    assert reg["kaplan"] == Kaplan.formula
    with pytest.raises(scalekit.ConfigError, match="unknown law form 'nope'"):
        scalekit.fit_curve(_C, _C, form="nope")


def test_broken_law_reports_its_break_with_an_interval():
    X, y, truth = _data("broken", 0.003, 4)
    r = scalekit.fit_curve(X, y, form="broken", n_boot=100)
    lo, hi = r.ci["x_break"]
    assert lo < truth["x_break"] < hi and hi / lo < 100


def test_shared_fit_recovers_per_group_and_shared_parameters():
    p1 = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}
    p2 = {"E": 1.6, "A": 300.0, "B": 380.0, "alpha": 0.34, "beta": 0.28}
    s = Shared(TWO_VAR, ("v1", "v2"))
    X = np.r_[np.c_[_N, _D, np.ones(_N.size)], np.c_[_N, _D, 2 * np.ones(_N.size)]]
    y = np.r_[form_error("two_var", p1, _N, _D), form_error("two_var", p2, _N, _D)]
    r = scalekit.fit_curve(X, y, form=s, n_boot=0)
    assert r.params["alpha"] == pytest.approx(0.34, rel=1e-4) and r.params["beta"] == pytest.approx(0.28, rel=1e-4)
    assert r.params["E[v2]"] == pytest.approx(1.6, rel=1e-4) and r.params["A[v1]"] == pytest.approx(400, rel=1e-3)
    np.testing.assert_allclose(s.natural(s.internal(r.params)), s.natural(r.theta), rtol=1e-9)
