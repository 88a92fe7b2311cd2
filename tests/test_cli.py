"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import shared_file
from .helpers import synthetic_frame


def run(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "scalekit", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(p.stderr)
    return p


def test_fit_json_prints_summary():
    p = shared_file("chinchilla_besiroglu", "svg_extracted_data.csv")
    out = run("fit", str(p), "--metric", "loss", "--json", "--n-boot", "100", "--form", "two_var")
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


def test_every_option_can_be_set_from_the_command_line(tmp_path):
    """--set reaches every field of the one options schema (here through `fit`, whose summary records the method)."""
    from scalekit.options import FIELDS, THRESHOLD_FIELDS

    f = tmp_path / "b.csv"
    synthetic_frame(sizes=5, datas=5, noise=0.01).to_csv(f, index=False)
    out = run("fit", str(f), "--json", "--set", "n_boot=30", "--set", "seed=7", "--set", "loss=squared",
              "--set", "starts=both", "--set", "n_starts=3", "--set", "targets=[0.01,0.05]", "--set", "thresholds.noise_k=4")
    m = json.loads(out.stdout)["method"]
    assert (m["n_boot"], m["seed"], m["loss"], m["start_strategy"], m["starts"]) == (30, 7, "squared", "both", 3)
    help_text = run("report", "--help").stdout
    for name in [*FIELDS, *THRESHOLD_FIELDS]:
        assert name in help_text, name


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    for bad, said in (("delta=-1", "option 'delta': got -1; allowed: a finite number > 0"),
                      ("seed=-1", "option 'seed': got -1"), ("nboot=3", "unknown key(s) ['nboot']"),
                      ("thresholds.nope=1", "unknown threshold(s) ['nope']")):
        p = run("fit", str(f), "--set", bad, check=False)
        assert p.returncode == 2 and said in p.stderr and "Traceback" not in p.stderr, (bad, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    p = run("report", str(f), "--set", "delta=0", "--out", str(tmp_path / "site"), check=False)
    assert p.returncode == 2 and "option 'delta'" in p.stderr and not (tmp_path / "site").exists()


def test_no_arguments_prints_help():
    p = run(check=False)
    assert p.returncode == 2 and "usage: scalekit" in p.stdout and "examples:" in p.stdout
