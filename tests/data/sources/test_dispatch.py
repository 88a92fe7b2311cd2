"""The dispatcher, run-name patterns, run tables, and the errors that name an extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scalekit import ScalekitError
from scalekit.data.sources import MissingExtraError, SourceError, detect_source, parse_number, read_source, read_sources


def test_importing_sources_imports_no_tracker() -> None:
    code = ("import sys, scalekit, scalekit.data.sources; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'tensorboard', 'tensorboardX')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("text", "value"), [("125M", 125e6), ("1.3B", 1.3e9), ("2e9", 2e9), ("70m", 70e6), ("10k", 1e4),
                                             ("1T", 1e12), ("3e-4", 3e-4), ("-2", -2.0), ("7", 7.0)])
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["adamw", "1.3B-x", "", "v2", "1e"])
def test_parse_number_refuses(text: str) -> None:
    assert parse_number(text) is None


def _jsonl_runs(folder: Path, names: list[str]) -> Path:
    for n in names:
        (folder / f"{n}.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    return folder


@pytest.mark.parametrize(("pattern", "names", "params", "tokens"), [
    ("{params}-{tokens}", ["125M-2B", "1.3B-26B"], [125e6, 1.3e9], [2e9, 26e9]),
    ("n{params}_d{tokens}", ["n125M_d2e9", "n1.3B_d2.6e10"], [125e6, 1.3e9], [2e9, 26e9]),
    ("{params}-{tokens}x", ["125M-20x", "1.3B-40x"], [125e6, 1.3e9], [20.0, 40.0]),
    ("{}_{params}_{tokens}", ["pythia_70m_300B", "pythia_1.4b_300B"], [1.4e9, 70e6], [300e9, 300e9]),
])
def test_run_pattern(tmp_path: Path, pattern: str, names: list[str], params: list[float], tokens: list[float]) -> None:
    table = read_source(_jsonl_runs(tmp_path, names), run_pattern=pattern)
    got = table.frame.set_index("run")
    assert sorted(got["params"]) == sorted(params) and sorted(got["tokens"]) == sorted(tokens)
    assert {"params", "tokens"} <= set(table.run_columns)


def test_run_pattern_fields_that_are_not_numbers_stay_text(tmp_path: Path) -> None:
    table = read_source(_jsonl_runs(tmp_path, ["gpt-125M", "llama-1B"]), run_pattern="{family}-{params}")
    assert set(table.frame["family"]) == {"gpt", "llama"} and table.frame["params"].dtype == float


@pytest.mark.parametrize(("pattern", "message"), [("{params}-{params}", "not a usable field"), ("{1x}", "not a usable field"),
                                                  ("plain", "names no field"), ("{step}-{tokens}", "not a usable field")])
def test_bad_run_patterns(tmp_path: Path, pattern: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read_source(_jsonl_runs(tmp_path, ["a-b"]), run_pattern=pattern)


def test_runs_table_as_mapping_frame_or_file(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    _jsonl_runs(folder, ["a", "b"])
    mapping = {"a": {"params": "125M", "tokens": 2e9}, "b": {"params": "1.3B", "tokens": 26e9}}
    frame = pd.DataFrame([{"name": k, **v} for k, v in mapping.items()])
    frame.to_parquet(tmp_path / "runs.parquet")
    for runs in (mapping, frame, tmp_path / "runs.parquet"):
        got = read_source(folder, runs=runs).frame.set_index("run")
        assert got.loc["b", "params"] == 1.3e9 and got.loc["a", "tokens"] == 2e9
    with pytest.raises(SourceError, match=r"no row for run\(s\) \['b'\]"):
        read_source(folder, runs={"a": mapping["a"]})


def test_detection_and_prefixes(tmp_path: Path) -> None:
    plain = tmp_path / "batch.csv"
    plain.write_text("params,tokens,loss\n1,2,3\n")
    assert detect_source(plain) is None
    assert detect_source(tmp_path / "nothing") is None
    assert detect_source("jsonl:" + str(tmp_path)) == "jsonl"
    assert detect_source("postgresql://u@localhost/mlflow") == "mlflow"
    with pytest.raises(SourceError, match=r"not an experiment-tracker source.*load_batch"):
        read_sources(plain)
    with pytest.raises(SourceError, match="unknown source kind"):
        read_sources(plain, kind="comet")


def test_options_are_checked_per_kind(tmp_path: Path) -> None:
    folder = _jsonl_runs(tmp_path, ["a"])
    with pytest.raises(SourceError, match=r"unknown option\(s\) \['run_colum'\] for a jsonl source"):
        read_source(folder, run_colum="x")
    with pytest.raises(SourceError, match="experiments apply to MLflow stores"):
        read_sources(folder, experiments=["E"])


def test_table_contract(tmp_path: Path) -> None:
    t = read_source(_jsonl_runs(tmp_path, ["125M-2B"]), run_pattern="{params}-{tokens}", name="tiny")
    assert (t.name, t.kind, t.source) == ("tiny", "jsonl", f"jsonl {tmp_path}")
    assert list(t.frame.columns[:3]) == ["run", "step", "loss"] and t.frame["step"].dtype == "int64"
    assert t.batch_config() == {"name": "tiny", "ignore": ["params", "tokens"]}
    assert t.select("loss").batch_config() == t.batch_config()
    assert len(t.fingerprint) == 32 and "1 runs" in repr(t)
    with pytest.raises(AttributeError):
        t.name = "other"  # type: ignore[misc]


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the packages, the error says which extra to install (simulated by hiding the modules)."""
    for prefix in ("mlflow", "tensorboard"):
        for mod in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
            monkeypatch.setitem(sys.modules, mod, None)
        monkeypatch.setitem(sys.modules, prefix, None)
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(MissingExtraError, match=r'pip install "scalekit\[mlflow\]"') as err:
        read_sources(db)
    assert isinstance(err.value, ScalekitError) and isinstance(err.value, ImportError) and err.value.extra == "mlflow"
    (tmp_path / "tb" / "run").mkdir(parents=True)
    (tmp_path / "tb" / "run" / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(MissingExtraError, match=r'pip install "scalekit\[tensorboard\]"'):
        read_source(tmp_path / "tb")
