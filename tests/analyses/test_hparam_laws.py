"""Optimal learning rate and batch size: synthetic sweeps with a known bowl and known power laws, and the
StepLaw MoE sweep (708 runs, 16 cells) left one cell out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalekit.analyses.hparam_laws import answers, fit_bowl, hyperparam_laws

from ..conftest import shared_file

TRUTH = {"c_lr": 0.075, "a_lr": -0.35, "b_lr": 0.1, "c_B": 3.0, "b_B": 0.5}


def sweep(noise: float = 0.0005, seed: int = 0, lr_grid=None, B_grid=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    lr_grid = np.geomspace(1e-4, 1e-2, 9) if lr_grid is None else lr_grid
    B_grid = np.geomspace(2 ** 15, 2 ** 22, 8) if B_grid is None else B_grid
    for N in (1e8, 3e8, 1e9):
        for D in (2e9, 8e9, 3.2e10):
            lr_opt = TRUTH["c_lr"] * N ** TRUTH["a_lr"] * D ** TRUTH["b_lr"]
            B_opt = TRUTH["c_B"] * D ** TRUTH["b_B"]
            base = 1.8 + 400 / N ** 0.34 + 400 / D ** 0.28
            for lr in lr_grid:
                for B in B_grid:
                    x, y = np.log(lr / lr_opt), np.log(B / B_opt)
                    L = base * (1 + 0.004 * x * x + 0.002 * y * y + 0.001 * x * y) * np.exp(noise * rng.standard_normal())
                    rows.append({"run": f"N{N:.0e}-D{D:.0e}-lr{lr:.3g}-B{B:.0f}", "N": N, "D": D, "lr": lr, "batch_size": B,
                                 "loss": L})
    return pd.DataFrame(rows)


def test_bowls_and_both_estimates_recover_the_power_laws():
    res = hyperparam_laws(sweep(), "loss", n_boot=100, seed=0)
    assert len(res.bowls) == 9 and res.unbracketed == ()
    for b in res.bowls:
        assert b.lr_opt == pytest.approx(TRUTH["c_lr"] * b.N ** TRUTH["a_lr"] * b.D ** TRUTH["b_lr"], rel=0.1)
        assert b.B_opt == pytest.approx(TRUTH["c_B"] * b.D ** TRUTH["b_B"], rel=0.1)
    for law, a, bb in ((res.lr, TRUTH["a_lr"], TRUTH["b_lr"]), (res.B, 0.0, TRUTH["b_B"]),
                       (res.lr_near, TRUTH["a_lr"], TRUTH["b_lr"]), (res.B_near, 0.0, TRUTH["b_B"])):
        assert abs(law.fit.params["a"] - a) <= 0.05 and abs(law.fit.params["b"] - bb) <= 0.05, law.name
        for k, v in (("a", a), ("b", bb)):
            lo, hi = law.ci[k]
            assert lo <= v <= hi, (law.name, k, lo, v, hi)
    ans = res.answer(3e9, 1e11)
    truth = TRUTH["c_lr"] * 3e9 ** TRUTH["a_lr"] * 1e11 ** TRUTH["b_lr"]
    assert ans["lr"] == pytest.approx(truth, rel=0.15) and ans["lr_ci"][0] <= truth <= ans["lr_ci"][1]


def test_the_cost_of_being_off_by_2x_is_read_from_the_bowl():
    res = hyperparam_laws(sweep(noise=0.0), "loss", n_boot=0)
    pen = res.bowls[0].penalty(2.0)
    x = np.log(2.0)  # loss x (1 + 0.004 x^2): 0.19% for lr off by 2x, 0.096% for B
    assert pen["lr"] == pytest.approx(0.004 * x * x, rel=0.05) and pen["B"] == pytest.approx(0.002 * x * x, rel=0.05)


def test_a_grid_that_misses_the_optimum_is_flagged():
    f = sweep(lr_grid=np.geomspace(1e-2, 1e-1, 6))  # every optimum lies below 1e-2
    res = hyperparam_laws(f, "loss", n_boot=0)
    assert len(res.unbracketed) == 9 and all("learning rate" in u for u in res.unbracketed)


def test_steplaw_moe_leave_one_cell_out_lands_within_0_3_percent_of_each_cells_best():
    """Every estimate's predicted (lr*, B*) for a held-out cell, read from that cell's own bowl, within 0.3% of its best
    run (bowls 0.15%, near-optimal 0.17%, surface 0.18% worst)."""
    raw = pd.read_csv(shared_file("steplaw_moe", "steplaw_moe.csv")).rename(columns={"params": "N", "tokens": "D"})
    worst = dict.fromkeys(("bowls", "near", "surface"), 0.0)
    cells = list(raw.groupby(["N", "D"]))
    assert len(cells) == 16
    for (N, D), cell in cells:
        rest = raw[~((raw["N"] == N) & (raw["D"] == D))]
        res = hyperparam_laws(rest, "smooth_loss", n_boot=0)
        bowl = fit_bowl(cell, "smooth_loss")
        s = res.surface
        for est, (lr, B) in {"bowls": (res.lr.predict(N, D), res.B.predict(N, D)),
                             "near": (res.lr_near.predict(N, D), res.B_near.predict(N, D)),
                             "surface": (s.optimum(N, D, "lr"), s.optimum(N, D, "B"))}.items():
            gap = bowl.loss_at(lr, B) / cell["smooth_loss"].min() - 1
            worst[est] = max(worst[est], gap)
            assert gap <= 0.003, (est, N, D, gap)
    assert min(worst.values()) > 0  # the predicted settings are not the best runs themselves


def test_the_loss_surface_recovers_the_power_laws_with_the_truth_inside_its_intervals():
    res = hyperparam_laws(sweep(), "loss", n_boot=100, seed=0)
    s = res.surface
    assert s is not None and s.fit.success
    truth = {"a_lr": TRUTH["a_lr"], "b_lr": TRUTH["b_lr"], "a_B": 0.0, "b_B": TRUTH["b_B"], "k_lr": 0.004, "k_B": 0.002}
    for k, v in truth.items():
        assert abs(s.fit.params[k] - v) <= (0.05 if not k.startswith("k_") else 0.0005), (k, s.fit.params[k])
        lo, hi = s.fit.ci[k]
        assert lo <= v <= hi, (k, lo, v, hi)
    # the core's result shape over all three estimates, one bootstrap count
    assert res.params["surface.b_B"] == s.fit.params["b_B"] and res.ci["lr.a"] == res.lr.ci["a"]
    assert res.draws["surface"].shape == (100, len(s.form.param_names)) and res.success


def test_the_surface_form_is_the_formula_it_states():
    """The hand-written derivatives compute the same law as scalekit.Law(FORMULA)."""
    from scalekit.analyses.hparam_surface import FORMULA, SurfaceForm
    from scalekit.laws.formula import Law

    form = SurfaceForm(3e8, 8e9)
    p = {"E": 1.8, "A": 400.0, "alpha": 0.34, "G": 390.0, "beta": 0.28, "k_lr": 0.004, "c_lr": 0.075, "a_lr": -0.35,
         "b_lr": 0.1, "k_B": 0.002, "c_B": 3.0, "a_B": 0.02, "b_B": 0.5, "k_x": 0.001}
    law = Law(FORMULA, variables=["N", "D", "lr", "B"])
    rng = np.random.default_rng(1)
    X = np.column_stack([10 ** rng.uniform(8, 9, 20), 10 ** rng.uniform(9, 10.5, 20), 10 ** rng.uniform(-4, -2, 20),
                         10 ** rng.uniform(4.5, 6.5, 20)])
    ours = form.log_predict(form.internal(p), np.log(X))
    theirs = law.log_predict(law.internal(p), np.log(X))
    assert np.allclose(ours, theirs, rtol=1e-12)
    assert np.allclose(form.natural(form.internal(p)), [p[k] for k in form.param_names])
    # analytic Jacobian against finite differences
    th = form.internal(p)[None]
    _, J = form.log_predict_jac(th, np.log(X))
    for i in range(th.shape[1]):
        e = np.zeros_like(th)
        e[0, i] = 1e-6
        fd = (form.log_predict(th + e, np.log(X)) - form.log_predict(th - e, np.log(X))) / 2e-6
        assert np.allclose(J[0, :, i], fd[0], atol=1e-7), form.internal_names[i]


def test_answers_where_the_user_will_train():
    res = hyperparam_laws(sweep(), "loss", n_boot=100, seed=0)
    N, D = 3e9, 1e11
    (a,) = answers(res, [("target", N, D)], seq_len=2048)
    lr_true = TRUTH["c_lr"] * N ** TRUTH["a_lr"] * D ** TRUTH["b_lr"]
    B_true = TRUTH["c_B"] * D ** TRUTH["b_B"]
    for est in ("bowls", "near", "surface"):
        v, (lo, hi) = a.lr[est]
        assert lo <= lr_true <= hi and v == pytest.approx(lr_true, rel=0.15), est
        v, (lo, hi) = a.B[est]
        assert lo <= B_true <= hi, est
        assert a.B_seq[est][0] == pytest.approx(v / 2048)
    assert a.extrapolation == {"N": pytest.approx(3.0), "D": pytest.approx(1e11 / 3.2e10)}
    x2 = np.log(2.0) ** 2
    assert a.penalty_2x["lr"][0] == pytest.approx(0.004 * x2, rel=0.05)
    assert a.penalty_2x["B"][0] == pytest.approx(0.002 * x2, rel=0.05)
    lo, hi = a.within["lr"]  # loss x (1 + 0.004 x^2) <= 1.0025: |x| <= sqrt(0.0025 / 0.004)
    assert np.log(hi / lo) / 2 == pytest.approx(np.sqrt(0.0025 / 0.004), rel=0.03)
