"""Bad input gets a named error (file, line or row, column, what was expected), never a traceback.

Each case was a traceback or an unclear message before (issue 13): run through the real command
line entry point, it exits 2 with one line on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit.cli import main
from scalekit.exceptions import BatchValidationError

from ..helpers import finals_frame


def cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    err = capsys.readouterr().err
    return rc, err


def one_line_error(capsys, *args: str) -> str:
    rc, err = cli(capsys, *args)
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def good(tmp_path):
    return finals_frame(sizes=(1e7, 3e7, 1e8, 3e8), datas=(1e9, 3e9, 1e10, 3e10), noise=0.0)


def test_jsonl_line_that_is_an_array_is_named_by_line(tmp_path, capsys, good):
    p = tmp_path / "b.jsonl"
    lines = [json.dumps(r) for r in good.to_dict("records")]
    lines.insert(3, "[1, 2, 3]")
    p.write_text("\n".join(lines) + "\n")
    err = one_line_error(capsys, "fit", str(p), "--n-boot", "0")
    assert "line 4 is a JSON array, not an object" in err and str(p) in err


def test_bad_jsonl_line_is_reported_by_line_number(tmp_path, capsys, good):
    p = tmp_path / "b.jsonl"
    lines = [json.dumps(r) for r in good.to_dict("records")]
    lines.insert(7, '{"run": "x", "params": 1e7,')
    p.write_text("\n\n".join(lines) + "\n")  # blank lines between records: line numbers still the file's
    err = one_line_error(capsys, "fit", str(p), "--n-boot", "0")
    assert "line 15 is not valid JSON" in err and "position" not in err


def test_jsonl_rows_keep_their_line_numbers_in_later_errors(tmp_path, good):
    p = tmp_path / "b.jsonl"
    recs = good.to_dict("records")
    recs[2]["params"] = -5
    p.write_text("\n\n".join(json.dumps(r) for r in recs) + "\n")
    with pytest.raises(BatchValidationError, match=r"row\(s\) 5\b"):
        scalekit.load_batch(p)


def test_duplicate_header_is_refused(tmp_path, capsys, good):
    p = tmp_path / "b.csv"
    good.to_csv(p, index=False)
    text = p.read_text().splitlines()
    text[0] = "run,params,loss,loss"  # pandas would call the second one loss.1
    p.write_text("\n".join(text) + "\n")
    err = one_line_error(capsys, "fit", str(p))
    assert "names column 'loss' more than once" in err


def test_one_text_cell_in_a_metric_names_column_and_row(tmp_path, capsys, good):
    p = tmp_path / "b.csv"
    df = good.astype({"loss": object})
    df.loc[5, "loss"] = "n/a?"
    df.to_csv(p, index=False)
    err = one_line_error(capsys, "fit", str(p))
    assert "non-numeric value 'n/a?'" in err and "column 'loss'" in err and "row(s) 7" in err  # line 7: header + 6th row


def test_a_text_column_that_is_not_numeric_stays_out_quietly(tmp_path):
    df = finals_frame().assign(note="all text here")
    assert list(scalekit.load_batch(df).metrics) == ["loss"]


def test_overflowing_compute_is_named(capsys, tmp_path, good):
    p = tmp_path / "b.csv"
    good.assign(params=np.where(good.index == 3, 1e308, good["params"])).to_csv(p, index=False)
    err = one_line_error(capsys, "fit", str(p))
    assert "compute C = 6 N D overflows to infinity" in err and "row(s) 5" in err


def test_a_loss_below_zero_is_no_refusal_but_a_fit_on_linear_residuals(capsys, tmp_path, good):
    """A loss minus a baseline (unigram-normalised) can be zero or negative: it loads, and is fitted on its own scale."""
    p = tmp_path / "b.csv"
    good.assign(loss=good["loss"] - 3.0).to_csv(p, index=False)
    assert (good["loss"] - 3.0 < 0).any() and (good["loss"] - 3.0 > 0).any()
    batch = scalekit.load_batch(p)
    fit = scalekit.fit_law(batch, n_boot=0)
    assert fit.residual_scale == "linear" and "linear residuals" in fit.message
    assert fit.params["E"] == pytest.approx(good_floor() - 3.0, abs=0.05)  # the floor itself may be negative


def good_floor() -> float:
    from ..helpers import LAW

    return float(LAW["E"])


def test_same_run_name_in_two_versions_is_two_runs(tmp_path, good):
    df = pd.concat([good.assign(version="v1"), good.assign(version="v2", loss=good["loss"] * 1.1)])
    b = scalekit.load_batch(df)
    assert b.runs == 2 * len(good) and any("more than one version" in n for n in b.notes)
    v1 = b.select_version("v1")
    assert sorted(v1.frame["run"]) == sorted(good["run"]) and v1.runs == len(good)
    with pytest.raises(BatchValidationError, match="duplicate run names"):  # within one version it is still a duplicate
        scalekit.load_batch(pd.concat([good, good]).assign(version="v1"))


@pytest.mark.parametrize("yaml_text, said", [
    ("metrics: 5\n", "[metrics]: got 5; expected a list of metric names"),
    ("metrics: []\n", "[metrics]: got an empty list; expected at least one metric name"),
    ("ignore: 5\n", "[ignore]: got 5; expected a column name or a list of them"),
    ("metrics:\n  - {name: loss, bound: abc}\n", "[metrics.loss.bound]: got 'abc'; expected a number"),
    ("options: {nbot: 3}\n", "got unknown option 'nbot'"),
    ("options: {delta: -1}\n", "option 'delta': got -1; allowed: a finite number > 0"),
])
def test_bad_config_values_are_one_line(tmp_path, capsys, good, yaml_text, said):
    p = tmp_path / "b.csv"
    good.to_csv(p, index=False)
    p.with_suffix(".yaml").write_text(yaml_text)
    err = one_line_error(capsys, "fit", str(p))
    assert said in err and "b.yaml" in err


def test_latin1_yaml_is_named(tmp_path, capsys, good):
    p = tmp_path / "b.csv"
    good.to_csv(p, index=False)
    p.with_suffix(".yaml").write_bytes("name: café\n".encode("latin-1"))
    err = one_line_error(capsys, "fit", str(p))
    assert "not UTF-8 text" in err


def test_yaml_alias_bomb_is_refused_without_expanding(tmp_path, good):
    """Nine levels of nine aliases expand to 387 million items; the loader must refuse the first alias."""
    p = tmp_path / "b.csv"
    good.to_csv(p, index=False)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    p.with_suffix(".yaml").write_text("\n".join(levels) + "\nname: *a9\n")
    code = ("import resource, sys, scalekit\n"
            "try:\n    scalekit.load_batch(sys.argv[1])\nexcept scalekit.ConfigError as e:\n    print(e)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    msg, peak_kb = out.stdout.strip().splitlines()
    assert "YAML aliases (*a0) are not allowed" in msg and "line 2" in msg
    plain = tmp_path / "plain.csv"  # the same process loading a harmless batch: what scalekit's imports cost by themselves
    good.to_csv(plain, index=False)
    base = subprocess.run([sys.executable, "-c", code, str(plain)], capture_output=True, text=True, timeout=120)
    base_kb = int(base.stdout.strip().splitlines()[-1])
    # expanded, the aliases would be 387 million items: gigabytes, not a few megabytes above the baseline
    assert int(peak_kb) < base_kb + 100 * 1024, f"peak memory {int(peak_kb) // 1024} MB against {base_kb // 1024} MB: aliases expanded"


@pytest.mark.parametrize("flag, value, said", [
    ("--delta", "-1", "option 'delta': got -1.0; allowed: a finite number > 0"),
    ("--delta", "0", "option 'delta': got 0.0"), ("--delta", "nan", "option 'delta': got nan"),
    ("--seed", "-1", "option 'seed': got -1; allowed: a whole number >= 0"),
])
def test_bad_options_on_the_command_line(tmp_path, capsys, good, flag, value, said):
    p = tmp_path / "b.csv"
    good.to_csv(p, index=False)
    err = one_line_error(capsys, "fit", str(p), f"{flag}={value}")
    assert said in err


def test_empty_batch_folder_is_an_error_not_an_empty_site(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = one_line_error(capsys, "report", str(tmp_path / "empty"), "--out", str(tmp_path / "site"))
    assert "no data file in the folder" in err and not (tmp_path / "site" / "index.html").exists()

