from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real-data fixture {p} is absent (../shared/data is not beside this checkout)")
    return p


@pytest.fixture(scope="session")
def chinchilla() -> pd.DataFrame:
    """Besiroglu et al.'s 240 points: the 5 highest losses excluded, as in their notebook."""
    df = pd.read_csv(shared_file("chinchilla_besiroglu", "svg_extracted_data.csv"))
    cutoff = np.sort(df["loss"].to_numpy())[-5]
    return df[df["loss"] < cutoff].reset_index(drop=True)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """The main job exactly as README runs it (examples, default bootstrap), once per session."""
    from .helpers import scalekit_cli

    out = tmp_path_factory.mktemp("site")
    p = scalekit_cli("report", "--out", str(out), "--jobs", "2")
    assert "rendered" in p.stdout
    return out


def synthetic_frame(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28, noise=0.0, sizes=6, datas=6, seed=0,
                    n_lo=1e7, n_hi=1e9, d_lo=1e9, d_hi=1e11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.geomspace(n_lo, n_hi, sizes), np.geomspace(d_lo, d_hi, datas), indexing="ij")
    N, D = N.ravel(), D.ravel()
    L = (E + A / N**alpha + B / D**beta) * np.exp(noise * rng.standard_normal(N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": L})
