"""W&B history exports as `wandb.Api()` users write them (run.scan_history() to CSV/Parquet), read back."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalekit.data.sources import SourceError, detect_source, read_source

from .law import STEPS, Run, assert_law_recovered, expected_frame, ladder

LOSS = "eval/c4_en/CrossEntropyLoss"


def history(run: Run, *, config: bool) -> pd.DataFrame:
    """What `pd.DataFrame(run.scan_history())` gives: W&B's own columns, metric names with slashes.

    Train and eval are logged in one wandb.log call per step; a downstream accuracy only at the end.
    """
    t0 = time.time()
    rows = []
    for i, (step, seen, loss) in enumerate(run.points()):
        rows.append({"_step": step, "_runtime": 10.0 * i, "_timestamp": t0 + 10 * i, "train/CrossEntropyLoss": run.train_loss(step),
                     LOSS: loss, "throughput/total_tokens": seen, "eval/hellaswag/acc": 0.5 if step == STEPS[-1] else np.nan})
    df = pd.DataFrame(rows)
    if config:  # run.config exported beside the history, as the documented snippet does
        df["model/n_params"] = run.n
        df["optimizer"] = "adamw"
    return df


def check_frame(frame: pd.DataFrame) -> None:
    want = expected_frame()
    got = frame.sort_values(["run", "step"]).reset_index(drop=True)
    assert list(got["run"]) == list(want["run"]) and list(got["step"]) == list(want["step"])
    np.testing.assert_array_equal(got[LOSS].to_numpy(), want["eval_loss"].to_numpy())
    assert not {"_step", "_runtime", "_timestamp"} & set(got.columns)


def test_one_parquet_file_per_run(tmp_path: Path) -> None:
    for run in ladder():
        history(run, config=True).to_parquet(tmp_path / f"{run.name}.parquet")
    assert detect_source(tmp_path) == "wandb"
    table = read_source(tmp_path)
    assert table.kind == "wandb" and table.name == tmp_path.name
    check_frame(table.frame)
    assert set(table.run_columns) == {"model/n_params", "optimizer"}
    assert set(table.metrics) == {"train/CrossEntropyLoss", LOSS, "throughput/total_tokens", "eval/hellaswag/acc"}
    assert table.frame["eval/hellaswag/acc"].notna().sum() == 12  # logged once per run: NaN elsewhere
    # N from the exported config (mapped), D from W&B's throughput/total_tokens (an alias of tokens)
    assert_law_recovered(table.frame, LOSS, **table.batch_config(), columns={"params": "model/n_params"})
    evals = table.select(LOSS)  # the other series are set aside as metrics, tokens seen still gives D
    assert "throughput/total_tokens" in evals.frame.columns and evals.metrics == (LOSS,)
    assert_law_recovered(evals.frame, LOSS, **evals.batch_config(), columns={"params": "model/n_params"})


def test_one_csv_per_project_with_a_name_column(tmp_path: Path) -> None:
    parts = []
    for i, run in enumerate(ladder()):
        h = history(run, config=False)
        h.insert(0, "name", run.name)
        h.insert(1, "run_id", f"id{i:03d}")
        parts.append(h)
    pd.concat(parts).to_csv(tmp_path / "project.csv")  # with the index column, as to_csv writes by default
    assert detect_source(tmp_path / "project.csv") == "wandb"
    table = read_source(tmp_path / "project.csv", run_pattern="{params}-{}")
    assert table.name == "project"
    check_frame(table.frame)
    assert "Unnamed: 0" not in table.frame.columns
    assert_law_recovered(table.frame, LOSS, **table.batch_config())


def test_repeated_display_names_get_their_ids(tmp_path: Path) -> None:
    a, b = history(ladder()[0], config=False), history(ladder()[1], config=False)
    a["name"], a["id"] = "baseline", "abc"
    b["name"], b["id"] = "baseline", "def"
    pd.concat([a, b]).to_csv(tmp_path / "p.csv", index=False)
    table = read_source(tmp_path / "p.csv")
    assert sorted(table.frame["run"].unique()) == ["baseline (abc)", "baseline (def)"]


def test_history_artifacts_with_a_runs_table(tmp_path: Path) -> None:
    """W&B's run-<id>-history artifacts: a folder per run, history split over Parquet parts."""
    config = {}
    for i, run in enumerate(ladder()):
        folder = tmp_path / f"run-r{i:02d}-history:v0"
        folder.mkdir()
        h = history(run, config=False)
        h.iloc[:2].to_parquet(folder / "0000.parquet")
        h.iloc[2:].to_parquet(folder / "0001.parquet")
        config[f"r{i:02d}"] = {"params": f"{run.n / 1e6:g}M", "tokens": run.d}
    runs_csv = tmp_path.parent / f"{tmp_path.name}-runs.csv"
    pd.DataFrame([{"run": k, **v} for k, v in config.items()]).to_csv(runs_csv, index=False)
    table = read_source(f"wandb:{tmp_path}", runs=runs_csv)
    assert sorted(table.frame["run"].unique()) == sorted(config)
    assert len(table.frame) == 12 * len(STEPS)
    assert table.frame["params"].max() == 2e9  # "2000M" read as a number
    # tokens from the table is D, so throughput/total_tokens is just a series: name the metric
    assert_law_recovered(table.frame, LOSS, **table.batch_config(), metrics=[LOSS])


def test_rows_of_one_step_merge(tmp_path: Path) -> None:
    """Separate wandb.log calls at one step (train, then eval) give one row."""
    pd.DataFrame({"_step": [0, 0, 1], "train/loss": [3.0, np.nan, 2.9], "eval/loss": [np.nan, 3.2, np.nan]}).to_csv(tmp_path / "a.csv", index=False)
    table = read_source(tmp_path / "a.csv")
    assert table.frame[["step", "train/loss", "eval/loss"]].to_dict("list") == {
        "step": [0, 1], "train/loss": [3.0, 2.9], "eval/loss": [3.2, pytest.approx(np.nan, nan_ok=True)]}
    assert any("merged" in n for n in table.notes)


def test_a_file_without_steps_is_an_error(tmp_path: Path) -> None:
    pd.DataFrame({"loss": [1.0]}).to_csv(tmp_path / "a.csv", index=False)
    assert detect_source(tmp_path / "a.csv") is None  # a plain table: load_batch reads it
    with pytest.raises(SourceError, match=r"a\.csv: no step column"):
        read_source(tmp_path / "a.csv", kind="wandb")
