"""Which table columns are N, D, C, run, step, group and version: aliases and the mapping."""

from __future__ import annotations

import re

import pandas as pd

from ..exceptions import BatchValidationError, ConfigError
from .config import BatchConfig

__all__ = ["ALIASES", "normalise", "resolve_columns"]

# canonical name -> recognised spellings (compared after lower-casing and mapping ' ' and '-' to '_')
ALIASES: dict[str, tuple[str, ...]] = {
    "params": ("params", "n", "n_params", "num_params", "nparams", "model_size", "parameters",
               "param_count", "params_active_precise", "num_parameters", "model_params"),
    "tokens": ("tokens", "d", "n_tokens", "num_tokens", "training_tokens", "train_tokens",
               "total_tokens", "throughput/total_tokens"),
    "samples": ("samples", "n_samples", "num_samples", "training_samples", "train_samples", "examples"),
    "steps": ("steps", "num_steps", "total_steps", "train_steps"),
    "batch_size": ("batch_size", "global_batch_size", "global_bs", "bs"),
    "flops": ("flops", "c", "compute", "training_flop", "training_flops", "train_flops", "total_flops", "flops_6nd"),
    "run": ("run", "run_name", "run_id", "name"),
    "step": ("step", "_step", "global_step", "checkpoint_step", "iteration"),
    "group": ("group",),
    "unique_tokens": ("unique_tokens", "unique_data", "u_d"),
    "version": ("version", "model_version"),
}
_KEYS = tuple(ALIASES)


def normalise(col: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(col).strip().lower())


def resolve_columns(raw: pd.DataFrame, cfg: BatchConfig, src: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, col in cfg.columns.items():
        if key not in ALIASES:
            raise ConfigError(f"{key!r} is not a canonical column; expected one of {list(ALIASES)}",
                              source=cfg.source or src, key="columns")
        if col not in raw.columns:
            raise BatchValidationError(src, f"the config maps {key!r} to a column that is not in the table", column=col,
                                       expected=f"one of {list(map(str, raw.columns))}")
        found[key] = col
    by_norm: dict[str, str] = {}
    for c in raw.columns:
        by_norm.setdefault(normalise(c), c)
    taken = set(found.values())
    for key, names in ALIASES.items():
        if key in found:
            continue
        for alias in names:
            c = by_norm.get(alias)
            if c is not None and c not in taken:
                found[key] = c
                taken.add(c)
                break
    return found


