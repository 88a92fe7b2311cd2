"""Loss-to-loss transfer inside a batch, and the transfer check reading it."""

from __future__ import annotations

import numpy as np
import pandas as pd

import scalekit

from ..helpers import law


def two_losses(kappa: float = 2.2, noise: float = 0.001, seed: int = 0, broken: bool = False) -> pd.DataFrame:
    """Curves of a loss A from a known law, and B = K (A - E_A)^kappa + E_B (a map the laws cannot share)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(1e7, 3.2e8, 6):
        for Dt in np.geomspace(2e9, 3.2e10, 4):
            for i, t in enumerate(np.geomspace(0.1, 1.0, 8)):
                a = law(N, t * Dt)
                b = 0.9 * (a - 1.7) ** kappa + 1.1
                if broken:  # B stops following A for the largest models
                    b = b * (1 + 0.08 * (N > 1e8))
                rows.append({"run": f"N{N:.3g}-D{Dt:.3g}", "params": N, "tokens": t * Dt, "step": i + 1,
                             "a_loss": a * np.exp(noise * rng.standard_normal()),
                             "b_loss": b * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_laws_that_differ_but_are_joined_by_a_map_transfer_through_it():
    an = scalekit.analyze(scalekit.load_batch(two_losses()), n_boot=100)
    t = an.transfers["b_loss"]
    assert t.source == "a_loss" and t.fits_well and t.map is not None
    assert abs(t.map.params["kappa"] - 2.2) < 0.25 and t.map.rmse < 0.005
    # held out at the largest size, B through A's law and the map beats B's own law
    assert t.backtest is not None and t.backtest.error_via_map < 0.01 < t.backtest.error_own_law
    (f,) = [f for f in an.findings if f.check == "transfer"]
    assert f.severity == "info" and "transfers through" in f.title and "map RMSE" in f.message
    s = an.summary()
    assert s["transfer"]["b_loss"]["fits_well"] is True and s["transfer"]["b_loss"]["map"]["params"]["kappa"] > 1.9


def test_a_map_that_does_not_hold_says_transfer_fails():
    an = scalekit.analyze(scalekit.load_batch(two_losses(broken=True)), n_boot=100)
    t = an.transfers["b_loss"]
    assert not t.fits_well
    fs = [f for f in an.findings if f.check == "transfer"]
    assert fs and fs[0].severity == "warning" and "does not fit either" in fs[0].message


def test_one_loss_has_no_transfer_section():
    df = two_losses().drop(columns="b_loss")
    an = scalekit.analyze(scalekit.load_batch(df), n_boot=20)
    assert an.transfers == {} and "transfer" not in an.summary()
