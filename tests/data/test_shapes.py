"""Parameter and FLOP counts from model shapes, against the counts three public model families publish."""

from __future__ import annotations

import json
import re

import pytest

from scalekit.data.shapes import Shape, count_params, flops_per_token, model_size, shapes_for
from scalekit.exceptions import ConfigError

from ..conftest import shared_file

PYTHIA = {  # size: (layers, d_model, heads, padded vocabulary), from the Pythia README and models/*.yml
    "70m": (6, 512, 8, 50304), "160m": (12, 768, 12, 50304), "410m": (24, 1024, 16, 50304), "1b": (16, 2048, 8, 50304),
    "1.4b": (24, 2048, 16, 50304), "2.8b": (32, 2560, 32, 50304), "6.9b": (32, 4096, 32, 50432), "12b": (36, 5120, 40, 50688),
}


def _pythia_table() -> dict[str, tuple[int, int]]:
    text = shared_file("pythia_evals", "SOURCE.md").read_text()
    rows = re.findall(r"^\| ([0-9.]+[mb]) \| ([0-9,]+) \| ([0-9,]+) \|$", text, re.M)
    return {size: (int(total.replace(",", "")), int(nonemb.replace(",", ""))) for size, total, nonemb in rows}


def test_pythia_parameter_counts_exactly():
    table = _pythia_table()
    assert set(table) == set(PYTHIA)
    for size, (L, d, h, V) in PYTHIA.items():
        p = count_params(Shape(layers=L, d_model=d, heads=h, vocab=V, bias=True, norm_params=2))  # GPT-NeoX: LayerNorm, biases
        assert (p.total, p.non_embedding) == table[size], size
        assert model_size(Shape(layers=L, d_model=d, heads=h, vocab=V, bias=True, norm_params=2), "kaplan") == table[size][1]


OLMO = {"190M": (12, 768, None), "370M": (16, 1024, None), "760M": (16, 1536, None), "1.3B": (16, 2048, None)}


