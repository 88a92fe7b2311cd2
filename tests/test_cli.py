"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import shared_file, synthetic_frame


def run(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "scalekit", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(p.stderr)
    return p


def test_fit_json_prints_summary():
    p = shared_file("chinchilla_besiroglu", "svg_extracted_data.csv")
    out = run("fit", str(p), "--metric", "loss", "--json", "--n-boot", "100")
    s = json.loads(out.stdout)
    assert s["ndata"] == 245 and s["params"]["alpha"] > 0.2 and len(s["ci"]["beta"]) == 2


def test_fit_text_report(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=5, datas=5).to_csv(f, index=False)
    out = run("fit", str(f), "--n-boot", "0")
    assert "[[Parameters]]" in out.stdout and "alpha =" in out.stdout


def test_fit_bad_input_exits_2_with_message(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=3, datas=3).drop(columns="params").to_csv(f, index=False)
    p = run("fit", str(f), check=False)
    assert p.returncode == 2 and str(f) in p.stderr and "Traceback" not in p.stderr
