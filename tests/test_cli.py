"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


# Every public dataset, read where it lies (read-only, not copied), with at most --config/--set flags.
REAL_DATASETS = [
    (("chinchilla_besiroglu", "svg_extracted_data.csv"), ["--metric", "loss"]),
    (("gadre_overtraining", "gadre_models_flat.csv"), ["--metric", "loss_c4_val"]),
    (("gemstones", "wandb_dfs", "wandb_df_for_fitting_hot_100b+_477.jsonl"), ["--metric", "final_loss"]),
    (("porian_isoflop", "porian_isoflop_points.csv"), ["--metric", "loss"]),
    (("pythia_evals", "pythia_zeroshot_long.csv"), ["--metric", "piqa/acc", "--set", "long={names: [task, metric], value: value}"]),
    (("obsscaling", "base_llm_benchmark_eval.csv"),
     ["--metric", "MMLU", "--set", "compute=6ND", "--set", "missing=drop", "--set", "metrics=[{name: MMLU, direction: max}]"]),
    (("olmo_ladder", "ladder-runs"),
     ["--metric", "eval/c4_en-validation/CrossEntropyLoss", "--set", "source={run_pattern: '{params}-{mult}xC'}"]),
]


def test_fit_works_on_every_real_dataset_without_copying_it():
    for parts, flags in REAL_DATASETS:
        p = shared_file(*parts)
        before = {f: f.stat().st_mtime_ns for f in ([p] if p.is_file() else p.iterdir())}
        out = run("fit", str(p), "--json", "--n-boot", "0", *flags, check=False)
        assert out.returncode == 0, (parts, out.stderr[-1500:])
        s = json.loads(out.stdout)
        assert s["metric"] == flags[1] and s["ndata"] >= 16 and 0 < s["params"]["alpha"] < 3, (parts, s["params"])
        assert ({f: f.stat().st_mtime_ns for f in before} == before and not any(p.parent.glob("*.yaml"))) or p.is_dir()


def test_config_from_anywhere_ignore_and_metric_flags(tmp_path):
    data = tmp_path / "ro"
    data.mkdir()
    f = data / "b.csv"
    df = synthetic_frame(sizes=5, datas=5, noise=0.01)
    df["quality"] = 1 - 0.5 * df["loss"] / df["loss"].max()
    df["lr"] = 3e-4
    df.to_csv(f, index=False)
    cfg = tmp_path / "elsewhere.yaml"
    cfg.write_text("name: from elsewhere\nmetrics: [{name: quality, direction: max, bound: 1}]\n")
    data.chmod(0o555)  # read-only data: nothing may be written beside it
    try:
        out = json.loads(run("fit", str(f), "--config", str(cfg), "--json", "--n-boot", "0").stdout)
        assert out["metric"] == "quality" and out["direction"] == "max"
        out = json.loads(run("fit", str(f), "--metric", "loss", "--ignore", "lr", "--json", "--n-boot", "0").stdout)
        assert out["metric"] == "loss"
    finally:
        data.chmod(0o755)


@pytest.mark.parametrize("column, factor", [("Model Size (B)", 1e9), ("model_size_m", None)])
def test_unit_suffixed_columns_are_read_with_their_unit(tmp_path, column, factor):
    df = synthetic_frame(sizes=4, datas=4)
    f = tmp_path / "u.csv"
    if factor is None:  # an unknown spelling is not guessed: the error names the columns and the fix
        df.rename(columns={"params": column}).to_csv(f, index=False)
        p = run("fit", str(f), check=False)
        assert p.returncode == 2 and "model-size column" in p.stderr and column in p.stderr
        return
    df.assign(params=df["params"] / factor).rename(columns={"params": column}).to_csv(f, index=False)
    s = json.loads(run("fit", str(f), "--json", "--n-boot", "0").stdout)
    assert s["params"]["alpha"] == pytest.approx(0.34, rel=1e-3)


def test_flops_in_the_wrong_unit_is_an_error_naming_the_unit(tmp_path):
    df = synthetic_frame(sizes=4, datas=4)
    df["flops"] = 6 * df["params"] * df["tokens"] / 1e9
    f = tmp_path / "g.csv"
    df.to_csv(f, index=False)
    p = run("fit", str(f), check=False)
    assert p.returncode == 2 and "GFLOP" in p.stderr and "6e-09 FLOPs per parameter per token" in p.stderr


def test_did_you_mean_and_folders_and_missing_paths(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    p = run("fit", str(f), "--metric", "los", check=False)
    assert p.returncode == 2 and "did you mean 'loss'" in p.stderr and "--metric loss" in p.stderr
    p = run("fit", str(tmp_path), check=False)
    assert p.returncode == 2 and "is a folder" in p.stderr
    p = run("report", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "site"), check=False)
    assert p.returncode == 2 and "no such file or folder" in p.stderr and not (tmp_path / "site").exists()