def test_olmo_ladder_sizes_exactly_as_its_fits_count_them():
    """OLMo's ladder counts N without the input embedding (the head included): the porian convention."""
    cfg = json.loads(shared_file("olmo_ladder", "final_config.json").read_text())
    for size, (L, d, ff) in OLMO.items():
        s = Shape(layers=L, d_model=d, heads=d // 64, vocab=100352, glu=True, qk_norm=True, d_ff=ff)
        assert model_size(s, "porian") == cfg[size]["n"], size
    text = shared_file("olmo_ladder", "SOURCE.md").read_text()
    for label, (L, d, ff) in {"7B-4T target": (32, 4096, 11008), "13B-5T target": (40, 5120, 13824)}.items():
        n = int(re.search(rf"\| {label} \| ([0-9,]+) \|", text).group(1).replace(",", ""))
        assert model_size(Shape(layers=L, d_model=d, heads=32, vocab=100352, glu=True, qk_norm=True, d_ff=ff), "porian") == n


def test_gemstones_width_by_depth_models_exactly():
    """Gemma-style: SwiGLU MLP of 4 d, grouped-query attention with half the heads for keys and values, RMSNorm, untied."""
    seen = {}
    with shared_file("gemstones", "wandb_dfs", "wandb_df_for_fitting_hot.jsonl").open() as f:
        for line in f:
            r = json.loads(line)
            seen[(r["width"], r["depth"])] = r["params_active_precise"]
    assert len(seen) == 22
    for (w, depth), n in seen.items():
        s = Shape(layers=depth, d_model=w, heads=max(2, w // 128), kv_heads=max(1, w // 256), vocab=50304, glu=True)
        assert count_params(s).total == n, (w, depth)


def test_flop_conventions_agree_where_they_should():
    s = Shape(layers=24, d_model=2048, heads=16, vocab=50304, seq_len=2048, norm_params=0, final_norm=False)
    p = count_params(s)
    # Hoffmann's itemised count without the sequence terms is 6 x every matrix (embeddings counted as a matmul)
    assert flops_per_token(s, "hoffmann", attention=False) == pytest.approx(6 * p.total)
    assert flops_per_token(s, "kaplan", attention=False) == 6 * p.non_embedding
    assert flops_per_token(s, "porian", attention=False) == 6 * (p.non_embedding + p.head)
    # attention adds 6 L T d (Kaplan eq. 2.2); Hoffmann counts the full T x T product (no causal half) and the softmax
    assert flops_per_token(s, "kaplan") - flops_per_token(s, "kaplan", attention=False) == 6 * 24 * 2048 * 2048
    extra = flops_per_token(s, "hoffmann") - flops_per_token(s, "hoffmann", attention=False)
    assert 12 * 24 * 2048 * 2048 < extra < 12.1 * 24 * 2048 * 2048


def test_mixture_of_experts_counts_total_and_active():
    dense = Shape(layers=8, d_model=512, heads=8, vocab=32000, glu=True)
    moe = Shape(layers=8, d_model=512, heads=8, vocab=32000, glu=True, experts=8, top_k=2)
    mlp = 3 * 512 * 2048
    p = count_params(moe)
    assert p.non_embedding - count_params(dense).non_embedding == 8 * (7 * mlp + 512 * 8)
    assert p.active_non_embedding - count_params(dense).non_embedding == 8 * (mlp + 512 * 8)
    assert model_size(moe, "kaplan") == p.active_non_embedding and model_size(moe, "kaplan", active=False) == p.non_embedding
    assert flops_per_token(moe, "hoffmann", attention=False) > flops_per_token(dense, "hoffmann", attention=False)


def test_shapes_for_a_target_hit_it():
    base = Shape(layers=1, d_model=128, heads=1, vocab=50304, glu=True, kv_heads=1)
    for target in (1.5e8, 1.3e9, 7e9):
        found = shapes_for(target, template=base, tolerance=0.02)
        assert found, target
        errs = [abs(model_size(s) - target) / target for s in found]
        assert max(errs) <= 0.02 and errs == sorted(errs)
        assert all(32 <= s.d_model / s.layers <= 256 and s.d_model % 128 == 0 for s in found)


@pytest.mark.parametrize("kw, said", [({"layers": 0}, "layers"), ({"heads": 3}, "multiple of heads"),
                                      ({"kv_heads": 3}, "divisor of heads"), ({"experts": 2, "top_k": 3}, "top_k"),
                                      ({"norm_params": 5}, "norm_params")])
def test_bad_shapes_are_named(kw, said):
    with pytest.raises(ConfigError, match=said):
        Shape(**{"layers": 2, "d_model": 256, "heads": 4, "vocab": 1000, **kw})


def test_a_batch_may_give_model_shapes_instead_of_n(tmp_path):
    import numpy as np
    import pandas as pd

    import scalekit

    shapes = [(6, 512, 8), (12, 768, 12), (24, 1024, 16), (16, 2048, 8)]
    rows = []
    for L, d, h in shapes:
        n = count_params(Shape(layers=L, d_model=d, heads=h, vocab=50304)).non_embedding + 50304 * d
        for D in (1e9, 1e10, 1e11):
            rows.append({"n_layers": L, "d_model": d, "n_heads": h, "vocab_size": 50304, "tokens": D,
                         "loss": 1.7 + 400 / n ** 0.34 + 410 / D ** 0.28, "_n": n})
    df = pd.DataFrame(rows)
    p = tmp_path / "shapes.csv"
    df.drop(columns="_n").to_csv(p, index=False)
    before = p.read_bytes()
    b = scalekit.load_batch(p)
    assert p.read_bytes() == before
    np.testing.assert_allclose(np.sort(b.frame["N"].unique()), np.sort(df["_n"].unique()))
    assert any("N computed from the model shape" in n and "porian" in n for n in b.notes)
    fit = scalekit.fit_law(b, n_boot=0)
    assert fit.params["alpha"] == pytest.approx(0.34, rel=1e-3)
