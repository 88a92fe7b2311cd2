"""Hyperparameter sweeps at the door: declared columns read and checked, the sweep reduced to the best
run per cell, and undeclared hyperparameter-like columns found.

A cell is one model size N and one final data size D (equivalently, for a fixed N, one compute
budget: the IsoFLOP grouping), within a group or version. The best run of a cell is the one with
the best final value of the batch's primary metric.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, SupportsInt

import numpy as np
import pandas as pd

from ..exceptions import BatchValidationError, ConfigError
from .config import BatchConfig
from .metric import MetricSpec

__all__ = ["HPARAM_PATTERN", "cell_keys", "find_undeclared_hparams", "hparam_columns", "reduce_sweep", "run_finals"]

# Column names that read as a hyperparameter (compared after lower-casing and mapping ' ' and '-' to '_').
HPARAM_PATTERN = re.compile(r"(^|[_/.])(lr|learning_rate\w*|peak_lr|max_lr|batch_size\w*|bs|wd|weight_decay|warmup\w*|"
                            r"dropout|momentum|beta1|beta2|adam_beta\d|grad_clip\w*|clip_grad\w*)($|[_/.])")
_RESERVED = {"N", "D", "C", "run", "step", "lr", "group", "version", "_line"}


def run_finals(frame: pd.DataFrame) -> pd.DataFrame:
    """The last row of every run."""
    return frame.loc[frame.groupby("run", sort=False)["step"].idxmax()]


def cell_keys(finals: pd.DataFrame) -> pd.Series:
    """A label per final row naming its cell: N, D to 3 significant digits (final D varies a little), group/version."""
    parts = [finals["N"].map("{:.6g}".format), finals["D"].map("{:.3g}".format)]
    parts += [finals[k].astype(str) for k in ("group", "version") if k in finals]
    return pd.Series(["|".join(t) for t in zip(*parts)], index=finals.index)


def hparam_columns(frame: pd.DataFrame, raw: pd.DataFrame, cfg: BatchConfig, src: str, metrics: dict[str, MetricSpec],
                   line_of: Callable[[SupportsInt], int]) -> pd.DataFrame:
    """``frame`` with each declared hyperparameter column, checked to exist and to be constant along each run."""
    out = frame.copy()
    for col in cfg.hparams:
        if col not in raw.columns:
            raise BatchValidationError(src, f"the config declares the hyperparameter {col!r}, which is not in the table",
                                       column=col, expected=f"one of {list(map(str, raw.columns))[:20]}")
        if col in _RESERVED - {"lr"} or col in metrics:
            raise ConfigError(f"{col!r} cannot be a hyperparameter: it is a key column or a metric", source=cfg.source or src,
                              key="hparams")
        vals = raw[col]
        num = pd.to_numeric(vals, errors="coerce")
        values = num if num.notna().sum() == vals.notna().sum() else vals.astype(str)
        if values.isna().any():
            rows = [line_of(i) for i in np.flatnonzero(values.isna().to_numpy())]
            raise BatchValidationError(src, f"missing value of the hyperparameter {col!r}", column=col, rows=rows,
                                       expected="a value on every row")
        out[col] = values.to_numpy()
        varies = out.groupby("run", sort=False)[col].nunique()
        if (varies > 1).any():
            r = str(varies[varies > 1].index[0])
            rows = out.loc[out["run"] == r, "_line"].tolist()
            raise BatchValidationError(src, f"the hyperparameter {col!r} changes along run {r!r}", column=col, rows=rows,
                                       expected="one value per run (a learning rate logged at each step is a schedule: "
                                       "leave it out of `hparams:`)")
    return out


def reduce_sweep(frame: pd.DataFrame, spec: MetricSpec, hparams: Iterable[str]) -> tuple[pd.DataFrame, str]:
    """The rows of the best run per cell by ``spec``'s final value, and a note saying so."""
    fin = run_finals(frame)
    fin = fin[np.isfinite(fin[spec.name])]
    err = spec.to_error(fin[spec.name].to_numpy(dtype=float))
    fin = fin.assign(_cell=cell_keys(fin).to_numpy(), _err=err)
    best = fin.loc[fin.groupby("_cell", sort=False)["_err"].idxmin(), "run"]
    kept = frame[frame["run"].isin(set(best))].reset_index(drop=True)
    n_cells = int(fin["_cell"].nunique())
    note = (f"Hyperparameter sweep over {', '.join(hparams)}: {fin['run'].nunique()} runs in {n_cells} (N, D) cells; the laws "
            f"use the best run per cell by the final {spec.name}.")
    return kept, note


def find_undeclared_hparams(frame: pd.DataFrame, raw: pd.DataFrame, used: set[str],
                            positions: np.ndarray[Any, Any]) -> tuple[dict[str, Any], ...]:
    """Columns named like a hyperparameter whose per-run value differs between runs of one cell.

    ``positions`` gives, per frame row, its row position in ``raw``.
    """
    cands = [c for c in raw.columns if HPARAM_PATTERN.search(re.sub(r"[\s\-]+", "_", str(c).strip().lower()))
             and (c not in used or re.sub(r"[\s\-]+", "_", str(c).strip().lower()) in {"lr", "learning_rate"})]
    if not cands or frame["run"].nunique() < 2:
        return ()
    fin = run_finals(frame)
    cells = cell_keys(fin)
    multi = cells[cells.duplicated(keep=False)]
    if multi.empty:
        return ()
    out: list[dict[str, Any]] = []
    for c in cands:
        per_row = pd.Series(raw[c].to_numpy()[positions], index=frame.index)
        # the peak of a logged schedule is the run's swept value
        num = pd.to_numeric(per_row, errors="coerce")
        per_run = (num.groupby(frame["run"]).max() if num.notna().any() else per_row.astype(str).groupby(frame["run"]).first())
        examples: list[dict[str, Any]] = []
        for _key, idx in multi.groupby(multi).groups.items():
            runs = fin.loc[idx, "run"].astype(str).tolist()
            vals = per_run.reindex(runs)
            if vals.nunique(dropna=True) > 1:
                examples.append({"N": float(fin.loc[idx[0], "N"]), "D": float(fin.loc[idx[0], "D"]), "runs": runs,
                                 "values": [None if pd.isna(v) else float(v) if isinstance(v, (int, float, np.number)) else str(v)
                                            for v in vals]})
        if examples:
            out.append({"column": str(c), "cells": len(examples), "examples": examples[:5]})
    return tuple(out)
