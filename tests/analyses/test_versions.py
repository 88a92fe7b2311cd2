"""Shared-exponent fits across versions: effective-compute multipliers and crossovers against known truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.analyses.versions import compare_versions
from scalekit.examples import TRUTH, example_source
from scalekit.laws.evaluate import frontier_error


def test_perception_v2_multiplier_matches_the_generating_laws():
    frame, cfg = example_source("perception")
    vc = compare_versions(scalekit.load_batch(frame, **cfg), form="kaplan", n_boot=50)
    t1, t2 = TRUTH["perception v1"]["map"], TRUTH["perception v2"]["map"]
    # same exponents: v2 is v1 with N and D scaled by N_c1/N_c2 and D_c1/D_c2, so compute by their product
    true_m = (t1["N_c"] / t2["N_c"]) * (t1["D_c"] / t2["D_c"])
    lo, hi = vc.multiplier_ci["v2"]
    assert vc.multiplier["v2"] == pytest.approx(true_m, rel=0.03) and lo <= true_m * 1.01 and hi >= true_m * 0.99
    assert vc.crossover["v2"] is None and vc.fit.params["alpha_D"] == pytest.approx(0.3, rel=0.03)
    s = vc.summary()
    assert set(s["shared"]) == {"alpha_N", "alpha_D"} and "1.69x" in s["sentence"]


def test_crossing_frontiers_are_found():
    p1 = {"E": 1.8, "A": 300.0, "B": 300.0, "alpha": 0.34, "beta": 0.28}
    p2 = {"E": 1.6, "A": 600.0, "B": 600.0, "alpha": 0.34, "beta": 0.28}  # worse when small, better when large
    rows = []
    for v, p in (("a", p1), ("b", p2)):
        for N in np.geomspace(1e7, 1e9, 6):
            for D in np.geomspace(1e9, 1e11, 5):
                rows.append({"params": N, "tokens": D, "version": v, "run": f"{v}-{N:.3g}-{D:.3g}",
                             "loss": p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]})
    vc = compare_versions(scalekit.load_batch(pd.DataFrame(rows)), n_boot=0)
    logC = np.linspace(np.log(1e10), np.log(1e30), 4001)
    d = np.log(frontier_error(p2, np.exp(logC))) - np.log(frontier_error(p1, np.exp(logC)))
    true_cross = float(np.exp(logC[np.flatnonzero(np.diff(np.sign(d)))[0]]))
    assert vc.crossover["b"] == pytest.approx(true_cross, rel=0.05)
    assert vc.fit.params["E[b]"] == pytest.approx(1.6, rel=1e-3)


def test_one_version_is_a_clear_error():
    frame, cfg = example_source("perception")
    b = scalekit.load_batch(frame[frame["version"] == "v1"], **cfg)
    with pytest.raises(scalekit.FitError, match="two or more values"):
        compare_versions(b)
    with pytest.raises(scalekit.ConfigError, match="shared-exponent"):
        compare_versions(scalekit.load_batch(frame, **cfg), form="broken")
