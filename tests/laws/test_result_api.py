"""One result API: every public fit returns a frozen result with the same vocabulary (scalekit.laws.vocabulary).

Table-driven over every public fit: fit_law, fit_curve, fit_two_step, fit_loss_to_loss, fit_schedule_law and
compare_versions, each on synthetic data with a known law.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit import ConfigError
from scalekit.data.schedule import Schedule
from scalekit.examples import example_source
from scalekit.laws.schedule_law import annealing_areas
from scalekit.options import resolve_options


# --- synthetic batches with known laws -----------------------------------------------------------------------
def law_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e9, 1e11, 5)))
    loss = (1.7 + 400 / N ** 0.34 + 410 / D ** 0.28) * np.exp(0.003 * rng.standard_normal(N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": loss})


def ladder_frame() -> pd.DataFrame:
    """16 runs with 8 checkpoints: a bits-per-byte law and a sigmoid map to accuracy, with noise."""
    rng = np.random.default_rng(1)
    rows = []
    for N in np.geomspace(5e7, 6e8, 4):
        for m in (5, 10, 20, 40):
            for i, t in enumerate(np.linspace(0.2, 1.0, 8)):
                D = 20 * N * m / 10 * t
                bpb = (0.7 + 10 / N ** 0.22 + 20 / D ** 0.2) * np.exp(0.004 * rng.standard_normal())
                acc = -0.7 / (1 + np.exp(-7 * (bpb - 1.05))) + 0.95 + 0.006 * rng.standard_normal()
                rows.append({"run": f"N{N:.3g}-m{m}", "step": i + 1, "params": N, "tokens": D, "task_bpb": bpb,
                             "task_acc": acc})
    return pd.DataFrame(rows)


def two_loss_frame() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for N in np.geomspace(1e7, 1e9, 5):
        for Dt in np.geomspace(2e9, 1e11, 4):
            for i, t in enumerate(np.geomspace(0.05, 1.0, 6)):
                la = 1.7 + 400 / N ** 0.34 + 410 / (t * Dt) ** 0.28
                lb = 0.8 * (la - 1.7) ** 1.4 + 1.2
                rows.append({"run": f"{N:.3g}-{Dt:.3g}", "step": i + 1, "params": N, "tokens": t * Dt,
                             "a_loss": la * np.exp(0.002 * rng.standard_normal()),
                             "b_loss": lb * np.exp(0.002 * rng.standard_normal())})
    return pd.DataFrame(rows)


def curves_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for N in (1e8, 2e8):
        for T in (2000, 4000, 8000):
            lr = Schedule("cosine").lr(np.arange(T + 1), T)
            S1, S2 = annealing_areas(lr)
            for s in range(100, T + 1, 100):
                loss = (2.0 + 3.0 * S1[s] ** -0.4 - 4e-4 * S2[s]) * np.exp(0.002 * rng.standard_normal())
                rows.append({"run": f"N{N:.0e}-T{T}", "params": N, "step": s, "tokens": s * 1e6, "lr": lr[s], "loss": loss})
    return pd.DataFrame(rows)


def curve_points() -> tuple[np.ndarray, np.ndarray]:
    C = np.geomspace(1e18, 1e22, 12)
    return C, 0.1 * C ** 0.5 * np.exp(0.01 * np.random.default_rng(4).standard_normal(C.size))


@dataclass(frozen=True)
class Case:
    name: str
    fit: Callable[..., Any]  # fit(data, **overrides) -> result
    data: Callable[[], Any]
    point: tuple[Any, ...]  # positional arguments of predict
    point_kw: Mapping[str, Any] = None  # type: ignore[assignment]
    takes_path: bool = True


def _versions_data() -> Any:
    frame, cfg = example_source("perception")
    return scalekit.load_batch(frame, **cfg)


CASES = [
    Case("fit_law", lambda d, **kw: scalekit.fit_law(d, "loss", **kw), law_frame, (2e9, 2e11)),
    Case("fit_curve", lambda d, **kw: scalekit.fit_curve(*d, form="power", **kw), curve_points, (np.array([1e23, 1e24]),),
         takes_path=False),
    Case("fit_two_step", lambda d, **kw: scalekit.fit_two_step(d, "task_bpb", "task_acc", **kw), ladder_frame, (1e9, 4e10)),
    Case("fit_loss_to_loss", lambda d, **kw: scalekit.fit_loss_to_loss(d, "a_loss", "b_loss", **kw), two_loss_frame,
         (np.array([2.3, 2.6, 9.0]),)),
    Case("fit_schedule_law", lambda d, **kw: scalekit.fit_schedule_law(d, "loss", decay=0.999, **kw), curves_frame,
         (Schedule("cosine"), [4000, 16000]), {"size": 1e8}),
    Case("compare_versions", lambda d, **kw: scalekit.compare_versions(d, "map", form="kaplan", **kw), _versions_data,
         (5e7, 1e6, "v2"), takes_path=False),
]
IDS = [c.name for c in CASES]
_CACHE: dict[str, Any] = {}


def fitted(case: Case) -> Any:
    if case.name not in _CACHE:
        _CACHE[case.name] = case.fit(case.data(), n_boot=40, seed=0)
    return _CACHE[case.name]


def predict(case: Case, res: Any, **kw: Any) -> Any:
    return res.predict(*case.point, **(case.point_kw or {}), **kw)


# --- the vocabulary ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parameters_intervals_and_draws_agree(case):
    r = fitted(case)
    assert isinstance(r.form, str) or hasattr(r.form, "name")
    names = list(r.params)
    assert names and all(isinstance(v, float) for v in r.params.values())
    assert list(r.ci) == names and list(r.stderr) == names
    assert all(isinstance(v, tuple) and len(v) == 2 and v[0] <= v[1] for v in r.ci.values())
    # one name for the bootstrap draws, in the published parameters: the intervals are their percentiles
    assert isinstance(r.draws, np.ndarray) and r.draws.shape[1] == len(names)
    lo, hi = np.nanpercentile(r.draws, [2.5, 97.5], axis=0)
    np.testing.assert_allclose([r.ci[k] for k in names], np.column_stack([lo, hi]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([r.stderr[k] for k in names], np.nanstd(r.draws, axis=0, ddof=1), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fit_quality_fields(case):
    r = fitted(case)
    assert np.isfinite(r.objective) and r.objective >= 0
    assert isinstance(r.ndata, int) and r.ndata > 0
    assert isinstance(r.success, bool) and r.success, r.message
    assert isinstance(r.message, str) and r.message
    assert r.residual_scale in ("log", "linear")
    assert isinstance(r.residuals, np.ndarray) and r.residuals.size == r.ndata
    assert float(np.sqrt(np.mean(r.residuals ** 2))) < 0.05  # the known law is found


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_results_are_read_only_and_compare_by_identity(case):
    r = fitted(case)
    k = next(iter(r.params))
    with pytest.raises(TypeError):
        r.params[k] = -1.0
    with pytest.raises(TypeError):
        r.ci[k] = (0.0, 1.0)
    with pytest.raises(TypeError):
        r.params.update({k: 0.0})
    with pytest.raises(AttributeError):
        r.message = "edited"
    assert dict(r.params)[k] == r.params[k]  # an editable copy is one call away
    assert pickle.loads(pickle.dumps(dict(r.params))) == dict(r.params)
    assert pickle.loads(pickle.dumps(r.params)) == r.params
    other = case.fit(case.data(), n_boot=0)
    assert (r == r) is True and (r == other) is False and r != other  # never raises, although both hold arrays
    assert len({r, other}) == 2


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_predict_gives_an_array_or_a_prediction_with_extrapolation(case):
    r = fitted(case)
    value = predict(case, r, warn=False) if case.name in ("fit_law", "fit_curve") else predict(case, r)
    assert isinstance(value, np.ndarray) and np.all(np.isfinite(value))
    for kind in ("confidence", "prediction"):
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", scalekit.ExtrapolationWarning)
                p = predict(case, r, interval=kind, level=0.9)
        assert isinstance(p, scalekit.Prediction) and p.kind == kind and p.level == 0.9
        np.testing.assert_allclose(p.value, value)
        assert np.all(p.lo <= p.value + 1e-12) and np.all(p.value <= p.hi + 1e-12)
        assert p.extrapolation and all(np.shape(v) == np.shape(p.value) for v in p.extrapolation.values())
        assert all(np.all(np.asarray(v) >= 1) for v in p.extrapolation.values())
        json.dumps(p.summary(), allow_nan=False)
    for bad in ("bayes", "Confidence", ""):
        with pytest.raises(ConfigError, match="interval must be None, 'confidence' or 'prediction'"):
            predict(case, r, interval=bad)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_summary_is_plain_json(case):
    s = fitted(case).summary()
    assert isinstance(s, dict)
    json.dumps(s, allow_nan=False)


# --- inputs and options ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [c for c in CASES if c.takes_path], ids=[c.name for c in CASES if c.takes_path])
def test_every_fit_takes_a_batch_a_frame_or_a_path(case, tmp_path):
    frame = case.data()
    path = tmp_path / "runs.csv"
    frame.to_csv(path, index=False)
    results = [case.fit(frame, n_boot=0), case.fit(str(path), n_boot=0), case.fit(path, n_boot=0),
               case.fit(scalekit.load_batch(frame), n_boot=0)]
    for r in results[1:]:
        assert list(r.params) == list(results[0].params)
        np.testing.assert_allclose(list(r.params.values()), list(results[0].params.values()), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_options_and_overrides_come_from_the_one_schema(case):
    data = case.data()
    quiet = resolve_options({"n_boot": 0})
    assert case.fit(data, options=quiet).draws is None and case.fit(data, options=quiet).ci is None
    r = case.fit(data, options=quiet, n_boot=25, seed=1)  # keyword overrides beat options
    assert r.draws is not None and len(r.draws) <= 25
    with pytest.raises(ConfigError, match="n_boot"):
        case.fit(data, n_boot=-1)
    with pytest.raises(ConfigError, match="unknown"):
        case.fit(data, n_boots=10)


def test_bootstrap_defaults_come_from_the_schema():
    """No fit carries its own n_boot default: without one, each uses the schema's (Options().n_boot)."""
    r = scalekit.fit_loss_to_loss(two_loss_frame(), "a_loss", "b_loss")
    assert r.method["n_boot"] == scalekit.Options().n_boot
    law = scalekit.fit_curve(*curve_points(), form="power")
    assert law.method["n_boot"] == scalekit.Options().n_boot


def test_every_returned_type_is_exported():
    returned = [type(fitted(c)) for c in CASES] + [scalekit.Prediction]
    frame, cfg = example_source("perception")
    batch = scalekit.load_batch(frame, **cfg)
    returned += [type(scalekit.select_form(batch.select_version("v1"), "map", n_boot_backtest=0, n_boot=0))]
    for t in returned:
        assert getattr(scalekit, t.__name__) is t, t
    for name in ("TransferBacktest", "VersionComparison", "Selection", "CostCurve", "CurveLaw", "Summary"):
        assert name in scalekit.__all__ and isinstance(getattr(scalekit, name), type)
