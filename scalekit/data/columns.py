"""Which table columns are N, D, C, run, step, group and version: aliases and the mapping."""

from __future__ import annotations

import re

import pandas as pd

from ..exceptions import BatchValidationError, ConfigError
from .config import BatchConfig

__all__ = ["ALIASES", "UNITS", "flop_unit", "normalise", "resolve_columns", "split_unit"]

# canonical name -> recognised spellings (compared after lower-casing and mapping ' ' and '-' to '_')
ALIASES: dict[str, tuple[str, ...]] = {
    "params": ("params", "n", "n_params", "num_params", "nparams", "model_size", "parameters",
               "param_count", "parameter_count", "params_active_precise", "num_parameters", "model_params"),
    "tokens": ("tokens", "d", "t", "n_tokens", "num_tokens", "training_tokens", "train_tokens",
               "total_tokens", "throughput/total_tokens", "tokens_seen", "data_size", "pretraining_data_size",
               "training_data_size", "dataset_size"),
    "samples": ("samples", "n_samples", "num_samples", "training_samples", "train_samples", "examples"),
    "steps": ("steps", "num_steps", "total_steps", "train_steps"),
    "batch_size": ("batch_size", "global_batch_size", "global_bs", "bs"),
    "flops": ("flops", "c", "compute", "training_flop", "training_flops", "train_flops", "total_flops", "flops_6nd"),
    "run": ("run", "run_name", "run_id", "name", "model", "model_name"),
    "step": ("step", "_step", "global_step", "checkpoint_step", "iteration"),
    "group": ("group",),
    "lr": ("lr", "learning_rate", "optim/learning_rate_group0", "optim/learning_rate", "optim/lr", "train/learning_rate",
           "train/lr", "lr_group0", "learning_rate_group0", "current_lr"),
    "unique_tokens": ("unique_tokens", "unique_data", "u_d"),
    "version": ("version", "model_version"),
}
_KEYS = tuple(ALIASES)


# Unit suffixes in column names: "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)".
UNITS = {"k": 1e3, "thousands": 1e3, "m": 1e6, "millions": 1e6, "b": 1e9, "bn": 1e9, "billions": 1e9, "t": 1e12,
         "trillions": 1e12}
_UNIT = re.compile(r"^(?P<base>.*?)[\s_]*\(\s*(?P<unit>[A-Za-z]+|[0-9.]+[eE][+-]?[0-9]+)\s*\)\s*$")


def normalise(col: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(col).strip().lower())


def split_unit(col: str) -> tuple[str, float]:
    """A column name without its unit suffix, and the factor the unit stands for.

    >>> split_unit("Model Size (B)"), split_unit("FLOPs (1E21)"), split_unit("loss")
    (('model_size', 1000000000.0), ('flops', 1e+21), ('loss', 1.0))
    """
    m = _UNIT.match(str(col).strip())
    if m is not None:
        unit = m.group("unit").lower()
        factor = UNITS.get(unit)
        if factor is None and any(ch.isdigit() for ch in unit):
            factor = float(unit)
        if factor is not None:
            return normalise(m.group("base")), factor
    return normalise(col), 1.0


# A FLOP unit written into a compute column's name: "throughput/total_gflops", "PFLOPs", "petaflop_days".
_FLOP_PREFIX = {"k": 1e3, "kilo": 1e3, "m": 1e6, "mega": 1e6, "g": 1e9, "giga": 1e9, "t": 1e12, "tera": 1e12, "p": 1e15,
                "peta": 1e15, "e": 1e18, "exa": 1e18, "z": 1e21, "zetta": 1e21}
_FLOP_WORD = re.compile(r"(?<![a-z])(?P<prefix>" + "|".join(sorted(_FLOP_PREFIX, key=len, reverse=True))
                        + r")_?flop(?:s)?(?P<days>_?(?:s_)?days?)?(?![a-z])")


def flop_unit(col: str) -> tuple[float, str]:
    """The factor a compute column's name says its values are counted in, and the unit as written (1 and "").

    A unit suffix in parentheses wins (``FLOPs (1E21)``); else a prefixed FLOP word in the name
    (``total_gflops``, ``PFLOP-days``). A bare ``flops`` is plain FLOPs.

    >>> flop_unit("throughput/total_gflops"), flop_unit("FLOPs (1E21)"), flop_unit("pflop_days"), flop_unit("flops")
    ((1000000000.0, 'gflops'), (1e+21, '1E21'), (8.64e+19, 'pflop_days'), (1.0, ''))
    """
    base, factor = split_unit(col)
    if factor != 1.0:
        m = _UNIT.match(str(col).strip())
        return factor, m.group("unit") if m else ""
    m = _FLOP_WORD.search(base.replace("/", "_"))
    if m is None:
        return 1.0, ""
    f = _FLOP_PREFIX[m.group("prefix")]
    return (f * 86400.0 if m.group("days") else f), m.group(0)


def resolve_columns(raw: pd.DataFrame, cfg: BatchConfig, src: str) -> dict[str, str]:
    """Canonical key (params, tokens, flops, run, step, ...) -> table column: the config's mapping, then aliases.

    A column whose name carries a unit (``Model Size (B)``) matches by its name without the unit; the
    loader applies the unit (:func:`split_unit`).
    """
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
    for c in raw.columns:
        by_norm.setdefault(split_unit(c)[0], c)
    for c in raw.columns:  # a tracker's namespaced name ("model/n_params") by its last part
        by_norm.setdefault(normalise(str(c).rsplit("/", 1)[-1]), c)
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


