"""Loading through the CLI: a FLOPs column the user named is read as given, in the unit its name says."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalekit

from ..conftest import shared_file
from ..helpers import LAW, law, scalekit_cli


def _vision(path, per_sample):
    """A vision batch: D in samples, FLOPs per parameter per sample varying run to run (98-410, as image-text pairs)."""
    rng = np.random.default_rng(0)
    N, S = np.meshgrid(np.geomspace(5e6, 5e8, 5), np.geomspace(1e6, 3e7, 4), indexing="ij")
    N, S = N.ravel(), S.ravel()
    k = rng.permutation(np.geomspace(*per_sample, N.size))
    loss = law(N, S) * np.exp(0.002 * rng.standard_normal(N.size))
    pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "samples": S, "flops": k * N * S,
                  "loss": loss}).to_csv(path, index=False)
    return k * N * S


def test_a_vision_flops_column_asked_for_is_used_as_given_with_a_note(tmp_path):
    f = tmp_path / "vision.csv"
    flops = _vision(f, (98, 410))
    out = json.loads(scalekit_cli("fit", str(f), "--set", "compute=flops", "--json", "--n-boot", "0").stdout)
    assert out["params"]["alpha"] == pytest.approx(LAW["alpha"], abs=0.03)
    b = scalekit.load_batch(f, compute="flops")
    assert b.compute == "flops column 'flops'"
    np.testing.assert_allclose(np.sort(b.frame["C"]), np.sort(flops), rtol=1e-12)  # every budget as given, not 6ND
    (note,) = [n for n in b.notes if "per parameter per sample" in n]
    assert "tokens per sample" in note


def test_a_named_flops_column_far_from_6nd_is_a_note_not_a_refusal(tmp_path):
    """Per token a ratio of 275 is odd, but the user named the column: it is used, and the note says what it gives."""
    df = pd.DataFrame({"params": np.repeat([1e7, 1e8, 1e9], 3), "tokens": np.tile([1e9, 1e10, 1e11], 3)})
    df["loss"] = law(df["params"], df["tokens"])
    df["my_compute"] = 275 * df["params"] * df["tokens"]
    f = tmp_path / "t.csv"
    df.to_csv(f, index=False)
    f.with_suffix(".yaml").write_text("columns: {flops: my_compute}\n")
    p = scalekit_cli("fit", str(f), "--json", "--n-boot", "0")
    assert json.loads(p.stdout)["metric"] == "loss"
    b = scalekit.load_batch(f)
    assert (b.frame["C"] == df["my_compute"]).all()
    assert any("275 FLOPs per parameter per token" in n and "used as given" in n for n in b.notes)


def test_a_marin_isoflop_export_in_gflops_loads_in_its_unit(tmp_path):
    """Real IsoFLOP points (Porian et al.) exported the Marin way: compute in `throughput/total_gflops`, mapped in YAML."""
    pts = pd.read_csv(shared_file("porian_isoflop", "porian_isoflop_points.csv"))
    one = pts[pts["config_id"] == "rw|tuned|short|const|standard|val"]
    assert len(one) > 50
    df = pd.DataFrame({"run": [f"r{i}" for i in range(len(one))], "params": one["n"].to_numpy(),
                       "tokens": one["t"].to_numpy(), "throughput/total_gflops": one["flops"].to_numpy() / 1e9,
                       "eval_loss": one["loss"].to_numpy()})
    f = tmp_path / "marin.csv"
    df.to_csv(f, index=False)
    f.with_suffix(".yaml").write_text("columns: {flops: throughput/total_gflops}\n")
    out = json.loads(scalekit_cli("fit", str(f), "--json", "--n-boot", "0").stdout)
    assert out["success"]
    b = scalekit.load_batch(f)
    np.testing.assert_allclose(b.frame["C"], one["flops"].to_numpy(), rtol=1e-9)  # GFLOPs read as GFLOPs
    assert b.compute == "flops column 'throughput/total_gflops'"
    assert any("throughput/total_gflops" in n and "1e+09" in n for n in b.notes)
    assert not any("per parameter per token" in n for n in b.notes)  # 6 per token once the unit is honoured


@pytest.mark.parametrize("tiny", [1e-320, 1e-300, 0.38])
def test_a_data_size_below_one_token_is_refused_at_the_door_naming_file_rows_and_column(tmp_path, tiny):
    """D = 1e-320 (subnormal) or 1e-300 used to load and give "infx" beyond the trained range in every message."""
    df = pd.DataFrame({"params": np.repeat([1e7, 1e8, 1e9], 3), "tokens": np.tile([1e9, 1e10, 1e11], 3)})
    df["loss"] = law(df["params"], df["tokens"])
    df.loc[4, "tokens"] = tiny
    f = tmp_path / "tiny.csv"
    df.to_csv(f, index=False)
    p = scalekit_cli("fit", str(f), check=False)
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1, err
    assert str(f) in err and "data size D below 1 token" in err and "column 'tokens'" in err and "row(s) 6" in err
    assert "Traceback" not in p.stderr and "inf" not in err
