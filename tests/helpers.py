"""Shared helpers for the rendering tests: small batches on disk and running the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def small_batch(folder: Path, name: str = "small", *, yaml: str | None = None, seed: int = 0,
                metric: str = "loss", run_names=None) -> Path:
    """A 5 x 4 grid of runs from a known law, written as CSV (+ YAML)."""
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e9, 3e10, 4), indexing="ij")
    N, D = N.ravel(), D.ravel()
    L = (1.7 + 400 / N**0.34 + 410 / D**0.28) * np.exp(0.003 * rng.standard_normal(N.size))
    runs = run_names if run_names is not None else [f"r{i}" for i in range(N.size)]
    df = pd.DataFrame({"run": runs, "params": N, "tokens": D, metric: L})
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.csv"
    df.to_csv(p, index=False)
    if yaml is not None:
        p.with_suffix(".yaml").write_text(yaml)
    return p


def scalekit_cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "scalekit", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p
