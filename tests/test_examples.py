"""The example-batch generator."""

from __future__ import annotations

import pandas as pd

import scalekit
from scalekit.examples import TRUTH, behavior_frame, perception_frame, write_examples


def test_generator_is_seeded_and_shaped_like_the_seed_experiments():
    a, b = behavior_frame(), behavior_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not behavior_frame(seed=1).equals(a)
    assert sorted(a["model_scale"].unique(), key=lambda s: int(s[:-1])) == ["1x", "2x", "4x", "8x", "16x", "32x"]
    assert sorted(a["data_scale"].unique()) == ["1x", "2x", "4x", "7x"]
    assert a.groupby("run").size().min() >= 15  # checkpoints along each run
    p = perception_frame()
    assert p["params"].max() / p["params"].min() == 11 and sorted(p["data_fraction"].unique())[0] == 0.075
    assert p["map"].between(0, 1).all() and set(p["version"]) == {"v1", "v2"}
    assert set(TRUTH) == {"behavior", "perception v1", "perception v2"}


def test_written_examples_load_with_their_configs(tmp_path):
    beh, per = write_examples(tmp_path)
    b = scalekit.load_batch(beh)
    assert b.name == "behavior" and set(b.metrics) == {"eval_loss", "min_ade", "train_loss"} and b.config.run_options.max_params == 5e7
    p = scalekit.load_batch(per)
    assert p.metrics["map"].direction == "max" and p.versions == ["v1", "v2"]
