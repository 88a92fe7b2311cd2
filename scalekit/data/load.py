"""Loading and validating experiment batches.

Everything is checked once, here, so the analyses downstream can trust the table: a
:class:`Batch` holds a normalised frame with columns ``N``, ``D``, ``C``, ``run``, ``step``
(and ``group``/``version`` when given) plus one column per metric, named by the metric.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsInt

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import BatchValidationError, ConfigError
from .batch import Batch, Exclusion
from .columns import ALIASES, resolve_columns
from .config import BatchConfig, find_config_file, read_config
from .metric import MetricSpec, infer_direction
from .read import read_table
from .slug import slugify

__all__ = ["load_batch"]

LineOf = Callable[[SupportsInt], int]  # 0-based row position (int or numpy integer) -> row number a user sees
FloatArray = npt.NDArray[np.float64]


def load_batch(source: str | Path | pd.DataFrame, **config: Any) -> Batch:
    """Read and validate an experiment batch.

    Parameters
    ----------
    source : path or DataFrame
        CSV, Parquet or JSON Lines file (a YAML config with the same stem is read if present),
        or a pandas DataFrame.
    **config
        Config keys (``name``, ``metrics``, ``columns``, ``ignore``, ``compute``, ``baseline``,
        ``target``, ``budgets``, ``max_params``, ``options``); they override the YAML file.

    Returns
    -------
    Batch

    Raises
    ------
    BatchValidationError
        With the file, rows, column and what was expected.

    Examples
    --------
    >>> import pandas as pd, scalekit
    >>> df = pd.DataFrame({"params": [1e6, 1e7, 1e8], "tokens": [1e8] * 3, "loss": [3.0, 2.6, 2.3]})
    >>> scalekit.load_batch(df, name="tiny").runs
    3
    """
    if isinstance(source, pd.DataFrame):
        raw, src, cfg = source.copy(), "<DataFrame>", BatchConfig()
        offset = 0  # a DataFrame's rows are numbered by position
    else:
        path = Path(source)
        src = str(path)
        if not path.is_file():
            raise BatchValidationError(src, "no such file", expected="a CSV, Parquet or JSON Lines file")
        raw, offset = read_table(path)
        cfg_path = find_config_file(path)
        cfg = read_config(cfg_path) if cfg_path else BatchConfig(source=None)
    cfg = cfg.merged(config) if config else cfg

    def line_of(i: SupportsInt) -> int:
        return int(i) + offset

    default_name = Path(src).stem if src != "<DataFrame>" else "batch"
    return _validate(raw, src, cfg, line_of, cfg.name or default_name)


def _numeric(raw: pd.DataFrame, col: str, src: str, line_of: LineOf, what: str, *, positive: bool = True) -> FloatArray:
    vals = pd.to_numeric(raw[col], errors="coerce")
    bad = vals.isna() & raw[col].notna()
    if bad.any():
        rows = [line_of(i) for i in np.flatnonzero(bad.to_numpy())]
        sample = raw[col][bad].iloc[0]
        raise BatchValidationError(src, f"non-numeric value {sample!r}", column=col, rows=rows, expected=what)
    arr: FloatArray = vals.to_numpy(dtype=float)  # float: 6ND overflows int64 at LLM scale
    missing = np.flatnonzero(np.isnan(arr))
    if missing.size:
        raise BatchValidationError(src, "missing value", column=col, rows=[line_of(i) for i in missing], expected=what)
    if positive:
        badpos = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if badpos.size:
            raise BatchValidationError(src, f"non-positive or infinite value {arr[badpos[0]]!r}", column=col,
                                       rows=[line_of(i) for i in badpos], expected=what)
    return arr


def _validate(raw: pd.DataFrame, src: str, cfg: BatchConfig, line_of: LineOf, name: str) -> Batch:
    if len(raw) == 0:
        raise BatchValidationError(src, "the table has no rows", expected="one row per run or per (run, checkpoint)")
    raw = raw.rename(columns=lambda c: str(c))
    cols = resolve_columns(raw, cfg, src)
    notes: list[str] = []
    available = ", ".join(map(repr, raw.columns[:20]))

    if "params" not in cols:
        raise BatchValidationError(src, "missing the model-size column", column="params",
                                   expected=f"a column named one of {ALIASES['params'][:6]} (or map it under `columns:`); "
                                   f"the table has {available}")
    N = _numeric(raw, cols["params"], src, line_of, "a positive parameter count")
    flops = _numeric(raw, cols["flops"], src, line_of, "positive FLOPs") if "flops" in cols else None

    # D: tokens | samples | steps x batch_size | step x batch_size | flops / 6N
    data_unit = ""
    if "tokens" in cols:
        D = _numeric(raw, cols["tokens"], src, line_of, "a positive token count")
        data_unit = "tokens"
    elif "samples" in cols:
        D = _numeric(raw, cols["samples"], src, line_of, "a positive sample count")
        data_unit = "samples"
    elif ("steps" in cols or "step" in cols) and "batch_size" in cols:
        scol = cols["steps"] if "steps" in cols else cols["step"]
        steps = _numeric(raw, scol, src, line_of, "a positive step count")
        bs = _numeric(raw, cols["batch_size"], src, line_of, "a positive batch size")
        D = steps * bs
        data_unit = f"samples ({scol} x {cols['batch_size']})"
    elif flops is not None:
        D = flops / (6.0 * N)
        data_unit = "tokens (derived as C / 6N)"
        notes.append(f"D was derived from the FLOPs column {cols['flops']!r} as C / (6 N).")
    else:
        raise BatchValidationError(src, "missing the data-size column", column="tokens",
                                   expected="`tokens` or `samples`, or `steps` with `batch_size`, or `flops` "
                                   f"(or map one under `columns:`); the table has {available}")

    if cfg.compute == "flops" and flops is None:
        raise ConfigError("compute: flops was asked for but the table has no FLOPs column", source=cfg.source or src,
                          key="compute")
    if flops is not None and cfg.compute != "6ND":
        C, compute = flops, f"flops column {cols['flops']!r}"
    else:
        C, compute = 6.0 * N * D, "6ND"

    # runs and checkpoints
    has_ckpt = "step" in cols
    step = (_numeric(raw, cols["step"], src, line_of, "a non-negative step", positive=False) if has_ckpt
            else np.zeros(len(raw)))
    if has_ckpt and (step < 0).any():
        bad = np.flatnonzero(step < 0)
        raise BatchValidationError(src, "negative step", column=cols["step"], rows=[line_of(i) for i in bad],
                                   expected="steps >= 0")
    frame = pd.DataFrame({"N": N, "D": D, "C": C, "step": step})
    if "unique_tokens" in cols:  # the data-constrained law reads it (repeated epochs)
        frame["U"] = _numeric(raw, cols["unique_tokens"], src, line_of, "a positive count of unique tokens")
    for key in ("group", "version"):
        if key in cols:
            frame[key] = raw[cols[key]].astype(str).to_numpy()
    if "run" in cols:
        frame["run"] = raw[cols["run"]].astype(str).to_numpy()
    elif has_ckpt:
        # Without a run column, a run is one model size (within group/version) trained once.
        keys = [frame["N"].map("{:.6g}".format)] + [frame[k] for k in ("group", "version") if k in frame]
        frame["run"] = pd.Series(["N=" + "/".join(t) for t in zip(*[k.astype(str) for k in keys])], index=frame.index)
        notes.append("No run column: runs were identified by model size (and group/version).")
    else:
        frame["run"] = [f"row {line_of(i)}" for i in range(len(raw))]
    frame["_line"] = [line_of(i) for i in range(len(raw))]

    dup = frame.duplicated(["run", "step"], keep=False)
    if has_ckpt and dup.any():
        rows = frame.loc[dup, "_line"].tolist()
        r0 = frame.loc[dup, "run"].iloc[0]
        raise BatchValidationError(src, f"duplicate (run, step) rows, e.g. run {r0!r}", column=cols.get("run", cols["step"]),
                                   rows=rows, expected="one row per (run, step); add or fix a `run` column")
    if not has_ckpt and "run" in cols and dup.any():
        rows = frame.loc[dup, "_line"].tolist()
        raise BatchValidationError(src, "duplicate run names in a table without a step column", column=cols["run"], rows=rows,
                                   expected="one row per run, or a `step` column for checkpoints")

    metrics = _resolve_metrics(raw, cols, cfg, src)
    for m in metrics.values():
        vals = pd.to_numeric(raw[m.column], errors="coerce")
        bad = vals.isna() & raw[m.column].notna()
        if bad.any():
            raise BatchValidationError(src, f"non-numeric value {raw[m.column][bad].iloc[0]!r} in metric {m.name!r}",
                                       column=m.column, rows=[line_of(i) for i in np.flatnonzero(bad.to_numpy())],
                                       expected="numbers")
        frame[m.name] = vals.to_numpy(dtype=float)

    # diverged runs: inf anywhere, or NaN in a lower-is-better metric (a loss that blew up)
    excluded: list[Exclusion] = []
    div_mask = np.zeros(len(frame), dtype=bool)
    for m in metrics.values():
        v = frame[m.name].to_numpy()
        bad = np.isinf(v) | (np.isnan(v) if m.direction == "min" else False)
        div_mask |= bad
    if div_mask.any():
        bad_runs = frame.loc[div_mask, "run"].unique()
        for r in bad_runs:
            sub = frame[(frame["run"] == r) & div_mask]
            first = sub.iloc[0]
            which = [m.name for m in metrics.values() if not np.isfinite(first[m.name])]
            at = f" at step {first['step']:.0f}" if has_ckpt else ""
            rows_r = tuple(int(x) for x in frame.loc[frame["run"] == r, "_line"])
            reason = f"diverged: {', '.join(which)} is {first[which[0]]}{at} (row {int(first['_line'])})"
            excluded.append(Exclusion(str(r), reason, rows_r))
        frame = frame[~frame["run"].isin(bad_runs)]

    # bounds of higher-is-better metrics
    for m in metrics.values():
        if m.bound is None:
            continue
        v = frame[m.name].to_numpy()
        if m.direction == "max":
            bad = np.flatnonzero(v > m.bound)
            what = f"values at most the bound {m.bound:g} (declare `bound:` for this metric, e.g. 100 for percentages)"
        else:
            bad = np.flatnonzero(v < m.bound)
            what = f"values at least the bound {m.bound:g}"
        if bad.size:
            raise BatchValidationError(src, f"metric {m.name!r} is outside its bound ({v[bad[0]]:g})", column=m.column,
                                       rows=frame["_line"].to_numpy()[bad].tolist(), expected=what)
        if m.direction == "max" and (v == m.bound).any():
            raise BatchValidationError(src, f"metric {m.name!r} reaches its bound exactly, leaving no error to fit",
                                       column=m.column, rows=frame["_line"].to_numpy()[np.flatnonzero(v == m.bound)].tolist(),
                                       expected=f"values strictly below {m.bound:g}, or a larger bound")
    if frame.empty:
        raise BatchValidationError(src, "every run was excluded as diverged", expected="at least some finite metric values")
    if frame["N"].nunique() < 2:
        raise BatchValidationError(src, f"too few distinct model sizes to fit anything ({frame['N'].nunique()})",
                                   column=cols["params"], expected="at least 2 distinct sizes (3 or more for a two-variable law)")
    for m in metrics.values():
        if frame[m.name].isna().all():
            raise BatchValidationError(src, f"metric {m.name!r} has no values", column=m.column, expected="numbers")
    frame = frame.reset_index(drop=True)
    return Batch(name=name, slug=slugify(name), source=src, frame=frame, metrics=metrics, excluded=tuple(excluded),
                 compute=compute, data_unit=data_unit, columns=cols, config=cfg, has_checkpoints=has_ckpt, notes=tuple(notes))


def _resolve_metrics(raw: pd.DataFrame, cols: dict[str, str], cfg: BatchConfig, src: str) -> dict[str, MetricSpec]:
    used = set(cols.values()) | set(cfg.ignore)
    declared = cfg.metrics
    out: dict[str, MetricSpec] = {}
    if declared is None:
        candidates = [c for c in raw.columns if c not in used and pd.api.types.is_numeric_dtype(raw[c])]
        if not candidates:
            raise BatchValidationError(src, "no metric columns",
                                       expected="at least one numeric column besides N, D, C, run and step")
        unknown = [c for c in candidates if infer_direction(c) is None]
        if unknown:
            raise BatchValidationError(src, "cannot tell which way is better for numeric column(s) "
                                       + ", ".join(map(repr, unknown)), column=unknown[0],
                                       expected="metric names that say their direction (loss, error, ade, map, acc, ...), or "
                                       "`metrics:` in the config with `direction: min|max`, "
                                       "or `ignore:` for columns that are not metrics")
        declared = tuple({"name": c, "column": c, "direction": None, "bound": None} for c in candidates)
    for m in declared:
        if m["column"] not in raw.columns:
            raise BatchValidationError(src, f"unknown metric {m['name']!r}: no such column", column=m["column"],
                                       expected=f"one of {[c for c in raw.columns if c not in used]}")
        d = m["direction"] or infer_direction(m["name"]) or infer_direction(m["column"])
        if d is None:
            raise BatchValidationError(src, f"metric {m['name']!r} needs a direction", column=m["column"],
                                       expected="`direction: min` or `direction: max` for it in the config")
        bound = m["bound"]
        if d == "max" and bound is None:
            bound = 1.0
        out[m["name"]] = MetricSpec(m["name"], m["column"], d, bound)
    return out
