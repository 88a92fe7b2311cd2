"""Issue 24: tracker stores that are not what they seem, damaged, or logged the common way (metrics at
different steps, inf values). Real stores written by the MLflow client, real mlruns folders, real JSON
Lines folders, read through the real command line; every input's bytes are checked unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

import scalekit
from scalekit.data.sources import SourceError, read_source, read_sources

from ...helpers import scalekit_cli
from .law import ALPHA, BETA, STEPS, Run, ladder

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
if not os.environ.get("CI"):
    pytest.importorskip("mlflow", reason='needs pip install "scalekit[mlflow]"')

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

TRAIN_EVERY = 50  # train loss every 50 steps, eval loss at STEPS (every 250): the common tracker layout


def tree_state(root: Path) -> dict[str, str]:
    """Every file and folder under root (a file by its sha256): what 'unchanged' means for a store."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def one_line_error(p: object) -> str:
    """The stderr of a CLI run that must fail as a user error: exit 2, one line, no traceback."""
    rc, err = p.returncode, p.stderr  # type: ignore[attr-defined]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return str(err)


def log_mixed(client: MlflowClient, eid: str, *, diverge_at: int | None = None, name: str | None = None,
              n: float = 3e9, d: float = 1e10) -> None:
    """A run as trainers log it: train loss every TRAIN_EVERY steps, eval loss at STEPS; +inf eval loss from diverge_at on."""
    r = client.create_run(eid, run_name=name)
    metrics = []
    for s in range(TRAIN_EVERY, STEPS[-1] + 1, TRAIN_EVERY):
        metrics.append(Metric("train_loss", 1.05 * (1.69 + 406.4 / n**ALPHA + 410.7 / (d * s / STEPS[-1]) ** BETA), 0, s))
    for s in STEPS:
        loss = 1.69 + 406.4 / n**ALPHA + 410.7 / (d * s / STEPS[-1]) ** BETA
        metrics.append(Metric("eval_loss", float("inf") if diverge_at is not None and s >= diverge_at else loss, 0, s))
    client.log_batch(r.info.run_id, metrics=metrics, params=[Param("n_params", f"{n:g}"), Param("tokens", f"{d:g}")])


def mlruns_store(folder: Path, monkeypatch: pytest.MonkeyPatch, runs: int) -> tuple[MlflowClient, str]:
    """A real mlruns/ file store (MLflow asks for an opt-in to write one) with ``runs`` ladder runs in experiment E."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=folder.as_uri())
    eid = client.create_experiment("E")
    for run in ladder()[:runs]:
        log_mixed(client, eid, name=run.name, n=run.n, d=run.d)
    return client, eid


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ladder logged at two cadences, plus one run whose eval loss went to +inf (MLflow stores 1.797e308)."""
    db = tmp_path_factory.mktemp("mixed") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    eid = client.create_experiment("mixed")
    for run in ladder():
        log_mixed(client, eid, name=run.name, n=run.n, d=run.d)
    log_mixed(client, eid, diverge_at=750, name="blowup")
    stored = sqlite3.connect(db).execute("SELECT max(value) FROM metrics WHERE key = 'eval_loss'").fetchone()[0]
    assert stored == sys.float_info.max  # what the issue saw: MLflow has no infinity
    return db


def test_an_sqlite_file_that_is_not_an_mlflow_store_is_refused_untouched(tmp_path: Path) -> None:
    app = tmp_path / "app.db"
    with sqlite3.connect(app) as conn:
        conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO users VALUES (1, 'a')")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    before = tree_state(tmp_path)
    err = one_line_error(scalekit_cli("fit", str(app), "--n-boot", "0", check=False))
    assert "not an MLflow store" in err and "users" in err
    err = one_line_error(scalekit_cli("fit", f"sqlite:///{empty}", "--n-boot", "0", check=False))
    assert "empty file (0 bytes), not an MLflow store" in err
    with pytest.raises(SourceError, match="not an MLflow store"):
        read_sources(app)
    assert tree_state(tmp_path) == before  # was 8 KB -> 1 MB with ~70 MLflow tables; no journal left either
    assert app.stat().st_size == 8192 and empty.stat().st_size == 0


