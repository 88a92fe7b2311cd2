"""Loading and validating experiment batches.

Everything is checked once, here, so the analyses downstream can trust the table: a
:class:`Batch` holds a normalised frame with columns ``N``, ``D``, ``C``, ``run``, ``step``
(and ``group``/``version`` when given) plus one column per metric, named by the metric.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsInt

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import BatchValidationError, ConfigError
from .batch import Batch, Exclusion
from .columns import ALIASES, flop_unit, resolve_columns, split_unit
from .config import BatchConfig, find_config_file, read_config
from .long import pivot_long
from .metric import MetricSpec, infer_direction
from .read import RowNumbers, read_table
from .shapes import SHAPE_PARAMS, params_from_shape
from .slug import slugify
from .sources import detect_source, read_source
from .sweep import find_undeclared_hparams, hparam_columns, reduce_sweep

__all__ = ["load_batch"]

LineOf = Callable[[SupportsInt], int]  # 0-based row position (int or numpy integer) -> row number a user sees
FloatArray = npt.NDArray[np.float64]


def load_batch(source: str | Path | pd.DataFrame, /, **config: Any) -> Batch:
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
    default_name = "batch"
    logged: pd.DataFrame | None = None
    source_notes: tuple[str, ...] = ()
    tracker = detect_source(source) is not None if not isinstance(source, pd.DataFrame) else False
    if "experiment" in config:  # load_batch(store, experiment="E") reads as the config's source.experiment
        config = {**config, "source": {**(config.get("source") or {}), "experiment": config["experiment"]}}
        del config["experiment"]
    if isinstance(source, pd.DataFrame):
        raw, src, cfg = source.copy(), "<DataFrame>", BatchConfig()
        cfg = cfg.merged(config) if config else cfg
        offset: RowNumbers = 0  # a DataFrame's rows are numbered by position
    elif tracker:  # an experiment tracker's store or export
        cfg = BatchConfig().merged(config) if config else BatchConfig()
        raw, src, cfg, logged, source_notes = _from_tracker(source, cfg)
        offset, default_name = 1, cfg.name or "batch"  # rows of the tracker's table, counted from 1 as in a file
    else:
        path = Path(source)
        src = str(path)
        if path.is_dir():
            raise BatchValidationError(src, "is a folder, not a batch file",
                                       expected="a CSV, TSV, Parquet or JSON Lines file (`scalekit report` takes folders of them), "
                                       "or a tracker folder (TensorBoard, W&B export, JSON Lines runs)")
        if not path.is_file():
            raise BatchValidationError(src, "no such file", expected="a CSV, Parquet or JSON Lines file, or a tracker source")
        raw, offset = read_table(path)
        cfg_path = find_config_file(path)
        cfg = read_config(cfg_path) if cfg_path else BatchConfig(source=None)
        default_name = path.stem
        cfg = cfg.merged(config) if config else cfg

    if cfg.source_options and not tracker:
        # `source:` / --experiment name a tracker's parts; a table has none: said, not silently ignored
        source_notes = (f"the source options {cfg.source_options} (source:, --experiment) apply to tracker stores; "
                        f"{src} is a table and was read whole",)

    def line_of(i: SupportsInt) -> int:
        return int(i) + offset if isinstance(offset, int) else int(offset[int(i)])

    return _validate(raw, src, cfg, line_of, cfg.name or default_name, logged, source_notes)


def _from_tracker(spec: str | Path, cfg: BatchConfig) -> tuple[pd.DataFrame, str, BatchConfig, pd.DataFrame | None, tuple[str, ...]]:
    """The table a tracker source holds (MLflow, TensorBoard, W&B export, JSON Lines), its config, where each
    metric was logged, and the reader's notes (what it left out or read in a special way: the batch repeats them).

    Only the rows where a chosen metric was logged are kept, and the mask of logged points goes on to
    validation: trackers log metrics at different steps (train loss every step, eval every fifth), and a
    metric missing at a step is not a diverged run (a logged NaN still is).
    """
    if cfg.long is not None:
        raise ConfigError("applies to a file in long form (one row per metric value); a tracker source already has one "
                          "column per logged metric", source=cfg.source or str(spec), key="long")
    options = dict(cfg.source_options)
    table = read_source(spec, **options)
    declared = [m["column"] for m in cfg.metrics] if cfg.metrics else [m for m in table.metrics if infer_direction(m)]
    chosen = [m for m in declared if m in table.metrics]
    if chosen:
        table = table.select(chosen)
    defaults = table.batch_config()
    # a declared hyperparameter is a column to keep, never one to ignore (a swept lr logged as a series)
    ignore = sorted((set(defaults["ignore"]) - set(cfg.hparams)) | set(cfg.ignore))
    # every key of the config goes on (hparams, schedule, two_step, missing, ...): a key means the same for every source
    merged = cfg.merged({"name": cfg.name or defaults["name"], "ignore": ignore})
    return table.frame, table.source, merged, table.logged, tuple(table.notes)


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


# Training FLOPs per parameter per token: about 6 (2 forward-only, up to ~20 with recomputation or long
# context). A ratio far outside names a likely unit. Per sample (vision, robotics) there is no typical value,
# only the floor of one token per sample.
_PER_TOKEN = (2.0, 20.0)
_FLOP_UNITS = (("GFLOP", 1e9), ("TFLOP", 1e12), ("PFLOP", 1e15), ("EFLOP", 1e18), ("PFLOP-days", 8.64e19), ("1e21 FLOP", 1e21),
               ("ZFLOP", 1e21), ("YFLOP", 1e24))


def _check_flops_unit(flops: FloatArray, N: FloatArray, D: FloatArray, data_unit: str, src: str, col: str,
                      named: bool) -> str | None:
    """A note on how many FLOPs per parameter per token (or sample) the column gives, when that says something.

    A column the user named (mapped under ``columns:`` or asked for with ``compute: flops``) is used as
    given: the ratio is a note, never a refusal (a vision batch's FLOPs per sample are 50-500, right).
    A column only found by its name, counted per token and far from 6, is refused naming the likely unit.
    """
    ratio = float(np.median(flops / (N * D)))
    per = "token" if data_unit == "tokens" else "sample"
    lo, hi = _PER_TOKEN if per == "token" else (_PER_TOKEN[0], np.inf)
    if lo <= ratio <= hi:
        return (None if per == "token" else f"the FLOPs column {col!r} gives {ratio:.3g} FLOPs per parameter per sample, "
                f"about {ratio / 6:.3g} tokens per sample at 6 FLOPs per parameter per token.")
    likely = [name for name, f in _FLOP_UNITS if lo <= ratio * f <= hi]
    guess = (f"if it is counted in {likely[0]}, say so in its name, e.g. '{col} ({dict(_FLOP_UNITS)[likely[0]]:g})'"
             if likely else "check its unit")
    what = f"{ratio:.3g} FLOPs per parameter per {per}" + (" (6 is typical)" if per == "token" else "")
    if named:
        return f"the FLOPs column {col!r} gives {what}; it is used as given ({guess})."
    raise BatchValidationError(src, f"the FLOPs column gives {what}; {guess}", column=col,
                               expected="FLOPs between 2 and 20 N D, or the column named under `columns: {flops: ...}` "
                               "or `compute: flops` to use it as given, or `compute: 6ND` to ignore it")


def _validate(raw: pd.DataFrame, src: str, cfg: BatchConfig, line_of: LineOf, name: str, logged: pd.DataFrame | None = None,
              source_notes: tuple[str, ...] = ()) -> Batch:
    """The checked batch. ``logged`` (tracker sources) marks where each metric was logged: a NaN there is a
    diverged run, a NaN elsewhere only a step the metric was not logged at."""
    if len(raw) == 0:
        raise BatchValidationError(src, "the table has no rows", expected="one row per run or per (run, checkpoint)")
    raw = raw.rename(columns=lambda c: str(c))
    notes: list[str] = [n if n.endswith(".") else n + "." for n in source_notes]
    if cfg.long:
        raw = pivot_long(raw, cfg, src, notes)
    position = np.arange(len(raw))  # each row's position in the table as read, through the rows left out below
    cols = resolve_columns(raw, cfg, src)
    named = [(k, c) for k, c in cols.items() if c in cfg.hparams and k in ("params", "tokens", "samples", "steps", "flops", "run", "step",
                                                                          "group", "version", "unique_tokens")]
    if named:
        raise ConfigError(f"{named[0][1]!r} is the batch's {named[0][0]} column, not a hyperparameter; hyperparameters are columns that "
                          "vary within an (N, D) cell, such as lr or batch_size", source=cfg.source or src, key="hparams")
    if cols.get("lr") in cfg.hparams or cols.get("lr") in _variable_columns(cfg):
        del cols["lr"]  # a swept or declared peak learning rate (a law's variable), not a schedule logged along each run
    available = ", ".join(map(repr, raw.columns[:20]))

    if "params" not in cols:
        shaped = params_from_shape(raw, src)
        if shaped is not None:  # a batch may give model shapes instead of N
            raw, shape_note = shaped
            cols["params"] = SHAPE_PARAMS
            notes.append(shape_note)
    if "params" not in cols:
        raise BatchValidationError(src, "missing the model-size column", column="params",
                                   expected=f"a column named one of {ALIASES['params'][:6]} (or map it under `columns:`); "
                                   f"the table has {available}")
    # Rows before any training (step 0, no data seen yet) are no point of a law: left out, with a note.
    data_col = next((cols[k] for k in ("tokens", "samples") if k in cols), None)
    if "step" in cols and data_col is not None:
        d0 = pd.to_numeric(raw[data_col], errors="coerce")
        s0 = pd.to_numeric(raw[cols["step"]], errors="coerce")
        start = ((d0 == 0) & (s0 == 0)).to_numpy()
        if start.any():
            keep = np.flatnonzero(~start)
            notes.append(f"{int(start.sum())} row(s) at step 0 with no {data_col} seen yet were left out.")
            raw = raw.iloc[keep].reset_index(drop=True)
            position = position[keep]
            outer = line_of

            def line_of(i: SupportsInt) -> int:
                return outer(int(keep[int(i)]))

    if cfg.missing == "drop":  # rows without N, D or C (a model with no published data size) are left out, listed
        key_cols = [cols[k] for k in ("params", "tokens", "samples", "steps", "batch_size", "flops") if k in cols]
        if cfg.compute == "6ND" and "flops" in cols:
            key_cols.remove(cols["flops"])
        absent = raw[key_cols].isna().any(axis=1).to_numpy()
        if absent.any():
            kept = np.flatnonzero(~absent)
            lines = [line_of(i) for i in np.flatnonzero(absent)]
            notes.append(f"{int(absent.sum())} row(s) with a missing model size, data size or compute were left out "
                         f"(missing: drop): rows {', '.join(map(str, lines[:10]))}{' ...' if len(lines) > 10 else ''}.")
            raw = raw.iloc[kept].reset_index(drop=True)
            position = position[kept]
            outer_missing = line_of

            def line_of(i: SupportsInt) -> int:
                return outer_missing(int(kept[int(i)]))

    def scaled(key: str, what: str) -> FloatArray:
        values = _numeric(raw, cols[key], src, line_of, what)
        factor = flop_unit(cols[key])[0] if key == "flops" else split_unit(cols[key])[1]
        if factor != 1.0:
            notes.append(f"column {cols[key]!r} is read in units of {factor:g}.")
        return values * factor

    N = scaled("params", "a positive parameter count")
    if cfg.compute == "6ND" and "flops" in cols and any(k in cols for k in ("tokens", "samples", "steps", "step")):
        notes.append(f"the FLOPs column {cols.pop('flops')!r} was not read: compute is counted as 6ND (config).")
    flops = scaled("flops", "positive FLOPs") if "flops" in cols else None

    # D: tokens | samples | steps x batch_size | step x batch_size | flops / 6N
    data_unit = ""
    if "tokens" in cols:
        D = scaled("tokens", "a positive token count")
        data_unit = "tokens"
    elif "samples" in cols:
        D = scaled("samples", "a positive sample count")
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
    elif _needs_no_data_size(cfg):
        # a batch in other variables (N and experts E): D is required only by laws that use it
        D = np.full(len(N), np.nan)
        data_unit = "none"
        notes.append("The batch has no data size: the law is fitted in its declared variables "
                     f"({', '.join(['N', *cfg.variables])}); analyses that need D (compute-optimal allocation, "
                     "profiles, the relative-improvement grid) are left out.")
    else:
        raise BatchValidationError(src, "missing the data-size column", column="tokens",
                                   expected="`tokens` or `samples`, or `steps` with `batch_size`, or `flops` "
                                   f"(or map one under `columns:`); the table has {available}"
                                   + ("; a batch without one declares its variables (`variables: {N: params, E: experts}`) "
                                      "and a law that does not use D" if not cfg.variables else ""))
    has_data_size = data_unit != "none"

    if cfg.compute == "flops" and flops is None:
        raise ConfigError("compute: flops was asked for but the table has no FLOPs column", source=cfg.source or src,
                          key="compute")
    if flops is not None and "derived" not in data_unit:
        note = _check_flops_unit(flops, N, D, data_unit, src, cols["flops"], "flops" in cfg.columns or cfg.compute == "flops")
        if note is not None:
            notes.append(note)
    if flops is not None and cfg.compute != "6ND":
        C, compute = flops, f"flops column {cols['flops']!r}"
    elif not has_data_size:
        C, compute = np.full(len(N), np.nan), "not counted (no data size)"
    else:
        with np.errstate(over="ignore"):
            C, compute = 6.0 * N * D, "6ND"
    _refuse_out_of_range(src, line_of, cols, data_unit, compute, N=N, **({"D": D, "C": C} if has_data_size else {}))

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
    if "lr" in cols:
        lr = pd.to_numeric(raw[cols["lr"]], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero((np.isnan(lr) & raw[cols["lr"]].notna().to_numpy()) | (lr < 0) | np.isinf(lr))
        if bad.size:
            v0 = raw[cols["lr"]].iloc[bad[0]]
            shown = repr(v0) if isinstance(v0, str) else f"{float(v0):g}"
            raise BatchValidationError(src, f"learning rate {shown} is not a non-negative number",
                                       column=cols["lr"], rows=[line_of(i) for i in bad], expected="learning rates >= 0")
        frame["lr"] = lr
    if "version" in frame:
        _qualify_runs_across_versions(frame, notes)
    _read_variables(frame, raw, cfg, src, line_of)
    if "U" in frame:  # a run's unique tokens are among the tokens it trained on (checked at each run's last row)
        last = frame["step"].to_numpy() >= frame.groupby("run")["step"].transform("max").to_numpy()
        over = np.flatnonzero(last & (frame["U"].to_numpy() > frame["D"].to_numpy() * (1 + 1e-9)))
        if over.size:
            i = int(over[0])
            raise BatchValidationError(src, f"unique tokens exceed the tokens trained on (run {frame['run'].iloc[i]!r}: "
                                       f"{frame['U'].iloc[i]:.4g} unique of {frame['D'].iloc[i]:.4g})",
                                       column=cols["unique_tokens"], rows=[line_of(int(j)) for j in over],
                                       expected="unique_tokens <= tokens (repeated data: tokens = epochs x unique tokens)")

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

    if cfg.metrics is None:
        _refuse_text_in_numbers(raw, set(cols.values()) | set(cfg.ignore) | set(cfg.hparams) | _variable_columns(cfg), src, line_of)
    metrics = _resolve_metrics(raw, cols, cfg, src, notes)
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
    div_by: dict[str, npt.NDArray[np.bool_]] = {}
    for m in metrics.values():
        v = frame[m.name].to_numpy()
        nan = np.isnan(v)
        if logged is not None and m.column in logged:  # a point never logged is a gap, not a blow-up
            nan &= logged[m.column].to_numpy(dtype=bool)[position]
        div_by[m.name] = np.isinf(v) | (nan if m.direction == "min" else False)
        div_mask |= div_by[m.name]
    if div_mask.any():
        bad_runs = frame.loc[div_mask, "run"].unique()
        for r in bad_runs:
            sub = frame[(frame["run"] == r) & div_mask]
            first = sub.iloc[0]
            at_first = frame.index.get_loc(sub.index[0])
            which = [metric for metric, bad in div_by.items() if bad[at_first]]
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
    for m in metrics.values():  # a lower-is-better metric may be zero or negative: it is fitted on linear residuals
        err = m.to_error(frame[m.name].to_numpy())
        if m.direction == "max" and len(err) and not (err > 0).any():
            what = f"values below the bound {m.bound:g}" if m.direction == "max" else "positive values (a loss, an error rate)"
            raise BatchValidationError(src, f"metric {m.name!r} has no value the laws can model: every one is "
                                       f"{'at or above its bound' if m.direction == 'max' else 'zero or negative'}",
                                       column=m.column, rows=frame["_line"].tolist(), expected=what)
    if frame.empty:
        raise BatchValidationError(src, "every run was excluded as diverged", expected="at least some finite metric values")
    declared_vary = [c for c in frame.columns if (c in cfg.variables or ("r" in cfg.variables and c[:1] == "r" and c[1:].isdigit()))
                     and frame[c].nunique() > 1]
    if frame["N"].nunique() < 2 and not (has_data_size and frame["D"].nunique() >= 3) and not declared_vary:
        raise BatchValidationError(src, f"too few distinct model sizes to fit anything ({frame['N'].nunique()})",
                                   column=cols["params"], expected="at least 2 distinct sizes (3 or more for a two-variable "
                                   "law), or a single curve: one size with 3 or more data sizes")
    for m in metrics.values():
        if frame[m.name].isna().all():
            raise BatchValidationError(src, f"metric {m.name!r} has no values", column=m.column, expected="numbers")
    frame = frame.reset_index(drop=True)
    sweep = None
    undeclared: tuple[dict[str, Any], ...] = ()
    if cfg.hparams:
        frame = hparam_columns(frame, raw, cfg, src, metrics, line_of)
        sweep = frame
        frame, note = reduce_sweep(frame, next(iter(metrics.values())), cfg.hparams)
        notes.append(note)
    else:
        undeclared = find_undeclared_hparams(frame, raw, set(cols.values()) | {m.column for m in metrics.values()},
                                              frame["_line"].to_numpy() - line_of(0))
    return Batch(name=name, slug=slugify(name), source=src, frame=frame, metrics=metrics, excluded=tuple(excluded),
                 compute=compute, data_unit=data_unit, columns=cols, config=cfg, has_checkpoints=has_ckpt, notes=tuple(notes),
                 hparams=cfg.hparams, sweep=sweep, schedule=cfg.schedule, lr_column=cols.get("lr"),
                 undeclared_hparams=undeclared, has_data_size=has_data_size)


def _resolve_metrics(raw: pd.DataFrame, cols: dict[str, str], cfg: BatchConfig, src: str,
                     notes: list[str]) -> dict[str, MetricSpec]:
    """The metrics: those declared, else every numeric column whose name says which way is better.

    Numeric columns that are neither N, D, C, step, run nor a metric name (plot coordinates, a
    width, a learning rate) are left out with a note, not an error: naming them under ``metrics:``
    makes them metrics.
    """
    used = set(cols.values()) | set(cfg.ignore) | set(cfg.hparams) | _variable_columns(cfg)
    declared = cfg.metrics
    out: dict[str, MetricSpec] = {}
    if declared is None:
        candidates = [c for c in raw.columns if c not in used and pd.api.types.is_numeric_dtype(raw[c])]
        unknown = [c for c in candidates if infer_direction(c) is None]
        if unknown and len(unknown) < len(candidates):
            notes.append("column(s) " + ", ".join(map(repr, unknown[:8])) + (" ..." if len(unknown) > 8 else "")
                         + " do not say which way is better and were left out; declare them under `metrics:` "
                         "(with `direction: min|max`) to analyse them.")
        elif unknown:
            raise BatchValidationError(src, "no metric column says which way is better: numeric column(s) "
                                       + ", ".join(map(repr, unknown[:8])), column=unknown[0],
                                       expected="a metric named like a loss, error, ppl, accuracy or mAP, or pass "
                                       f"`--metric {unknown[0]}` with `--set 'metrics=[{{name: {unknown[0]}, direction: max}}]'` "
                                       "(or `metrics:` in the config)")
        if not candidates:
            raise BatchValidationError(src, "no metric columns",
                                       expected="at least one numeric column besides N, D, C, run and step")
        declared = tuple({"name": c, "column": c, "direction": None, "bound": None} for c in candidates if c not in unknown)
    for m in declared:
        if m["column"] not in raw.columns:
            choices = [str(c) for c in raw.columns if c not in used]
            close = difflib.get_close_matches(m["column"], choices, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? (pass `--metric {close[0]}`)" if close else f"one of {choices[:20]}"
            raise BatchValidationError(src, f"unknown metric {m['name']!r}: no such column", column=m["column"], expected=hint)
        d = m["direction"] or infer_direction(m["name"]) or infer_direction(m["column"])
        if d is None:
            raise BatchValidationError(src, f"metric {m['name']!r} needs a direction", column=m["column"],
                                       expected=f"`direction: min` or `direction: max` for it in the config, e.g. "
                                       f"`--set 'metrics=[{{name: {m['name']}, direction: max}}]'`")
        bound = m["bound"]
        if d == "max" and bound is None:
            bound = 1.0
        out[m["name"]] = MetricSpec(m["name"], m["column"], d, bound)
    return out


def _refuse_out_of_range(src: str, line_of: LineOf, cols: dict[str, str], data_unit: str, compute: str,
                         **values: FloatArray) -> None:
    """N, D and C are counts: at least 1, and finite.

    1e308 parameters pass as a number, then 6ND is inf and every fit breaks; D = 1e-300 tokens passes
    as positive, then every distance beyond the trained range is infinite. A count below 1 is a unit
    left out of the column's name (billions written as 0.5), or a broken value.
    """
    unit = data_unit.split(" (")[0]
    for key, v in values.items():
        col = {"N": cols["params"], "C": cols.get("flops", cols["params"]) if compute != "6ND" else cols["params"]}.get(key) or next(
            (cols[k] for k in ("tokens", "samples", "steps", "step", "flops") if k in cols), cols["params"])
        what = {"N": "model size N", "D": "data size D", "C": "compute C = 6 N D" if compute == "6ND" else "compute C"}[key]
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise BatchValidationError(src, f"{what} overflows to infinity", column=col, rows=[line_of(i) for i in bad],
                                       expected="values whose product 6 N D stays below 1.8e308")
        bad = np.flatnonzero(v < 1.0)
        if bad.size:
            one = {"N": "parameter", "D": unit.rstrip("s") or "token", "C": "FLOP"}[key]
            raise BatchValidationError(src, f"{what} below 1 {one} ({v[bad[0]]:.3g})", column=col,
                                       rows=[line_of(i) for i in bad],
                                       expected=f"counts of at least 1 {one}; a column counted in thousands, millions or "
                                       f"billions says so in its name, e.g. '{col} (B)'")


def _qualify_runs_across_versions(frame: pd.DataFrame, notes: list[str]) -> None:
    """A run name used in two versions names two runs (v1's r0 is not v2's r0): give each its version."""
    per_run = frame.groupby("run", sort=False)["version"].nunique()
    shared = per_run.index[per_run > 1]
    if len(shared):
        mask = frame["run"].isin(shared)
        frame.loc[mask, "run"] = frame.loc[mask, "run"] + " [" + frame.loc[mask, "version"] + "]"
        notes.append(f"{len(shared)} run name(s) appear in more than one version; each is named with its version, "
                     f"e.g. {shared[0]!r} [{frame.loc[mask, 'version'].iloc[0]}].")


def _refuse_text_in_numbers(raw: pd.DataFrame, used: set[str], src: str, line_of: LineOf) -> None:
    """A numeric column with a few text cells would silently stop being a metric: name the column and the rows."""
    for c in raw.columns:
        if c in used or pd.api.types.is_numeric_dtype(raw[c]):
            continue
        col = raw[c]
        vals = pd.to_numeric(col, errors="coerce")
        bad = vals.isna() & col.notna()
        if vals.notna().sum() >= max(1, bad.sum()) and bad.any():  # mostly numbers: a metric with a bad cell
            rows = np.flatnonzero(bad.to_numpy())
            raise BatchValidationError(src, f"non-numeric value {col.iloc[rows[0]]!r} in the numeric column {c!r}",
                                       column=c, rows=[line_of(r) for r in rows], expected="numbers (or list the column "
                                       "under `ignore:` in the config if it is not a metric)")


def _needs_no_data_size(cfg: BatchConfig) -> bool:
    """Whether a batch may go without a data size: it declares its variables, and no formula law it declares uses D."""
    if not cfg.variables:
        return False
    from ..expr import names, parse

    return not any("D" in names(parse(d["formula"])) or "C" in names(parse(d["formula"])) for d in cfg.laws)


def _variable_columns(cfg: BatchConfig) -> set[str]:
    return {c for cols in cfg.variables.values() for c in cols}


def _read_variables(frame: pd.DataFrame, raw: pd.DataFrame, cfg: BatchConfig, src: str, line_of: Callable[[int], int]) -> None:
    """The declared variables beyond N, D and U (``variables:``), checked against their physical range and added to
    ``frame`` under their role (mixture proportions as r1, r2, ... in the order declared, summing to 1 per row)."""
    from .config import VARIABLE_BOUNDS

    for role, columns in cfg.variables.items():
        lo, closed, hi, what = VARIABLE_BOUNDS[role]
        block = []
        for c in columns:
            if c not in raw.columns:
                raise BatchValidationError(src, f"variable {role}: no column {c!r}", column=c,
                                           expected=f"a column holding {what}; the table has {', '.join(map(repr, raw.columns[:12]))}")
            v = pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(v) | ((v < lo) if closed else (v <= lo))
            if hi is not None:  # a sparsity of 1 leaves no parameter; a proportion of 1 is a whole mixture
                bad |= (v >= hi) if role == "S" else (v > hi)
            if bad.any():
                i = np.flatnonzero(bad)
                raise BatchValidationError(src, f"variable {role} ({c!r}) holds {raw[c].iloc[int(i[0])]!r}", column=c,
                                           rows=[line_of(int(j)) for j in i], expected=what)
            block.append(v)
        if role == "r":
            total = np.sum(block, axis=0)
            off = np.flatnonzero(np.abs(total - 1.0) > 1e-3)
            if off.size:
                raise BatchValidationError(src, f"mixture proportions {', '.join(columns)} sum to {total[off[0]]:.4g}, not 1",
                                           column=columns[0], rows=[line_of(int(j)) for j in off],
                                           expected="proportions that sum to 1 in every row")
            for k, v in enumerate(block, 1):
                frame[f"r{k}"] = v
        else:
            frame[role] = block[0]
