"""load_batch: sources, aliases, config, and a clear error for every kind of bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import scalekit
from scalekit import BatchValidationError, ConfigError
from scalekit.data.metric import infer_direction
from scalekit.data.slug import slugify

from ..conftest import shared_file
from ..helpers import synthetic_frame


def write(tmp_path, df, name="b.csv", yaml=None):
    p = tmp_path / name
    if name.endswith(".csv"):
        df.to_csv(p, index=False)
    elif name.endswith(".parquet"):
        df.to_parquet(p)
    else:
        df.to_json(p, orient="records", lines=True)
    if yaml is not None:
        p.with_suffix(".yaml").write_text(yaml)
    return p


@pytest.mark.parametrize("name", ["b.csv", "b.parquet", "b.jsonl"])
def test_sources_load_the_same(tmp_path, name):
    df = synthetic_frame(sizes=3, datas=3)
    b = scalekit.load_batch(write(tmp_path, df, name))
    assert b.runs == 9 and list(b.metrics) == ["loss"]
    np.testing.assert_allclose(b.frame["C"], 6 * df["params"] * df["tokens"])
    assert b.compute == "6ND" and b.name == "b"


def test_yaml_config_beside_file_maps_columns_and_declares_metrics(tmp_path):
    df = pd.DataFrame({"size": [1e6, 1e7, 1e8], "toks": [1e9] * 3, "score_x": [0.2, 0.3, 0.4], "junk": [1, 2, 3]})
    p = write(tmp_path, df, yaml="name: My batch\ncolumns: {params: size, tokens: toks}\n"
              "metrics:\n  - {name: quality, column: score_x, direction: max, bound: 1}\nbudgets: [1e20]\n")
    b = scalekit.load_batch(p)
    assert b.name == "My batch" and b.slug == "my-batch"
    assert b.metrics["quality"].direction == "max" and b.metrics["quality"].bound == 1
    assert b.config.run_options.budgets == (1e20,)
    # keywords override the YAML
    assert scalekit.load_batch(p, name="other").name == "other"


def test_aliases_and_float_compute_for_llm_scale(tmp_path):
    # 6 N D overflows int64 here: N ~ 7e10, D ~ 1.4e13 (both integers in the file)
    df = pd.DataFrame({"Model Size": [70_000_000_000, 7_000_000_000, 700_000_000],
                       "n_tokens": [14_000_000_000_000, 2_000_000_000_000, 300_000_000_000], "eval_loss": [1.9, 2.1, 2.5]})
    b = scalekit.load_batch(write(tmp_path, df))
    assert b.frame["C"].iloc[0] == pytest.approx(6 * 7e10 * 1.4e13)
    assert b.frame["C"].iloc[0] > np.iinfo(np.int64).max


def test_steps_times_batch_size_and_checkpoints():
    rows = [{"run": f"r{n}", "params": n, "step": s, "batch_size": 256, "loss": 5 - np.log10(n) * 0.1 - s * 1e-4}
            for n in (1e6, 1e7, 1e8) for s in (100, 200, 300)]
    b = scalekit.load_batch(pd.DataFrame(rows))
    assert b.has_checkpoints and b.runs == 3 and b.rows == 9
    assert b.frame["D"].max() == 300 * 256
    assert "step" in b.data_unit
    assert len(b.finals()) == 3 and (b.finals()["step"] == 300).all()


def test_flops_column_used_and_reported(tmp_path):
    df = synthetic_frame(sizes=3, datas=2).assign(flops=lambda d: 7.0 * d.params * d.tokens)
    b = scalekit.load_batch(df)
    assert b.compute.startswith("flops column") and b.frame["C"].iloc[0] == pytest.approx(7 * df.params[0] * df.tokens[0])
    assert scalekit.load_batch(df, compute="6ND").compute == "6ND"


def test_chinchilla_real_file_with_derived_tokens():
    p = shared_file("chinchilla_besiroglu", "svg_extracted_data.csv")
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    b = scalekit.load_batch(p, metrics=["loss"])
    assert b.rows == 245 and b.frame["D"].min() == pytest.approx(2.45e8, rel=0.01)
    assert any("C / (6 N)" in n for n in b.notes)
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before  # input never modified


def test_direction_inference():
    assert infer_direction("min_ade") == "min" and infer_direction("train_loss") == "min"
    assert infer_direction("eval/c4_en-validation/CrossEntropyLoss") == "min"
    assert infer_direction("mAP") == "max" and infer_direction("acc_hellaswag") == "max"
    assert infer_direction("err_avg46") == "min" and infer_direction("lr") is None


def test_slug_is_path_safe():
    assert slugify("../../x") == "x"
    assert slugify("<script>alert(1)</script>") == "script-alert-1-script"
    assert slugify("...") == "batch" and "/" not in slugify("a/b\\c")


def test_diverged_runs_excluded_and_listed():
    rows = [{"run": f"r{n:g}", "params": n, "tokens": 1e9 * (s / 100), "step": s, "loss": 4 - np.log10(n) * 0.2}
            for n in (1e6, 1e7, 1e8) for s in (100, 200)]
    df = pd.DataFrame(rows)
    df.loc[5, "loss"] = np.inf
    b = scalekit.load_batch(df)
    assert b.runs == 2 and [e.run for e in b.excluded] == ["r1e+08"]
    assert "diverged" in b.excluded[0].reason and "step 200" in b.excluded[0].reason
    assert b.summary()["excluded"][0]["run"] == "r1e+08"


# --- every validation error names file, rows, column and what was expected ------------
def err(tmp_path, df, yaml=None, **cfg) -> str:
    p = write(tmp_path, df, yaml=yaml)
    with pytest.raises(BatchValidationError) as ei:
        scalekit.load_batch(p, **cfg)
    msg = str(ei.value)
    assert str(p) in msg
    return msg


def test_missing_required_column(tmp_path):
    msg = err(tmp_path, pd.DataFrame({"tokens": [1, 2], "loss": [1.0, 2.0]}))
    assert "model-size" in msg and "'params'" in msg and "Expected" in msg


def test_missing_data_column(tmp_path):
    msg = err(tmp_path, pd.DataFrame({"params": [1, 2], "loss": [1.0, 2.0]}))
    assert "data-size" in msg and "tokens" in msg


def test_non_numeric_size(tmp_path):
    df = synthetic_frame(sizes=3, datas=3).astype({"params": object})
    df.loc[4, "params"] = "big"
    msg = err(tmp_path, df)
    assert "'big'" in msg and "column 'params'" in msg and "row(s) 6" in msg  # line 6: header + 5th row


def test_non_positive_tokens_lists_rows(tmp_path):
    df = synthetic_frame(sizes=4, datas=4)
    df.loc[[2, 3, 9, 10, 11, 12, 13], "tokens"] = 0
    msg = err(tmp_path, df)
    assert "non-positive" in msg and "column 'tokens'" in msg and "4, 5, 11" in msg and "(7 rows in all)" in msg


def test_unknown_metric(tmp_path):
    msg = err(tmp_path, synthetic_frame(sizes=3, datas=3), metrics=["eval_loss"])
    assert "unknown metric 'eval_loss'" in msg and "'loss'" in msg


def test_duplicate_run_step(tmp_path):
    df = pd.DataFrame({"run": ["a", "a", "b"], "step": [1, 1, 1], "params": [1e6, 1e6, 1e7], "tokens": [1e8] * 3, "loss": [3.0, 3.0, 2.0]})
    msg = err(tmp_path, df)
    assert "duplicate (run, step)" in msg and "row(s) 2, 3" in msg


def test_higher_is_better_outside_bound(tmp_path):
    df = pd.DataFrame({"params": [1e6, 1e7, 1e8], "samples": [1e5] * 3, "map": [40.0, 50.0, 60.0]})
    msg = err(tmp_path, df)
    assert "outside its bound" in msg and "column 'map'" in msg and "row(s) 2, 3, 4" in msg and "percentages" in msg


def test_too_few_sizes(tmp_path):
    df = pd.DataFrame({"params": [1e6, 1e6], "tokens": [1e8, 1e9], "loss": [3.0, 2.9]})
    msg = err(tmp_path, df)
    assert "too few distinct model sizes" in msg and "column 'params'" in msg


def test_columns_that_say_no_direction_are_left_out_with_a_note(tmp_path):
    df = pd.DataFrame({"params": [1e6, 1e7], "tokens": [1e8, 1e9], "loss": [3.0, 2.9], "width": [256.0, 512.0],
                       "gpu_power_w": [300.0, 310.0], "upgrade_steps": [1.0, 2.0]})
    b = scalekit.load_batch(df)
    assert b.metrics.keys() == {"loss"}  # whole words: "wer" in gpu_power_w and "ade" in upgrade_steps say nothing
    assert any("'width'" in n and "gpu_power_w" in n and "metrics:" in n for n in b.notes)
    assert scalekit.load_batch(df, metrics=[{"name": "width", "direction": "min"}]).metrics.keys() == {"width"}
    msg = err(tmp_path, df.drop(columns="loss"))
    assert "no metric column says which way is better" in msg and "--metric width" in msg


def test_bad_config_key(tmp_path):
    p = write(tmp_path, synthetic_frame(sizes=3, datas=3), yaml="metricz: [loss]\n")
    with pytest.raises(ConfigError, match=r"unknown key.*metricz") as ei:
        scalekit.load_batch(p)
    assert str(p.with_suffix(".yaml")) in str(ei.value)


def test_missing_file():
    with pytest.raises(BatchValidationError, match="no such file"):
        scalekit.load_batch("/nonexistent/batch.csv")


def test_in_runs_matches_labels_whatever_the_array_types():
    """Run ids from pandas (object arrays) against fixed-width str labels, and numbers against their str form."""
    from scalekit.data.batch import in_runs

    labels = np.array([f"r{i}" for i in range(12)]).astype(str)
    held = pd.Series(["r3", "r10", "r99"]).astype(str).to_numpy()
    assert held.dtype == object
    np.testing.assert_array_equal(in_runs(labels, held), np.isin(np.arange(12), [3, 10]))
    np.testing.assert_array_equal(in_runs(labels, {"r0"}), np.arange(12) == 0)
    assert not in_runs(labels, []).any()
    np.testing.assert_array_equal(in_runs(np.array([1, 2, 3]), ["2"]), [False, True, False])
