"""`scalekit report` on runs where they live: an MLflow store, a TensorBoard folder, a W&B export (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ..data.sources.law import ALPHA, BETA, ladder
from ..data.sources.test_mlflow import make_store
from ..data.sources.test_tensorboard import write_tbx
from ..data.sources.test_wandb import history
from ..helpers import scalekit_cli

pytestmark = pytest.mark.slow


def fitted(site: Path, slug: str, metric: str) -> dict:
    s = json.loads((site / slug / "summary.json").read_text())
    return s["fits"][metric]["params"]


def test_report_from_an_mlflow_store_recovers_the_law_and_rerenders_on_new_runs(tmp_path):
    db = tmp_path / "mlflow.db"
    client = make_store(f"sqlite:///{db}", {"ladder": ladder(), "other": ladder()[:4]})
    site = tmp_path / "site"
    args = ("report", f"sqlite:///{db}", "--experiment", "ladder", "--out", str(site), "--n-boot", "40", "--metric", "eval_loss",
            "--ignore", "train_loss")
    p = scalekit_cli(*args)
    assert "rendered" in p.stdout and not (site / "other").exists()
    par = fitted(site, "ladder", "eval_loss")
    assert par["alpha"] == pytest.approx(ALPHA, rel=0.05) and par["beta"] == pytest.approx(BETA, rel=0.05)
    assert "skipped" in scalekit_cli(*args).stdout  # the store is unchanged
    eid = client.get_experiment_by_name("ladder").experiment_id
    run = client.create_run(eid, run_name="late")
    client.log_param(run.info.run_id, "n_params", "3e8")
    client.log_param(run.info.run_id, "tokens", "3e10")
    client.log_metric(run.info.run_id, "eval_loss", 2.5, step=1000)
    assert "rendered" in scalekit_cli(*args).stdout  # a new run in the store re-renders the batch
    assert json.loads((site / "ladder" / "summary.json").read_text())["batch"]["runs"] == len(ladder()) + 1


def test_report_from_a_tensorboard_folder(tmp_path):
    logs = tmp_path / "tb"
    for run in ladder():
        write_tbx(logs, run, hparams=True)
    site = tmp_path / "site"
    p = scalekit_cli("report", str(logs), "--out", str(site), "--n-boot", "40", "--metric", "eval/loss")
    assert "rendered" in p.stdout
    par = fitted(site, "tb", "eval/loss")
    assert par["alpha"] == pytest.approx(ALPHA, rel=0.05) and par["beta"] == pytest.approx(BETA, rel=0.05)


def test_report_and_fit_from_a_wandb_export(tmp_path):
    export = tmp_path / "wandb"
    export.mkdir()
    for run in ladder():
        history(run, config=True).to_parquet(export / f"{run.name}.parquet")
    site = tmp_path / "site"
    loss = "eval/c4_en/CrossEntropyLoss"
    p = scalekit_cli("report", str(export), "--out", str(site), "--n-boot", "40", "--metric", loss)
    assert "rendered" in p.stdout
    par = fitted(site, "wandb", loss)
    assert par["alpha"] == pytest.approx(ALPHA, rel=0.05) and par["beta"] == pytest.approx(BETA, rel=0.05)
    out = json.loads(scalekit_cli("fit", str(export), "--metric", loss, "--json", "--n-boot", "0").stdout)
    assert out["params"]["alpha"] == pytest.approx(ALPHA, rel=0.05)
    assert isinstance(pd.read_parquet(next(export.glob("*.parquet"))), pd.DataFrame)  # the export is left as it was
