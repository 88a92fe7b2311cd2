"""Critical batch size on synthetic sweeps drawn from McCandlish et al.'s trade-off with a known B_noise = k D^0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalekit.analyses.critical_batch import critical_batch, steps_to_target


def sweep(noise: float = 0.001, seed: int = 0, k: float = 8.0, b: float = 0.5, a: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for N in (1e8, 4e8, 1.6e9):
        for D in (1e9, 1e10, 1e11):
            B_noise = k * N ** a * D ** b
            S_min = 2000.0 * (N / 1e8) ** 0.1
            for B in 2.0 ** np.arange(15, 24):
                S_target = S_min * (1 + B_noise / B)
                steps = np.geomspace(S_target / 20, S_target * 5, 60)
                loss = 3.0 * (steps / S_target) ** -0.08 * np.exp(noise * rng.standard_normal(steps.size))
                run = f"N{N:.0e}-D{D:.0e}-B{int(B)}"
                rows += [{"run": run, "N": N, "D": D, "batch_size": B, "step": s, "loss": v} for s, v in zip(steps, loss)]
    return pd.DataFrame(rows)


def test_steps_to_target_interpolates_the_crossing():
    steps = np.geomspace(10, 1000, 50)
    assert steps_to_target(steps, 3.0 * (steps / 200.0) ** -0.1, 3.0) == pytest.approx(200.0, rel=1e-9)
    assert np.isnan(steps_to_target(steps, np.full(50, 4.0), 3.0))


def test_recovers_the_data_exponent_and_no_model_size_trend():
    res = critical_batch(sweep(), target=3.0, n_boot=200, seed=0)
    assert len(res.cells) == 9 and res.skipped == ()
    for c in res.cells:
        truth = 8.0 * c.D ** 0.5
        assert c.B_crit == pytest.approx(truth, rel=0.05)
        lo, hi = c.B_crit_ci
        assert lo <= truth <= hi
        assert c.E_min == pytest.approx(c.S_min * c.B_crit)
    t = res.trend
    assert abs(t.params["b"] - 0.5) <= 0.05 and abs(t.params["a"]) <= 0.05
    lo, hi = t.ci["a"]
    assert lo <= 0.0 <= hi
    assert res.predict(1e9, 1e12) == pytest.approx(8.0 * 1e6, rel=0.1)


def test_a_cell_with_too_few_batch_sizes_is_skipped_with_the_reason():
    f = sweep()
    f = f[~((f["N"] == 1e8) & (f["D"] == 1e9) & (f["batch_size"] > 2.0 ** 16))]
    res = critical_batch(f, target=3.0, n_boot=0)
    assert len(res.cells) == 8 and len(res.skipped) == 1 and "needs 3 or more" in res.skipped[0]
