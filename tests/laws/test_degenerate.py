"""Degenerate data is an error or a finding, never a confident law (issue 13, item 9)."""

from __future__ import annotations

import numpy as np
import pytest

import scalekit
from scalekit.exceptions import FitError
from scalekit.laws import blocks, core, engine
from scalekit.laws.fit import fit_curve

from ..helpers import finals_frame, law


def test_all_losses_identical_is_a_fit_error_and_a_critical_finding():
    df = finals_frame(value=lambda N, D: np.full(N.shape, 2.5), noise=0.0)
    with pytest.raises(FitError, match=r"every one of the 30 values is the same \(2.5\)"):
        scalekit.fit_law(df, n_boot=20)
    an = scalekit.analyze(scalekit.load_batch(df), n_boot=20, n_boot_optimal=10)
    assert an.primary.fit is None and "the same" in an.primary.fit_error
    assert [f.severity for f in an.findings if f.check == "no_scaling"] == ["critical"]


def test_metric_growing_with_scale_gets_a_critical_finding():
    df = finals_frame(value=lambda N, D: 10 - law(N, D))
    an = scalekit.analyze(scalekit.load_batch(df), n_boot=20, n_boot_optimal=10)
    (f,) = [f for f in an.findings if f.check == "no_scaling"]
    assert f.severity == "critical" and f.metric == "loss" and "gets worse" in f.message
    assert f.evidence["slope_log_error_per_log_C"] > 0 and f.evidence["relative_change"] > 0
    crit = [x for x in an.findings if x.severity == "critical"]
    assert list(an.findings[:len(crit)]) == crit and f in crit  # critical findings come first
    # the law fitted to it is not identified either (issue 20): a second critical finding, not a success
    assert [x.check for x in crit if x is not f] == ["identifiability"] * (len(crit) - 1) and len(crit) >= 2
    summary = an.summary()
    assert any(x["check"] == "no_scaling" and x["severity"] == "critical" for x in summary["findings"])


def test_a_metric_that_scales_does_not_get_it():
    an = scalekit.analyze(scalekit.load_batch(finals_frame()), n_boot=20, n_boot_optimal=10)
    assert not [f for f in an.findings if f.check == "no_scaling"]


def test_higher_is_better_metric_direction_is_respected():
    acc = finals_frame(value=lambda N, D: 1 - 0.8 * law(N, D) / law(1e7, 2e9), metric="accuracy")
    an = scalekit.analyze(scalekit.load_batch(acc), n_boot=10, n_boot_optimal=10)
    assert not [f for f in an.findings if f.check == "no_scaling"]  # accuracy rising with scale is scaling
    an = scalekit.analyze(scalekit.load_batch(acc.assign(accuracy=1.9 - acc["accuracy"]), metrics=[
        {"name": "accuracy", "direction": "max", "bound": 2}]), n_boot=10, n_boot_optimal=10)
    assert [f.severity for f in an.findings if f.check == "no_scaling"] == ["critical"]


def test_one_denormal_loss_is_not_a_successful_nan_fit():
    df = finals_frame(noise=0.0)
    df.loc[3, "loss"] = 1e-320
    try:
        fit = scalekit.fit_law(df, n_boot=0)
    except FitError as exc:
        assert "no finite optimum" in str(exc)
    else:
        assert all(np.isfinite(v) for v in fit.params.values()), fit.params


def noisy_grid(seed):
    """A 6 x 6 grid of (N, D) on the law, with 1% log-normal noise: x (36, 2), y (36,)."""
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.geomspace(1e7, 1e9, 6), np.geomspace(1e9, 1e11, 6), indexing="ij")
    x = np.column_stack([N.ravel(), D.ravel()])
    return x, law(x[:, 0], x[:, 1]) * np.exp(0.01 * rng.standard_normal(36))


def test_chunked_bootstrap_gives_the_same_numbers_as_one_solve(monkeypatch):
    """Resamples are independent problems: cutting them into chunks changes nothing but rounding.

    (BLAS sums over rows in blocks that depend on how many problems a call holds, so the last bits
    can move; below :data:`core.CHUNK_CELLS` nothing is chunked and the numbers are bit for bit
    those of one solve, which keeps the examples' summaries unchanged.)
    """
    x, y = noisy_grid(seed=4)
    whole = fit_curve(x, y, form="two_var", n_boot=60, seed=3)
    seen = []
    monkeypatch.setattr(core, "CHUNK_CELLS", 36 * 7)  # 7 resamples per chunk: 9 chunks, the last one short
    chunked = fit_curve(x, y, form="two_var", n_boot=60, seed=3, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (7, 60) and seen[-1] == (60, 60) and len(seen) == 9
    np.testing.assert_allclose(chunked.boot_theta, whole.boot_theta, rtol=1e-9, atol=0)
    np.testing.assert_allclose([chunked.params[k] for k in whole.params], list(whole.params.values()), rtol=1e-9)
    for k, (lo, hi) in whole.ci.items():
        np.testing.assert_allclose(chunked.ci[k], (lo, hi), rtol=1e-9)


def test_general_form_bootstrap_is_chunked_with_the_same_numbers(monkeypatch):
    """Forms fitted with the Gauss-Newton curvature are chunked too (their working arrays are rows x parameters):
    chunks change nothing, bit for bit, since every product is per problem."""
    x, y = noisy_grid(seed=6)
    whole = fit_curve(x, y, form="kaplan", n_boot=30, seed=3)
    seen = []
    monkeypatch.setattr(core, "CHUNK_CELLS", 36 * 4 * 7)  # 7 resamples of 36 rows x 4 parameters per chunk
    chunked = fit_curve(x, y, form="kaplan", n_boot=30, seed=3, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (7, 30) and seen[-1] == (30, 30) and len(seen) == 5
    np.testing.assert_array_equal(chunked.boot_theta, whole.boot_theta)


def test_resamples_solved_on_their_own_rows_give_the_same_numbers(monkeypatch):
    """Once a block (BLOCK_CELLS) holds one resample, each is solved alone on its rows of nonzero weight (the runs it drew):
    the same objective, so the same optimum up to rounding, whichever rows a resample left out."""
    x, y = noisy_grid(seed=5)
    whole = fit_curve(x, y, form="two_var", n_boot=40, seed=3)
    taken = []
    take = engine.Problem.take
    monkeypatch.setattr(engine.Problem, "take", lambda self, rows: taken.append(rows.size) or take(self, rows))
    monkeypatch.setattr(blocks, "BLOCK_CELLS", 60)  # 36 rows: one resample per block
    monkeypatch.setattr(core, "CHUNK_CELLS", 36 * 8)  # several chunks, as at 50,000 rows
    alone = fit_curve(x, y, form="two_var", n_boot=40, seed=3)
    assert len(taken) == 40 and max(taken) < 36  # every resample, each without the runs it did not draw
    np.testing.assert_allclose(alone.boot_theta, whole.boot_theta, rtol=1e-6, atol=1e-9)
    for k, (lo, hi) in whole.ci.items():
        np.testing.assert_allclose(alone.ci[k], (lo, hi), rtol=1e-6)
