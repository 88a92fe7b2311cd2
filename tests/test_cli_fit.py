"""`scalekit fit`: --help states the real defaults, and form selection shows its backtest table."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from scalekit.options import FIELDS

from .helpers import synthetic_frame


def run(*args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "scalekit", *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p


def _help_defaults() -> dict[str, str]:
    text = " ".join(run("fit", "--help").stdout.split())  # argparse wraps lines
    out = {}
    for flag in ("form", "x", "loss", "delta", "points", "n-boot", "seed"):
        found = re.findall(rf"--{flag}\b[^()]*?\(default ([^;,)]+)", text)
        assert found, flag
        out[flag] = found[-1]  # the options section, after the usage line
    return out


def test_help_defaults_are_the_defaults_a_fit_uses(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=5, datas=5, noise=0.01).to_csv(f, index=False)
    stated = _help_defaults()
    s = json.loads(run("fit", str(f), "--json", "--n-boot", "20").stdout)
    assert s["form"] == stated["form"] == "two_var"
    assert s["method"]["loss"] == stated["loss"] and float(stated["delta"]) == s["method"]["delta"]
    assert int(stated["seed"]) == s["method"]["seed"]
    for flag, name in (("x", "x"), ("points", "points"), ("n-boot", "n_boot"), ("loss", "loss")):
        assert stated[flag] == str(FIELDS[name][0]), flag


def test_fit_auto_prints_the_selection_table(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=6, datas=5, noise=0.005).to_csv(f, index=False)
    out = run("fit", str(f), "--form", "auto", "--n-boot", "20").stdout
    js = json.loads(run("fit", str(f), "--form", "auto", "--n-boot", "20", "--json").stdout)
    sel = js["method"]["selection"]
    block = out.split("[[Form selection]]", 1)[1]
    assert "median err" in block and "worst err" in block and f"reason: {sel['reason']}" in block
    for row in sel["table"]:
        line = next(ln for ln in block.splitlines() if ln.split() and ln.split()[0] == row["form"])
        assert str(row["heldout"]) in line.split()
        if row["heldout"]:
            assert f"{row['median_abs_rel_error']:.2%}" in line and f"{row['max_abs_rel_error']:.2%}" in line
            assert row["max_abs_rel_error"] >= row["median_abs_rel_error"]
        assert ("*" in line.split()) == (row["form"] == sel["chosen"])


def test_plan_prints_a_table_and_json_that_agree(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=3, noise=0.01).to_csv(f, index=False)
    js = json.loads(run("plan", str(f), "--allowance", "1e20", "--n-boot", "50", "--json").stdout)
    assert js["decision"]["kind"] == "optimum" and js["runs"]
    assert js["runs"][-1]["cumulative_flops"] <= 1e20
    text = run("plan", str(f), "--allowance", "1e20", "--n-boot", "50").stdout
    assert "[[What to train next]]" in text and "compute-optimal N at C" in text
    rows = [ln.split() for ln in text.splitlines() if ln.strip()[:1].isdigit()]
    assert len(rows) == len(js["runs"]) and float(rows[0][1]) == pytest.approx(js["runs"][0]["N"], rel=1e-2)


def test_plan_bad_decision_input_is_one_line(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=3).to_csv(f, index=False)
    p = subprocess.run([sys.executable, "-m", "scalekit", "plan", str(f), "--allowance", "1e20", "--decision", "value",
                        "--at", "7e9"], capture_output=True, text=True)
    assert p.returncode == 2 and "--at" in p.stderr and "Traceback" not in p.stderr
