"""Loading and validating experiment batches.

Everything is checked once, here, so the analyses downstream can trust the table: a
:class:`Batch` holds a normalised frame with columns ``N``, ``D``, ``C``, ``run``, ``step``
(and ``group``/``version`` when given) plus one column per metric, named by the metric.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import BatchConfig, MetricSpec, find_config_file, infer_direction, read_config
from .exceptions import BatchValidationError, ConfigError

if TYPE_CHECKING:  # pandas is imported lazily to keep `import scalekit` fast
    import pandas as pd

__all__ = ["Batch", "Exclusion", "load_batch", "slugify", "ALIASES"]

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
    "version": ("version", "model_version"),
}
_KEYS = tuple(ALIASES)


def _norm(col: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(col).strip().lower())


def slugify(name: str) -> str:
    """A safe single path component for a batch name (never '..', never empty).

    >>> slugify("../../x"), slugify("Behavior v2 (final)")
    ('x', 'behavior-v2-final')
    """
    s = re.sub(r"[^a-z0-9._-]+", "-", str(name).lower())
    s = re.sub(r"-{2,}", "-", s).strip("-.")
    s = re.sub(r"\.{2,}", ".", s)
    return s[:80] or "batch"


@dataclass(frozen=True)
class Exclusion:
    """A run (or some of its rows) left out of every analysis, and why."""

    run: str
    reason: str
    rows: tuple[int, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"run": self.run, "reason": self.reason, "rows": list(self.rows)}


@dataclass(frozen=True)
class Batch:
    """A validated experiment batch. Build it with :func:`load_batch`.

    Attributes
    ----------
    name, slug : str
        Display name and its path-safe form.
    source : str
        File path, or ``"<DataFrame>"``.
    frame : pandas.DataFrame
        Valid rows: ``N``, ``D``, ``C``, ``run``, ``step`` (0 when the table has no checkpoints),
        optional ``group``/``version``, and one column per metric.
    metrics : dict
        Metric name -> :class:`~scalekit.config.MetricSpec`.
    excluded : tuple of Exclusion
        Diverged or invalid runs, with the reason.
    compute : str
        How C was counted: ``"flops column 'X'"`` or ``"6ND"``.
    data_unit : str
        What D counts: ``tokens``, ``samples``, or ``samples (steps x batch_size)``.
    """

    name: str
    slug: str
    source: str
    frame: "pd.DataFrame"
    metrics: dict[str, MetricSpec]
    excluded: tuple[Exclusion, ...]
    compute: str
    data_unit: str
    columns: dict[str, str]
    config: BatchConfig
    has_checkpoints: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def runs(self) -> int:
        return int(self.frame["run"].nunique())

    @property
    def rows(self) -> int:
        return int(len(self.frame))

    def finals(self) -> "pd.DataFrame":
        """The last checkpoint of every run."""
        f = self.frame
        if not self.has_checkpoints:
            return f
        return f.loc[f.groupby("run", sort=False)["step"].idxmax()].sort_index()

    def metric(self, name: str | None = None) -> MetricSpec:
        """The named metric, or the primary (first) one."""
        if name is None:
            return next(iter(self.metrics.values()))
        if name in self.metrics:
            return self.metrics[name]
        by_col = [m for m in self.metrics.values() if m.column == name]
        if by_col:
            return by_col[0]
        raise ConfigError(f"unknown metric {name!r}; this batch has {list(self.metrics)}", source=self.source, key="metric")

    @property
    def versions(self) -> list[str]:
        """Values of the ``version`` column (empty when the batch has none)."""
        return sorted(self.frame["version"].unique()) if "version" in self.frame else []

    def select_version(self, version: str) -> "Batch":
        """The runs of one model version, as a batch of its own (name gets the version appended)."""
        from dataclasses import replace

        if version not in self.versions:
            raise ConfigError(f"no version {version!r}; this batch has {self.versions}", source=self.source, key="version")
        frame = self.frame[self.frame["version"] == version].reset_index(drop=True)
        name = f"{self.name} {version}"
        return replace(self, name=name, slug=slugify(name), frame=frame)

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {k: (float(self.frame[k].min()), float(self.frame[k].max())) for k in ("N", "D", "C")}

    def summary(self) -> dict[str, Any]:
        """JSON-safe description (the ``batch`` block of summary.json)."""
        return {
            "name": self.name,
            "slug": self.slug,
            "source": self.source,
            "runs": self.runs,
            "rows": self.rows,
            "checkpoints": self.has_checkpoints,
            "metrics": [m.summary() for m in self.metrics.values()],
            "compute": self.compute,
            "data_unit": self.data_unit,
            "ranges": {k: list(v) for k, v in self.ranges().items()},
            "distinct_N": int(self.frame["N"].nunique()),
            "excluded": [e.summary() for e in self.excluded],
            "notes": list(self.notes),
        }

    def _repr_html_(self) -> str:
        from ._html import batch_html

        return batch_html(self)

    def __repr__(self) -> str:
        return (f"Batch({self.name!r}: {self.runs} runs, {self.rows} rows, metrics {list(self.metrics)}, "
                f"{len(self.excluded)} excluded)")


def load_batch(source: "str | Path | pd.DataFrame", **config: Any) -> Batch:
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
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        raw, src, cfg = source.copy(), "<DataFrame>", BatchConfig()
        line_of = lambda i: i  # noqa: E731  (DataFrame: its own index labels)
    else:
        path = Path(source)
        src = str(path)
        if not path.is_file():
            raise BatchValidationError(src, "no such file", expected="a CSV, Parquet or JSON Lines file")
        raw, offset = _read_table(path)
        cfg_path = find_config_file(path)
        cfg = read_config(cfg_path) if cfg_path else BatchConfig(source=None)
        line_of = lambda i: int(i) + offset  # noqa: E731
    cfg = cfg.merged(config) if config else cfg
    default_name = Path(src).stem if src != "<DataFrame>" else "batch"
    return _validate(raw, src, cfg, line_of, cfg.name or default_name)


def _read_table(path: Path) -> "tuple[pd.DataFrame, int]":
    """The table and the offset from 0-based row position to the row number a user sees."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
            return df.reset_index(drop=True), 2  # line 1 is the header
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True), 1
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=suffix != ".json").reset_index(drop=True), 1
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BatchValidationError(str(path), f"could not be read ({exc})") from None
    raise BatchValidationError(str(path), f"unsupported file type {suffix!r}",
                               expected="one of .csv, .tsv, .parquet, .jsonl")


