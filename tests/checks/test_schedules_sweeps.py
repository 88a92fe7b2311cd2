"""Checks that read schedules and sweeps: finished cosine runs are converged, truncated ones are not; a sweep is
reduced to its best runs; overfitting is told apart from inversions at every data size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.data.schedule import Schedule
from scalekit.laws.schedule_law import annealing_areas

from ..helpers import finals_frame, law


def cosine_frame(*, cut: float = 1.0, noise: float = 0.002, seed: int = 0, lr_column: bool = True) -> pd.DataFrame:
    """Runs on cosine schedules (to 0) whose loss follows the schedule law; ``cut`` < 1 stops every run early."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in (1e7, 3e7, 1e8, 3e8):
        for T in (2000, 4000, 8000, 16000):
            lr = Schedule("cosine", warmup=0.01).lr(np.arange(T + 1), T)
            S1, S2 = annealing_areas(lr)
            for s in np.unique(np.geomspace(T / 20, T, 25).astype(int)):
                if s > cut * T:
                    break
                loss = 1.7 + 400 / N ** 0.34 + 25 * S1[s] ** -0.5 - 2e-4 * S2[s]
                row = {"run": f"N{N:.0e}-T{T}", "params": N, "step": s, "tokens": s * 2e5,
                       "loss": loss * np.exp(noise * rng.standard_normal())}
                if lr_column:
                    row["lr"] = 3e-3 * lr[s]
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def finished():
    return scalekit.analyze(scalekit.load_batch(cosine_frame()), n_boot=100, n_boot_optimal=50)


def test_finished_cosine_runs_are_not_unconverged(finished):
    assert finished.batch.lr_column == "lr" and finished.batch.has_schedule
    assert not [f for f in finished.findings if f.check == "not_converged"], [f.message for f in finished.findings]


def test_without_schedule_the_slope_test_blames_a_finished_run():
    # the bug this fixes: the anneal's steep last stretch read as "still improving"
    an = scalekit.analyze(scalekit.load_batch(cosine_frame(lr_column=False)), n_boot=100, n_boot_optimal=50)
    assert [f for f in an.findings if f.check == "not_converged"]


def test_truncated_cosine_runs_are_unconverged():
    an = scalekit.analyze(scalekit.load_batch(cosine_frame(cut=0.6)), n_boot=100, n_boot_optimal=50)
    (f,) = [f for f in an.findings if f.check == "not_converged"]
    assert len(f.evidence["runs"]) >= 12 and "Stopped mid-schedule" in f.message
    st = f.evidence["schedule"][0]
    assert st["state"] == "mid_decay" and 0.2 < st["lr_fraction"] < 0.5  # cosine at 60%: 35% of the peak


def test_declared_schedule_without_lr_column():
    df = cosine_frame(lr_column=False)
    an = scalekit.analyze(scalekit.load_batch(df, schedule={"kind": "cosine", "warmup": 0.01}), n_boot=100, n_boot_optimal=50)
    assert not [f for f in an.findings if f.check == "not_converged"]
    # the same truncated runs, told their planned length, are stopped mid-decay
    cut = df[df["step"] <= 0.6 * df["run"].str.extract(r"T(\d+)")[0].astype(float)]
    b = scalekit.load_batch(cut[cut["run"].str.endswith("T8000")].assign(run=lambda d: d["run"]),
                            schedule={"kind": "cosine", "total": 8000})
    from scalekit.data.schedule import run_status
    assert {s.state for s in run_status(b.frame, b.schedule).values()} == {"mid_decay"}


def test_envelope_uses_endpoints_when_runs_decay_to_their_end(finished):
    env = finished.primary.optimal["envelope"]
    assert any("endpoint only" in n for n in env.notes)
    assert env.points["step"].isin(finished.batch.finals()["step"]).all()


