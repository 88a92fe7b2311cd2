"""JSON Lines metrics beside checkpoints, as training codebases write them, read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scalekit.data.sources import SourceError, detect_source, read_source

from .law import STEPS, Run, assert_law_recovered, expected_frame, ladder


def write_run(path: Path, run: Run) -> None:
    """One object per eval, nested per eval set, the eval sets of a step on separate lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for step, seen, loss in run.points():
            fh.write(json.dumps({"step": step, "tokens": seen, "params": run.n, "lr": 3e-4, "eval": {"c4": {"loss": loss}}}) + "\n")
            fh.write(json.dumps({"step": step, "eval": {"wiki": {"loss": loss + 0.1}}, "samples": [1, 2]}) + "\n\n")


def test_metrics_jsonl_in_run_folders(tmp_path: Path) -> None:
    for run in ladder():
        write_run(tmp_path / run.name / "checkpoints" / "metrics.jsonl", run)
    assert detect_source(tmp_path) == "jsonl"
    table = read_source(tmp_path)
    assert table.kind == "jsonl"
    want = expected_frame()
    got = table.frame
    assert list(got["run"]) == list(want["run"]) and list(got["step"]) == list(want["step"])
    np.testing.assert_array_equal(got["eval/c4/loss"].to_numpy(), want["eval_loss"].to_numpy())
    np.testing.assert_array_equal(got["eval/wiki/loss"].to_numpy(), want["eval_loss"].to_numpy() + 0.1)
    assert set(table.run_columns) == {"params", "lr"} and "samples" not in got.columns
    assert any("arrays ['samples']" in n for n in table.notes)
    assert_law_recovered(got, "eval/c4/loss", **table.batch_config())


def test_one_file_per_run(tmp_path: Path) -> None:
    for run in ladder():
        write_run(tmp_path / f"{run.name}.jsonl", run)
    table = read_source(tmp_path)
    assert table.runs == 12 and len(table.frame) == 12 * len(STEPS)
    assert_law_recovered(table.frame, "eval/c4/loss", **table.batch_config())


@pytest.mark.parametrize(("line", "message"), [
    ("[1, 2]", "line 3: not a JSON object but an array"),
    ('{"step": 10, "loss": ', "line 3: not valid JSON"),
    ('{"loss": 2.0}', "line 3: this object has no step 'step'"),
    ('{"step": -1, "loss": 2.0}', "line 3: this object has -1 as its step"),
])
def test_a_bad_line_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = [json.dumps({"step": 0, "loss": 3.0}), "", line]  # the blank line still counts
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.jsonl").write_text("\n".join(good) + "\n")
    with pytest.raises(SourceError, match=message) as err:
        read_source(tmp_path)
    assert err.value.line == 3 and err.value.source.endswith("metrics.jsonl")


def test_lines_without_steps_are_numbered(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"loss": 3.0}\n{"loss": 2.5}\n')
    table = read_source(tmp_path)
    assert list(table.frame["step"]) == [0, 1]
    assert any("no step key" in n for n in table.notes)


def test_null_is_not_logged_but_nan_is(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"step": 1, "train_loss": 3.0, "eval_loss": null}\n'
                                      '{"step": 2, "train_loss": 2.9}\n'
                                      '{"step": 3, "train_loss": 2.8, "eval_loss": NaN}\n'
                                      '{"step": 4, "eval_loss": 2.5}\n')
    table = read_source(tmp_path)
    evals = table.select("eval_loss")
    assert list(evals.frame["step"]) == [3, 4]  # step 3 logged NaN: kept, so the batch sees the divergence
    assert list(table.select(["eval_loss", "train_loss"]).frame["step"]) == [1, 2, 3, 4]
