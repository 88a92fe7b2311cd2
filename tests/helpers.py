"""Shared helpers for the rendering tests: small batches on disk and running the real CLI."""

from __future__ import annotations

import json
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


LAW = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}  # the shared synthetic law


def law(N, D, E=LAW["E"], A=LAW["A"], B=LAW["B"], alpha=LAW["alpha"], beta=LAW["beta"]):
    return E + A / np.power(N, alpha) + B / np.power(D, beta)


def curves_frame(*, sizes=(1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8), datas=(2e9, 4e9, 8e9, 1.4e10), checkpoints=15, noise=0.003,
                 seed=0, params=None, modify=None, train_gap=0.05) -> pd.DataFrame:
    """Loss curves from a known law (constant-LR style: the law holds along each curve).

    ``modify(run, N, D_total, t, eval, train)`` may return changed (eval, train) arrays for a run.
    """
    rng = np.random.default_rng(seed)
    params = params or {}
    rows = []
    for N in sizes:
        for Dt in datas:
            t = np.geomspace(0.05, 1.0, checkpoints)
            D = t * Dt
            ev = law(N, D, **params)
            tr = ev - train_gap
            run = f"N{N:.3g}-D{Dt:.3g}"
            if modify is not None:
                ev, tr = modify(run, N, Dt, t, ev, tr)
            z = rng.standard_normal((2, t.size))
            for i in range(t.size):
                rows.append({"run": run, "params": N, "tokens": D[i], "step": i + 1,
                             "eval_loss": ev[i] * np.exp(noise * z[0, i]), "train_loss": tr[i] * np.exp(noise * z[1, i])})
    return pd.DataFrame(rows)


def finals_frame(*, sizes=(1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8), datas=(2e9, 4e9, 8e9, 1.6e10, 3.2e10), noise=0.002, seed=0,
                 params=None, metric="loss", value=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.asarray(sizes, float), np.asarray(datas, float), indexing="ij")
    N, D = N.ravel(), D.ravel()
    v = law(N, D, **(params or {})) if value is None else value(N, D)
    v = v * np.exp(noise * rng.standard_normal(N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, metric: v})


def synthetic_frame(E=LAW["E"], A=LAW["A"], B=LAW["B"], alpha=LAW["alpha"], beta=LAW["beta"], noise=0.0, sizes=6, datas=6, seed=0,
                    n_lo=1e7, n_hi=1e9, d_lo=1e9, d_hi=1e11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N, D = np.meshgrid(np.geomspace(n_lo, n_hi, sizes), np.geomspace(d_lo, d_hi, datas), indexing="ij")
    N, D = N.ravel(), D.ravel()
    L = (E + A / N**alpha + B / D**beta) * np.exp(noise * rng.standard_normal(N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": L})


def jsonl_runs(root):
    """A folder of JSON Lines runs (step, tokens and two metrics per line) and, in another folder, a config whose
    relative `source: {runs: runs.csv}` gives each run's N, with the columns swapped so that only the config's
    `columns` mapping reads them right."""
    rng = np.random.default_rng(0)
    logs, cfg_dir = root / "logs", root / "cfg"
    logs.mkdir()
    cfg_dir.mkdir()
    rows = ["run,size,data"]
    for i, (N, D) in enumerate((N, D) for N in np.geomspace(1e7, 1e9, 5) for D in np.geomspace(1e9, 3e10, 4)):
        rows.append(f"r{i},{D:.6g},{N:.6g}")  # 'size' holds D and 'data' holds N
        lines = []
        for t in (0.5, 1.0):
            loss = (1.7 + 400 / N**0.34 + 410 / (t * D) ** 0.28) * np.exp(0.003 * rng.standard_normal())
            lines.append(json.dumps({"step": int(2 * t), "tokens": t * D, "eval_loss": loss, "quality": 1 - 0.1 * loss}))
        (logs / f"r{i}.jsonl").write_text("\n".join(lines) + "\n")
    (cfg_dir / "runs.csv").write_text("\n".join(rows) + "\n")
    cfg = cfg_dir / "batch.yaml"
    cfg.write_text("name: swapped\ncolumns: {params: data}\nsource: {runs: runs.csv}\nignore: [size]\n")
    return logs, cfg