def _resolve_columns(raw: "pd.DataFrame", cfg: BatchConfig, src: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, col in cfg.columns.items():
        if key not in ALIASES:
            raise ConfigError(f"{key!r} is not a canonical column; expected one of {list(ALIASES)}", source=cfg.source or src, key="columns")
        if col not in raw.columns:
            raise BatchValidationError(src, f"the config maps {key!r} to a column that is not in the table", column=col,
                                       expected=f"one of {list(map(str, raw.columns))}")
        found[key] = col
    by_norm: dict[str, str] = {}
    for c in raw.columns:
        by_norm.setdefault(_norm(c), c)
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


def _numeric(raw: "pd.DataFrame", col: str, src: str, line_of, what: str, *, positive: bool = True) -> np.ndarray:
    import pandas as pd

    vals = pd.to_numeric(raw[col], errors="coerce")
    bad = vals.isna() & raw[col].notna()
    if bad.any():
        rows = [line_of(i) for i in np.flatnonzero(bad.to_numpy())]
        sample = raw[col][bad].iloc[0]
        raise BatchValidationError(src, f"non-numeric value {sample!r}", column=col, rows=rows, expected=what)
    arr = vals.to_numpy(dtype=float)  # float: 6ND overflows int64 at LLM scale
    missing = np.flatnonzero(np.isnan(arr))
    if missing.size:
        raise BatchValidationError(src, "missing value", column=col, rows=[line_of(i) for i in missing], expected=what)
    if positive:
        badpos = np.flatnonzero(~np.isfinite(arr) | (arr <= 0))
        if badpos.size:
            raise BatchValidationError(src, f"non-positive or infinite value {arr[badpos[0]]!r}", column=col,
                                       rows=[line_of(i) for i in badpos], expected=what)
    return arr


def _validate(raw: "pd.DataFrame", src: str, cfg: BatchConfig, line_of, name: str) -> Batch:
    import pandas as pd

    if len(raw) == 0:
        raise BatchValidationError(src, "the table has no rows", expected="one row per run or per (run, checkpoint)")
    raw = raw.rename(columns=lambda c: str(c))
    cols = _resolve_columns(raw, cfg, src)
    notes: list[str] = []
    available = ", ".join(map(repr, raw.columns[:20]))

    if "params" not in cols:
        raise BatchValidationError(src, "missing the model-size column", column="params",
                                   expected=f"a column named one of {ALIASES['params'][:6]} (or map it under `columns:`); the table has {available}")
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
        scol = cols.get("steps", cols.get("step"))
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
        raise ConfigError("compute: flops was asked for but the table has no FLOPs column", source=cfg.source or src, key="compute")
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
        raise BatchValidationError(src, "negative step", column=cols["step"], rows=[line_of(i) for i in bad], expected="steps >= 0")
    frame = pd.DataFrame({"N": N, "D": D, "C": C, "step": step})
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
            raise BatchValidationError(src, f"non-numeric value {raw[m.column][bad].iloc[0]!r} in metric {m.name!r}", column=m.column,
                                       rows=[line_of(i) for i in np.flatnonzero(bad.to_numpy())], expected="numbers")
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
            excluded.append(Exclusion(str(r), f"diverged: {', '.join(which)} is {first[which[0]]}{at} (row {int(first['_line'])})", rows_r))
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
            raise BatchValidationError(src, f"metric {m.name!r} reaches its bound exactly, leaving no error to fit", column=m.column,
                                       rows=frame["_line"].to_numpy()[np.flatnonzero(v == m.bound)].tolist(),
                                       expected=f"values strictly below {m.bound:g}, or a larger bound")
    if frame.empty:
        raise BatchValidationError(src, "every run was excluded as diverged", expected="at least some finite metric values")
    if frame["N"].nunique() < 2:
        raise BatchValidationError(src, f"too few distinct model sizes to fit anything ({frame['N'].nunique()})", column=cols["params"],
                                   expected="at least 2 distinct sizes (3 or more for a two-variable law)")
    for m in metrics.values():
        if frame[m.name].isna().all():
            raise BatchValidationError(src, f"metric {m.name!r} has no values", column=m.column, expected="numbers")
    frame = frame.reset_index(drop=True)
    return Batch(name=name, slug=slugify(name), source=src, frame=frame, metrics=metrics, excluded=tuple(excluded),
                 compute=compute, data_unit=data_unit, columns=cols, config=cfg, has_checkpoints=has_ckpt, notes=tuple(notes))


def _resolve_metrics(raw: "pd.DataFrame", cols: dict[str, str], cfg: BatchConfig, src: str) -> dict[str, MetricSpec]:
    import pandas as pd

    used = set(cols.values()) | set(cfg.ignore)
    declared = cfg.metrics
    out: dict[str, MetricSpec] = {}
    if declared is None:
        candidates = [c for c in raw.columns if c not in used and pd.api.types.is_numeric_dtype(raw[c])]
        if not candidates:
            raise BatchValidationError(src, "no metric columns", expected="at least one numeric column besides N, D, C, run and step")
        unknown = [c for c in candidates if infer_direction(c) is None]
        if unknown:
            raise BatchValidationError(src, "cannot tell which way is better for numeric column(s) " + ", ".join(map(repr, unknown)),
                                       column=unknown[0],
                                       expected="metric names that say their direction (loss, error, ade, map, acc, ...), or "
                                       "`metrics:` in the config with `direction: min|max`, or `ignore:` for columns that are not metrics")
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