def test_reading_a_store_never_writes_to_it(tmp_path: Path, mixed_store: Path) -> None:
    """MLflow writes a default experiment into a store that lacks one: the user's copy must not see it."""
    db = tmp_path / "mlflow.db"
    shutil.copyfile(mixed_store, db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM experiments WHERE experiment_id = 0")
    before = tree_state(tmp_path)
    assert read_source(db, experiment="mixed").runs == 13
    p = scalekit_cli("fit", str(db), "--experiment", "mixed", "--metric", "eval_loss", "--n-boot", "0", check=False)
    assert p.returncode == 0, p.stderr
    assert tree_state(tmp_path) == before
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM experiments WHERE experiment_id = 0").fetchone()[0] == 0


def test_reading_an_mlruns_folder_adds_nothing_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "mlruns"
    client, eid = mlruns_store(store, monkeypatch, 4)
    rid = client.search_runs([eid])[0].info.run_id
    client.log_metric(rid, "artifacts/loss", 2.5, step=1)  # stored under metrics/artifacts/: read, unlike a run's artifacts
    (Path(client.get_run(rid).info.artifact_uri.removeprefix("file://")) / "model.bin").write_bytes(bytes(1000))
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    shutil.rmtree(store / ".trash")  # MLflow's file store makes this folder whenever it opens a store
    before = tree_state(store)
    table = read_source(store, experiment="E")
    assert table.runs == 4 and "artifacts/loss" in table.metrics
    assert tree_state(store) == before


def test_float_max_from_mlflow_is_infinity_and_the_run_is_excluded_and_listed(mixed_store: Path) -> None:
    batch = scalekit.load_batch(mixed_store, experiment="mixed", metrics=["eval_loss"])
    assert [e.run for e in batch.excluded] == ["blowup"] and batch.runs == 12 and batch.name == "mixed"
    assert "eval_loss is inf at step 750" in batch.excluded[0].reason
    assert any("1.797e308" in n for n in batch.notes)
    p = scalekit_cli("fit", str(mixed_store), "--experiment", "mixed", "--metric", "eval_loss", "--n-boot", "0", check=False)
    assert p.returncode == 0, p.stderr
    assert "excluded: blowup: diverged: eval_loss is inf at step 750" in p.stdout


def test_metrics_logged_at_different_steps_are_not_divergence_in_mlflow(mixed_store: Path) -> None:
    before = tree_state(mixed_store)
    p = scalekit_cli("fit", str(mixed_store), "--experiment", "mixed", "--n-boot", "0", "--json", check=False)
    assert p.returncode == 0, p.stderr  # was: "every run was excluded as diverged"
    fit = json.loads(p.stdout)
    assert fit["params"]["alpha"] == pytest.approx(ALPHA, rel=0.03)
    batch = scalekit.load_batch(mixed_store, experiment="mixed")
    assert set(batch.metrics) == {"eval_loss", "train_loss"} and batch.runs == 12
    assert [e.run for e in batch.excluded] == ["blowup"]
    # each metric keeps the rows it was logged at; the final checkpoint of a run has both
    assert int(batch.frame["eval_loss"].notna().sum()) == 12 * len(STEPS)
    assert int(batch.frame["train_loss"].notna().sum()) == 12 * (STEPS[-1] // TRAIN_EVERY)
    assert batch.finals()["eval_loss"].notna().all() and (batch.finals()["step"] == STEPS[-1]).all()
    assert tree_state(mixed_store) == before


def write_mixed_jsonl(folder: Path, *, diverged: bool = True) -> Path:
    """The ladder as JSON Lines, train loss every step and eval loss every fifth; one run's train loss is NaN once."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = ladder() + ([Run("blowup", 3e9, 1e10)] if diverged else [])
    for run in runs:
        lines = []
        for s in range(1, 101):
            seen = run.d * s / 100
            loss = 1.69 + 406.4 / run.n**ALPHA + 410.7 / seen**BETA
            row: dict[str, object] = {"step": s, "params": run.n, "tokens": seen, "train_loss": 1.05 * loss}
            if run.name == "blowup" and s == 60:
                row["train_loss"] = float("nan")
            if s % 5 == 0:
                row["eval_loss"] = loss
            lines.append(json.dumps(row))
        (folder / f"{run.name}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_metrics_logged_at_different_steps_are_not_divergence_in_a_jsonl_folder(tmp_path: Path) -> None:
    folder = write_mixed_jsonl(tmp_path / "runs")
    before = tree_state(folder)
    p = scalekit_cli("fit", str(folder), "--n-boot", "0", "--metric", "eval_loss", "--json", check=False)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["params"]["beta"] == pytest.approx(BETA, rel=0.03)
    p = scalekit_cli("fit", str(folder), "--n-boot", "0", check=False)
    assert p.returncode == 0, p.stderr
    assert "12 runs" in p.stdout and "excluded: blowup: diverged: train_loss is nan at step 60" in p.stdout
    assert tree_state(folder) == before


@pytest.mark.slow
def test_report_on_a_jsonl_folder_with_two_cadences(tmp_path: Path) -> None:
    folder = write_mixed_jsonl(tmp_path / "runs")
    before = tree_state(folder)
    p = scalekit_cli("report", str(folder), "--out", str(tmp_path / "site"), "--n-boot", "0", "--quiet", check=False)
    assert p.returncode == 0, p.stdout + p.stderr  # was: every run excluded as diverged
    summary = json.loads(next((tmp_path / "site").glob("*/summary.json")).read_text())
    assert summary["batch"]["runs"] == 12
    assert [e["run"] for e in summary["batch"]["excluded"]] == ["blowup"]
    assert tree_state(folder) == before


def test_damaged_stores_are_one_line_errors(tmp_path: Path, mixed_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truncated = tmp_path / "truncated.db"
    data = mixed_store.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    store = tmp_path / "mlruns"
    mlruns_store(store, monkeypatch, 3)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    bad_meta, bad_metric = tmp_path / "bad_meta" / "mlruns", tmp_path / "bad_metric" / "mlruns"
    shutil.copytree(store, bad_meta)
    shutil.copytree(store, bad_metric)
    next(p for p in bad_meta.glob("*/*/meta.yaml")).write_text("run_id: [unclosed\n")
    with next(bad_metric.glob("*/*/metrics/eval_loss")).open("a") as fh:
        fh.write("garbage line\n")
    before = tree_state(tmp_path)
    started = time.monotonic()
    for spec, says in ((truncated, "truncated or corrupt"), (bad_meta, "MLflow could not read the store"),
                       (bad_metric, "MLflow could not read the store")):
        err = one_line_error(scalekit_cli("fit", str(spec), "--n-boot", "0", check=False))
        assert says in err and str(spec) in err
    assert time.monotonic() - started < 120
    assert tree_state(tmp_path) == before