def sweep_frame(*, noise: float = 0.002, seed: int = 0) -> pd.DataFrame:
    """An LR sweep at every (N, D): the best LR falls as N^-0.35; the loss grows with log(lr / best)^2."""
    rng = np.random.default_rng(seed)
    rows = []
    lrs = 1e-4 * 2 ** (np.arange(0, 22) / 2)
    for N in np.geomspace(1e7, 1e9, 6):
        for D in np.geomspace(2e9, 5e10, 5):
            best = 3e-3 * (N / 1e7) ** -0.35
            for lr in lrs:
                v = law(N, D) * (1 + 0.04 * np.log(lr / best) ** 2) * np.exp(noise * rng.standard_normal())
                rows.append({"params": N, "tokens": D, "lr": lr, "batch_size": 256, "loss": v})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sweep():
    return scalekit.analyze(scalekit.load_batch(sweep_frame(), hparams=["lr"]), n_boot=200, n_boot_optimal=50)


def test_sweep_best_per_cell_and_exponents(sweep):
    b, df = sweep.batch, sweep_frame()
    assert b.runs == 30 and b.sweep is not None and b.sweep["run"].nunique() == len(df)
    best = df.loc[df.groupby(["params", "tokens"])["loss"].idxmin()]
    got = b.frame.sort_values(["N", "D"])
    assert np.allclose(got["lr"].to_numpy(), best.sort_values(["params", "tokens"])["lr"].to_numpy())
    p = sweep.primary.fit.params
    assert abs(p["alpha"] - 0.34) < 0.03 and abs(p["beta"] - 0.28) < 0.03 and abs(p["E"] - 1.7) < 0.05
    k = sweep.sweeps["loss"].moves["lr"]
    assert abs(k["k"] + 0.35) < 0.05 and k["k_ci"][0] < -0.35 < k["k_ci"][1]


def test_sweep_has_no_false_findings(sweep):
    # Nothing blames the sweep on overfitting or shape; the one warning allowed is true of any batch:
    # 1% better than the best run needs a model just beyond the largest trained (the extrapolation check).
    sweep_findings = [f for f in sweep.findings if not (f.check == "extrapolation" and "beyond the largest trained" in f.message)]
    assert all(f.severity == "info" and f.check == "hparams" for f in sweep_findings), [f.message for f in sweep_findings]
    (f,) = sweep_findings
    assert "moves with model size" in f.title and f.evidence["hparam"] == "lr"


def test_sweep_in_summary_and_report(sweep):
    s = sweep.summary()
    assert s["hparams"]["loss"]["moves"]["lr"]["k"] == pytest.approx(-0.35, abs=0.05)
    assert len(s["hparams"]["loss"]["best"]) == 30 and s["hparams"]["loss"]["sensitivity"]
    assert "schedule_law" not in s


def test_undeclared_sweep_gets_a_finding():
    an = scalekit.analyze(scalekit.load_batch(sweep_frame()), n_boot=50, n_boot_optimal=20)
    (f,) = [f for f in an.findings if f.check == "hparams"]
    assert f.severity == "warning" and f.evidence["column"] == "lr" and "hparams: [lr]" in f.remedy
    assert f.evidence["cells"] == 30
    assert "hparams" not in an.summary()


def test_overfitting_at_small_data_only_is_overfitting():
    # final points only: the two largest models are worse than smaller ones at the two smallest data sizes
    def value(N, D):
        return law(N, D) * (1 + 0.08 * (N >= 1.6e8) * np.log2(N / 8e7) * (D <= 4e9))
    an = scalekit.analyze(scalekit.load_batch(finals_frame(value=value)), n_boot=200)
    (f,) = [f for f in an.findings if f.check == "overfitting"]
    assert f.evidence["likely"] and "(likely)" in f.title
    assert {c["D"] for c in f.evidence["cells"]} <= {2e9, 4e9} and {c["N"] for c in f.evidence["cells"]} >= {3.2e8}
    assert not [f for f in an.findings if f.check == "non_monotonic"]


def test_inversions_at_every_data_size_point_to_shape_or_hyperparameters():
    def value(N, D):
        return law(N, D) * (1 + 0.15 * (N >= 1.6e8) * np.log2(N / 8e7))
    an = scalekit.analyze(scalekit.load_batch(finals_frame(value=value)), n_boot=200)
    assert not [f for f in an.findings if f.check == "overfitting"]
    (f,) = [f for f in an.findings if f.check == "non_monotonic"]
    assert f.evidence["every_data_size"] and "hyperparameters" in f.message and "hparams" in f.remedy
