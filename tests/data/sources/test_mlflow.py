"""MLflow stores written by the real MLflow client (SQLite, mlruns/, and a real `mlflow server`), read back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scalekit
from scalekit.data.sources import SourceError, detect_source, read_source, read_sources

from .law import STEPS, Run, assert_law_recovered, expected_frame, ladder

# MLflow 3 reports usage to its telemetry service unless told not to: these tests connect to nothing outside
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
if not os.environ.get("CI"):  # CI installs scalekit[test], which has scalekit[mlflow]: there a missing client fails
    pytest.importorskip("mlflow", reason='needs pip install "scalekit[mlflow]"')

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient


def log_run(client: MlflowClient, experiment_id: str, run: Run, *, extra_params: dict[str, str] | None = None) -> str:
    """One run as a training script logs it: params (strings in MLflow), a tag, both losses at each step."""
    r = client.create_run(experiment_id, run_name=run.name, tags={"family": "ladder"})
    rid = str(r.info.run_id)
    ts = int(time.time() * 1000)
    metrics = []
    for step, _, loss in run.points():
        metrics.append(Metric("eval_loss", loss, ts + step, step))
        metrics.append(Metric("train_loss", run.train_loss(step), ts + step, step))
    params = {"n_params": f"{run.n:g}", "tokens": f"{run.d:g}", "lr": "0.0003", **(extra_params or {})}
    client.log_batch(rid, metrics=metrics, params=[Param(k, v) for k, v in params.items()], tags=[RunTag("stage", "final")])
    client.set_terminated(rid)
    return rid


def experiment_id(client: MlflowClient, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    assert exp is not None
    return str(exp.experiment_id)


def make_store(uri: str, experiments: dict[str, list[Run]]) -> MlflowClient:
    client = MlflowClient(tracking_uri=uri)
    for name, runs in experiments.items():
        eid = client.create_experiment(name)
        for run in runs:
            log_run(client, eid, run)
    return client


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{db}"
    make_store(uri, {"ladder": ladder(), "other": ladder()[:3]})
    return uri, db


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, MlflowClient]:
    """One more store for the tests that add experiments of their own (creating a database takes seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow-scratch') / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri)


def check_ladder_frame(frame: Any) -> None:
    want = expected_frame()
    got = frame.sort_values(["run", "step"]).reset_index(drop=True)
    assert len(got) == len(want) == 12 * len(STEPS)
    assert got["run"].nunique() == 12
    assert list(got["run"]) == list(want["run"])
    assert list(got["step"]) == list(want["step"])
    np.testing.assert_array_equal(got["eval_loss"].to_numpy(), want["eval_loss"].to_numpy())  # float64 end to end
    by_run = {r.name: r for r in ladder()}
    np.testing.assert_array_equal(got["n_params"].to_numpy(), [by_run[r].n for r in got["run"]])
    np.testing.assert_array_equal(got["tokens"].to_numpy(), [by_run[r].d for r in got["run"]])
    assert (got["lr"] == 3e-4).all()
    assert (got["family"] == "ladder").all() and (got["stage"] == "final").all()
    assert (got["status"] == "FINISHED").all() and got["run_id"].str.len().eq(32).all()


def test_sqlite_store_reads_one_row_per_run_and_step(sqlite_store: tuple[str, Path]) -> None:
    uri, _ = sqlite_store
    table = read_source(uri, experiment="ladder")
    assert table.name == "ladder" and table.kind == "mlflow"
    assert table.source == f"mlflow {uri} experiment 'ladder'"
    assert set(table.metrics) == {"eval_loss", "train_loss"}
    assert {"n_params", "tokens", "lr", "family", "stage", "run_id", "status"} <= set(table.run_columns)
    check_ladder_frame(table.frame)


def test_sqlite_store_fit_recovers_the_law(sqlite_store: tuple[str, Path]) -> None:
    table = read_source(sqlite_store[0], experiment="ladder")
    assert_law_recovered(table.frame, "eval_loss", **table.batch_config())


def test_plain_path_to_the_database_reads_the_same(sqlite_store: tuple[str, Path]) -> None:
    uri, db = sqlite_store
    assert detect_source(db) == "mlflow"
    assert read_source(db, experiment="ladder").fingerprint == read_source(uri, experiment="ladder").fingerprint


def test_every_experiment_is_a_batch(sqlite_store: tuple[str, Path]) -> None:
    uri, _ = sqlite_store
    tables = read_sources(uri)  # 'Default' has no runs and is left out
    assert [t.name for t in tables] == ["ladder", "other"]
    assert [t.runs for t in tables] == [12, 3]
    assert [t.name for t in read_sources(uri, experiments=["other"])] == ["other"]
    with pytest.raises(SourceError, match="2 experiments with runs"):
        read_source(uri)
    with pytest.raises(SourceError, match=r"no experiment named 'nope'.*\['Default', 'ladder', 'other'\]"):
        read_sources(uri, experiments=["nope"])
    with pytest.raises(SourceError, match="'Default' has no runs"):
        read_source(uri, experiment="Default")


def test_fingerprint_follows_new_points_and_new_runs(scratch: tuple[str, MlflowClient]) -> None:
    uri, client = scratch
    eid = client.create_experiment("E")
    for run in ladder()[:4]:
        log_run(client, eid, run)
    first = read_source(uri, experiment="E").fingerprint
    assert read_source(uri, experiment="E").fingerprint == first  # reading changes nothing
    run_id = read_source(uri, experiment="E").frame["run_id"].iloc[0]
    client.log_metric(run_id, "eval_loss", 2.5, step=2000)
    second = read_source(uri, experiment="E")
    assert second.fingerprint != first
    assert 2000 in set(second.frame["step"])
    log_run(client, eid, ladder()[5])
    third = read_source(uri, experiment="E")
    assert third.fingerprint != second.fingerprint and third.runs == 5
    assert read_source(uri, experiment="E", run_pattern="{size}-{data}").fingerprint != third.fingerprint


def test_repeated_run_names_stay_apart_and_relogged_steps_keep_the_latest(scratch: tuple[str, MlflowClient]) -> None:
    uri, client = scratch
    eid = client.create_experiment("repeated")
    for _ in range(2):
        log_run(client, eid, ladder()[0])
    rid = client.search_runs([eid])[0].info.run_id
    client.log_batch(rid, metrics=[Metric("eval_loss", 9.0, int(time.time() * 1000) + 10**6, STEPS[-1])])
    table = read_source(uri, experiment="repeated")
    assert table.runs == 2 and all(r.startswith("20M-1B (") for r in table.frame["run"].unique())
    assert any("run ids were appended" in n for n in table.notes)
    assert any("logged twice" in n for n in table.notes)
    assert 9.0 in set(table.frame["eval_loss"])


def test_missing_database_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    db = tmp_path / "nope" / "mlflow.db"
    with pytest.raises(SourceError, match="no MLflow database"):
        read_sources(f"sqlite:///{db}")
    assert not db.exists()


def test_mlruns_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 writes the file store only when asked
    make_store(store.as_uri(), {"ladder": ladder()})
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    assert detect_source(store) == "mlflow"
    table = read_source(store, experiment="ladder")
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # the opt-in lasted for the read only
    assert any("maintenance mode" in n for n in table.notes)
    check_ladder_frame(table.frame)
    assert_law_recovered(table.frame, "eval_loss", **table.batch_config())


def test_unreachable_server_fails_fast() -> None:
    port = _free_port()
    started = time.monotonic()
    with pytest.raises(SourceError, match="no MLflow tracking server answers"):
        read_sources(f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on a loopback port with a SQLite backend, stopped at the end even on failure."""
    pytest.importorskip("flask", reason="`mlflow server` needs flask (in scalekit[test])")
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # no job executor: it would spawn huey consumers the test does not need
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--default-artifact-root", str(folder / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}:\n{(folder / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer within 60 s:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


@pytest.mark.slow
def test_http_tracking_server(mlflow_server: str) -> None:
    client = make_store(mlflow_server, {"ladder": ladder()})
    assert detect_source(mlflow_server) == "mlflow"
    table = read_source(mlflow_server, experiment="ladder")
    assert table.source == f"mlflow {mlflow_server} experiment 'ladder'"
    check_ladder_frame(table.frame)
    assert_law_recovered(table.frame, "eval_loss", **table.batch_config())
    before = table.fingerprint
    log_run(client, experiment_id(client, "ladder"), Run("extra", 3e9, 1e10))
    after = read_source(mlflow_server, experiment="ladder")
    assert after.runs == 13 and after.fingerprint != before


def test_select_keeps_the_steps_a_metric_was_logged_at_and_diverged_runs(scratch: tuple[str, MlflowClient]) -> None:
    """Train loss every 50 steps, eval every 250: the gaps are not divergence, a logged NaN is."""
    uri, client = scratch
    eid = client.create_experiment("cadence")
    runs = ladder()
    for run in runs:
        rid = log_run(client, eid, run)
        client.log_batch(rid, metrics=[Metric("train_loss", run.train_loss(s), 0, s) for s in range(50, STEPS[-1], 50) if s not in STEPS])
    bad = client.create_run(eid, run_name="diverged")
    client.log_batch(bad.info.run_id, params=[Param("n_params", "3e9"), Param("tokens", "1e10")],
                     metrics=[Metric("eval_loss", v, 0, s) for s, v in zip(STEPS, (3.0, 2.9, float("nan"), float("nan")))])
    table = read_source(uri, experiment="cadence")
    per_run = len(set(STEPS) | set(range(50, STEPS[-1], 50)))
    assert len(table.frame) == 12 * per_run + len(STEPS) and table.frame["eval_loss"].isna().sum() > 100
    assert table.logged is not None and int(table.logged["eval_loss"].sum()) == 13 * len(STEPS)
    evals = table.select("eval_loss")
    assert evals.metrics == ("eval_loss",) and "train_loss" in evals.batch_config()["ignore"]
    assert len(evals.frame) == 13 * len(STEPS)  # the diverged run keeps its NaN points
    assert any("had no logged value" in n for n in evals.notes)
    batch_config = evals.batch_config()
    batch = scalekit.load_batch(evals.frame, **batch_config)
    assert [e.run for e in batch.excluded] == ["diverged"] and batch.runs == 12
    assert_law_recovered(evals.frame, "eval_loss", **batch_config)
    with pytest.raises(SourceError, match=r"no metric 'nope'.*\['eval_loss', 'train_loss'\]"):
        table.select(["nope"])
