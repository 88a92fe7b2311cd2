"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import shared_file
from .helpers import jsonl_runs, synthetic_frame


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


def one_line_exit_2(p):
    """A user mistake: exit 2, one line on stderr, no traceback."""
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, (p.returncode, p.stderr)


def test_a_reader_that_goes_away_is_no_internal_error(tmp_path):
    """`scalekit fit x.csv | head -1`: the pipe's reader closes first; before, BrokenPipeError was an internal error (exit 3)."""
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    p = subprocess.Popen([sys.executable, "-m", "scalekit", "fit", str(f), "--json", "--n-boot", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.close()  # the reader is gone before the first line is written
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141 and "Traceback" not in err and "internal error" not in err, err


def test_a_billion_resamples_is_refused_in_one_line(tmp_path):
    """Before: --n-boot 1000000000 allocated 37 GiB of draws and died minutes later."""
    import time

    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    t = time.monotonic()
    p = run("fit", str(f), "--n-boot", "1000000000", check=False)
    one_line_exit_2(p)
    assert "option 'n_boot': got 1000000000; allowed: a whole number >= 0 and < 1e+07" in p.stderr
    assert time.monotonic() - t < 60
    p = run("report", str(f), "--set", "n_boot_optimal=1e9", "--out", str(tmp_path / "site"), check=False)
    one_line_exit_2(p)
    assert "n_boot_optimal" in p.stderr and not (tmp_path / "site").exists()


def test_yaml_alias_bomb_in_set_is_refused_at_once(tmp_path):
    """Nine levels of nine aliases: 387 million items if expanded (minutes of CPU, then MemoryError)."""
    import time

    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    bomb = "[" + ", ".join([f"&a0 [{', '.join(['x'] * 9)}]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]) + "]"
    t = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "scalekit", "fit", str(f), "--set", f"description={bomb}"], capture_output=True,
                       text=True, timeout=60)  # expanded, it would run for minutes: the timeout stops it
    one_line_exit_2(p)
    assert "YAML aliases (*a0) are not allowed" in p.stderr and time.monotonic() - t < 30


def test_dates_and_binary_in_set_and_config_are_text_or_one_line(tmp_path):
    """Before: a date or !!binary reached json.dumps and stopped `report` with "not JSON serializable" (exit 3)."""
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    out = run("fit", str(f), "--n-boot", "0", "--set", "name=2024-05-01", "--set", "description=2024-05-01 10:00:00").stdout
    assert out.startswith("batch 2024-05-01:")  # a date written plainly is the text written
    # report reads every config value into JSON for the notebook before it looks for the batch: exit 2 on the missing file
    missing = str(tmp_path / "missing.csv")
    for flags in (["--set", "name=2024-05-01"], ["--set", "description=2024-05-01T10:00:00Z"]):
        p = run("report", missing, *flags, "--out", str(tmp_path / "s"), check=False)
        one_line_exit_2(p)
        assert "no such file or folder" in p.stderr, p.stderr
    cfg = tmp_path / "dated.yaml"
    cfg.write_text("name: 2024-05-01\ndescription: 2024-05-01 10:00:00\n")
    p = run("report", missing, "--config", str(cfg), "--out", str(tmp_path / "s"), check=False)
    one_line_exit_2(p)
    assert "no such file or folder" in p.stderr, p.stderr
    for bad, said in (("name=!!binary aGVsbG8=", "binary data (!!binary)"), ("name=!!set {a}", "a set (!!set)"),
                      ("name=!!timestamp 2024-05-01", "a date (!!timestamp)")):
        for cmd in (["fit", str(f)], ["report", missing, "--out", str(tmp_path / "s")]):
            p = run(*cmd, "--set", bad, check=False)
            one_line_exit_2(p)
            assert said in p.stderr and "--set name" in p.stderr, (bad, p.stderr)
    cfg.write_text("name: !!binary aGVsbG8=\n")
    p = run("fit", str(f), "--config", str(cfg), check=False)
    one_line_exit_2(p)
    assert str(cfg) in p.stderr and "binary data" in p.stderr
    assert not (tmp_path / "s").exists()


def test_report_flags_are_checked_before_anything_runs(tmp_path):
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    site = tmp_path / "site"
    p = run("report", str(f), "--jobs", "-3", "--out", str(site), check=False)
    one_line_exit_2(p)
    assert "--jobs: got -3; allowed: a whole number >= 1" in p.stderr
    work = tmp_path / "cwd"
    work.mkdir()
    p = subprocess.run([sys.executable, "-m", "scalekit", "report", str(f), "--out", ""], capture_output=True, text=True,
                       cwd=work)
    one_line_exit_2(p)
    assert "--out: got an empty folder name" in p.stderr and not any(work.iterdir())  # nothing written into the current folder
    p = run("report", str(f), "--set", "only_metrics=[nope]", "--out", str(site), check=False)
    one_line_exit_2(p)  # before: exit 1, the kernel failing on the unknown metric
    assert "option 'only_metrics': got 'nope'; allowed: the metrics of batch 'b'" in p.stderr and "['loss']" in p.stderr
    p = run("report", "--set", "only_metrics=[nope]", "--out", str(site), check=False)  # the embedded examples too
    one_line_exit_2(p)
    assert "allowed: the metrics of batch 'behavior'" in p.stderr
    assert not site.exists()


def test_a_dead_dask_scheduler_is_one_line_within_seconds(tmp_path):
    """Before: a traceback (exit 3) after distributed's 30 s connect timeout."""
    import socket
    import time

    pytest.importorskip("dask.distributed")
    f = tmp_path / "b.csv"
    synthetic_frame(sizes=4, datas=4).to_csv(f, index=False)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    p = run("report", str(f), "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "s"),
            check=False)
    one_line_exit_2(p)
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach a Dask scheduler there" in p.stderr
    assert time.monotonic() - t < 25  # before: distributed's 30 s connect timeout, then the traceback


def test_relative_runs_table_in_a_config_file_is_read_beside_it(tmp_path, monkeypatch):
    """`source: {runs: runs.csv}` in --config FILE names the file beside the config, wherever the command runs from."""
    logs, cfg = jsonl_runs(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = subprocess.run([sys.executable, "-m", "scalekit", "fit", str(logs), "--config", str(cfg), "--metric", "eval_loss",
                        "--json", "--n-boot", "0", "--form", "two_var"], capture_output=True, text=True, cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["params"]["alpha"] == pytest.approx(0.34, abs=0.03)

