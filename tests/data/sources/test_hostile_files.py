"""Issue 24: JSON Lines folders and W&B exports that hide a problem (repeated keys or columns, empty
files, absurd steps, deep nesting), and config keys that must mean the same for a tracker source as for
a file. Real files, the real command line; every input's bytes are checked unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import scalekit
from scalekit.data.sources import SourceError, read_source

from ...helpers import scalekit_cli
from .law import ALPHA, BETA, ladder


def folder_state(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(p: object) -> str:
    rc, err = p.returncode, p.stderr  # type: ignore[attr-defined]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return str(err)


def jsonl_ladder(folder: Path, *, lr: bool = False, drop_params_of: str | None = None) -> Path:
    """The ladder as JSON Lines, one file per run: params, tokens seen and the eval loss at each step."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, run in enumerate(ladder()):
        lines = []
        for step, seen, loss in run.points():
            row: dict[str, object] = {"step": step, "params": run.n, "tokens": seen, "eval_loss": loss}
            if lr:
                row["lr"] = 1e-3 * (i % 2 + 1)
            if run.name == drop_params_of:
                del row["params"]
            lines.append(json.dumps(row))
        (folder / f"{run.name}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


# --- item 14: JSON Lines and W&B exports -----------------------------------------------------------------

def test_jsonl_repeated_keys_and_empty_files_are_noted(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs")
    victim = folder / f"{ladder()[0].name}.jsonl"
    lines = victim.read_text().splitlines()
    lines[1] = lines[1][:-1] + ', "eval_loss": 99.0}'  # the same key twice: json keeps 99.0
    victim.write_text("\n".join(lines) + "\n")
    (folder / "crashed-before-logging.jsonl").write_text("")
    before = folder_state(folder)
    table = read_source(folder)
    assert any(f"{victim.name}: 1 key(s) written twice" in n and "line 2" in n and "eval_loss" in n for n in table.notes), table.notes
    assert any("crashed-before-logging.jsonl holds no JSON object (empty) and was skipped" in n for n in table.notes)
    p = scalekit_cli("fit", str(folder), "--n-boot", "0", check=False)
    assert p.returncode == 0, p.stderr
    assert "written twice" in p.stdout and "(empty) and was skipped" in p.stdout  # the notes reach the user
    assert folder_state(folder) == before


def test_a_plain_jsonl_table_with_a_repeated_key_is_refused_like_a_csv_header(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"params": 1e7, "tokens": 1e9, "loss": 3.0}\n{"params": 1e8, "tokens": 1e9, "loss": 2.5, "loss": 2.4}\n')
    err = one_line_error(scalekit_cli("fit", str(f), "--n-boot", "0", check=False))
    assert "line 2 names the key 'loss' more than once" in err and "row(s) 2" in err


def test_wandb_csv_with_a_duplicated_header_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "history.csv"
    rows = ["_step,run,params,tokens,eval_loss,eval_loss"]
    rows += [f"{s},r{i},{n:g},1e9,{3 - i * 0.1},{9.0}" for i, n in enumerate((1e7, 1e8, 1e9)) for s in (1, 2)]
    f.write_text("\n".join(rows) + "\n")
    before = f.read_bytes()
    with pytest.raises(SourceError, match=r"history.csv, line 1: the header names column 'eval_loss' more than once"):
        read_source(f)
    err = one_line_error(scalekit_cli("fit", str(f), "--n-boot", "0", check=False))
    assert "more than once" in err  # was: the first column used silently
    assert f.read_bytes() == before


# --- item 15: absurd steps, rows counted from 1 ---------------------------------------------------------

def test_wandb_step_beyond_2_53_is_refused_not_wrapped_negative(tmp_path: Path) -> None:
    f = tmp_path / "history.csv"
    f.write_text("_step,run,params,tokens,eval_loss\n1,a,1e7,1e9,3.0\n1e20,a,1e7,1e9,2.9\n1,b,1e8,1e9,2.5\n")
    err = one_line_error(scalekit_cli("fit", str(f), "--n-boot", "0", check=False))
    assert "1e+20" in err and "row 3 (the header is row 1)" in err and "negative" not in err


def test_jsonl_step_beyond_2_53_is_refused(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs")
    (folder / "huge.jsonl").write_text('{"step": 1, "params": 1e7, "tokens": 1e9, "eval_loss": 3}\n'
                                       '{"step": 100000000000000000000, "params": 1e7, "tokens": 1e9, "eval_loss": 2}\n')
    err = one_line_error(scalekit_cli("fit", str(folder), "--n-boot", "0", check=False))
    assert "huge.jsonl, line 2" in err and "100000000000000000000" in err


def test_tracker_rows_are_counted_from_1(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs")
    first = sorted(folder.glob("*.jsonl"))[0]  # its first line is row 1 of the table (runs sorted, then steps)
    lines = first.read_text().splitlines()
    lines[0] = lines[0].replace('"params": ', '"params": -')
    first.write_text("\n".join(lines) + "\n")
    with pytest.raises(scalekit.ScalekitError) as err:
        scalekit.load_batch(folder)
    assert err.value.rows == [1], str(err.value)  # type: ignore[attr-defined]  # was [0]


# --- item 13: nesting deep enough to overflow a recursive parser -----------------------------------------

def test_json_nested_100k_deep_is_a_one_line_error(tmp_path: Path) -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    folder = jsonl_ladder(tmp_path / "runs")
    (folder / "deep.jsonl").write_text('{"step": 1, "eval_loss": 3}\n' + deep + "\n")
    table = tmp_path / "t.jsonl"
    table.write_text('{"params": 1e7, "tokens": 1e9, "loss": 3}\n' + deep + "\n")
    csv = tmp_path / "c.csv"
    csv.write_text("params,tokens,loss\n1e7,1e9,3\n1e8,1e9,2.5\n1e9,1e9,2.2\n")
    (tmp_path / "c.yaml").write_text("name: " + "[" * 100_000 + "]" * 100_000 + "\n")
    for spec, says in ((folder, "deep.jsonl, line 2: JSON nested too deeply"), (table, "line 2 is JSON nested too deeply"),
                       (csv, "c.yaml: nested too deeply")):
        err = one_line_error(scalekit_cli("fit", str(spec), "--n-boot", "0", check=False))
        assert says in err, err


# --- item 6: every config key means the same for a tracker source ------------------------------------------

def test_config_keys_reach_a_tracker_batch(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs", lr=True)
    batch = scalekit.load_batch(folder, schedule={"kind": "cosine"}, hparams=["lr"],
                                two_step=[{"intermediate": "eval_loss", "target": "eval_loss2"}])
    assert batch.schedule is not None and batch.schedule.kind == "cosine"  # was: schedule None
    assert batch.hparams == ("lr",) and batch.sweep is not None  # was: no sweep
    assert batch.config.two_step[0]["target"] == "eval_loss2"  # was: dropped
    with pytest.raises(scalekit.ScalekitError, match="hyperparameter 'no_such_col', which is not in the table"):
        scalekit.load_batch(folder, hparams=["no_such_col"])  # was: accepted on JSONL, refused on CSV


def test_missing_drop_works_on_a_tracker_source(tmp_path: Path) -> None:
    gone = ladder()[0].name
    folder = jsonl_ladder(tmp_path / "runs", drop_params_of=gone)
    with pytest.raises(scalekit.ScalekitError, match="missing value"):
        scalekit.load_batch(folder)
    p = scalekit_cli("fit", str(folder), "--n-boot", "0", "--set", "missing=drop", "--json", check=False)
    assert p.returncode == 0, p.stderr  # was: still failing on the missing value
    fit = json.loads(p.stdout)
    assert fit["params"]["alpha"] == pytest.approx(ALPHA, rel=0.05) and fit["params"]["beta"] == pytest.approx(BETA, rel=0.05)
    assert scalekit.load_batch(folder, missing="drop").runs == len(ladder()) - 1


def test_long_on_a_tracker_source_is_refused_with_a_reason(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs")
    err = one_line_error(scalekit_cli("fit", str(folder), "--set", "long={names: [task], value: v}", check=False))
    assert "[long]" in err and "already has one column per logged metric" in err


def test_hparams_naming_a_key_column_is_refused_for_every_source(tmp_path: Path) -> None:
    folder = jsonl_ladder(tmp_path / "runs")
    csv = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e7, 1e8, 1e9], "tokens": [1e9] * 3, "loss": [3.0, 2.6, 2.3]}).to_csv(csv, index=False)
    for spec in (folder, csv):
        err = one_line_error(scalekit_cli("fit", str(spec), "--set", "hparams=[params]", check=False))
        assert "'params' is the batch's params column, not a hyperparameter" in err


def test_source_options_on_a_table_file_are_noted(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    pd.DataFrame({"params": [1e7, 1e8, 1e9], "tokens": [1e9] * 3, "loss": [3.0, 2.6, 2.3]}).to_csv(csv, index=False)
    p = scalekit_cli("fit", str(csv), "--experiment", "ladder", "--form", "power", "--n-boot", "0", check=False)
    assert p.returncode == 0, p.stderr
    assert "note: the source options {'experiment': 'ladder'}" in p.stdout and "read whole" in p.stdout
    batch = scalekit.load_batch(csv, source={"run_pattern": "{params}-{tokens}"})
    assert any("apply to tracker stores" in n for n in batch.notes)
