"""Law forms and the engine's derivatives."""

from __future__ import annotations

import numpy as np
import pytest

from scalekit import ConfigError
from scalekit.laws.engine import Problem
from scalekit.laws.forms import POWER, SATURATING, TWO_VAR, get_form


def test_natural_internal_round_trip_and_prediction():
    p = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    th = TWO_VAR.internal(p)
    assert dict(zip(TWO_VAR.param_names, TWO_VAR.natural(th))) == pytest.approx(p)
    N, D = np.array([1e8, 1e9]), np.array([1e9, 2e10])
    direct = p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]
    np.testing.assert_allclose(np.exp(TWO_VAR.log_predict(th, np.log(np.c_[N, D]))), direct, rtol=1e-12)
    g = POWER.internal({"G": 0.1, "a": 0.5})
    np.testing.assert_allclose(np.exp(POWER.log_predict(g, np.log([[1e20]]))), 0.1 * 1e10, rtol=1e-12)
    assert SATURATING.param_names == ("E", "A", "alpha")


def test_unknown_form_is_a_config_error():
    assert get_form("chinchilla") is TWO_VAR
    with pytest.raises(ConfigError, match="unknown law form"):
        get_form("kaplan_typo")


@pytest.mark.parametrize("delta", [1e-3, np.inf])
def test_gradient_and_hessian_match_finite_differences(delta):
    rng = np.random.default_rng(0)
    logx = np.log(np.c_[rng.uniform(1e7, 1e9, 40), rng.uniform(1e9, 1e11, 40)])
    logy = TWO_VAR.log_predict(TWO_VAR.internal({"E": 1.7, "A": 400, "B": 410, "alpha": 0.34, "beta": 0.28}), logx)
    logy = logy + 0.01 * rng.standard_normal(40)
    prob = Problem(TWO_VAR, logx, logy, delta)
    th = TWO_VAR.internal({"E": 1.5, "A": 300, "B": 500, "alpha": 0.3, "beta": 0.3})[None]
    w = rng.integers(0, 3, size=(1, 40)).astype(float)
    _, g, H = prob.derivatives(th, w)
    eps = 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = eps
        fp, gp, _ = prob.derivatives(th + e, w)
        fm, gm, _ = prob.derivatives(th - e, w)
        assert g[0, j] == pytest.approx((fp - fm)[0] / (2 * eps), rel=1e-4, abs=1e-9)
        np.testing.assert_allclose(H[0, :, j], (gp - gm)[0] / (2 * eps), rtol=1e-3, atol=1e-7)


def test_products_cut_into_pieces_for_serial_blas_are_the_whole_product(monkeypatch):
    from scalekit.laws import blocks

    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((9, 1000)), rng.standard_normal((1000, 6))
    monkeypatch.setattr(blocks, "SERIAL_MNK", 9 * 6 * 300)  # pieces of 300 rows: 4 of them, the last one short
    np.testing.assert_allclose(blocks.serial_matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(blocks, "SERIAL_MNK", 1)  # one row at a time
    np.testing.assert_allclose(blocks.serial_matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
    sa, sb = rng.standard_normal((3, 5, 1000)), rng.standard_normal((3, 1000, 5))  # stacked, as general.py's Hessians
    np.testing.assert_allclose(blocks.serial_matmul(sa, sb), sa @ sb, rtol=1e-12, atol=1e-12)
