"""Shared by every reader: per-run data to one frame, numbers in strings, run-name patterns, run tables."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_STEP",
    "RUN_KEYS",
    "STEP_KEYS",
    "RunData",
    "apply_run_options",
    "assemble",
    "coerce_values",
    "options_key",
    "parse_number",
    "restore_infinities",
    "split_constant",
    "tidy_history",
]

# How trackers and training loops spell the step and the run (compared lower-cased). Kept here rather
# than borrowed from scalekit.batch.ALIASES: readers must decide the step before any batch exists.
STEP_KEYS = ("step", "_step", "global_step", "trainer/global_step", "iteration", "iter")
RUN_KEYS = ("run", "name", "run_name", "display_name")
RUN_ID_KEYS = ("run_id", "id")
MAX_STEP = 2**53  # the largest step every reader holds exactly (a float beyond it skips integers; int64 wraps at 2**63)

_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKmMbBgGtT])?\s*$")


def parse_number(value: object) -> float | None:
    """A count written the way run names and params write it, or None if it is not one.

    Suffixes k, M, B (or G), T are thousands to trillions, either case (``125m`` is 125 million,
    as in model names; nobody trains a milli-parameter model).

    >>> [parse_number(s) for s in ("125M", "1.3B", "2e9", "70m", "10k", "1_000", " 7 ")]
    [125000000.0, 1300000000.0, 2000000000.0, 70000000.0, 10000.0, 1000.0, 7.0]
    >>> parse_number("cosine") is None, parse_number(True) is None, parse_number(3) == 3.0
    (True, True, True)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        try:  # numpy scalars
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    m = _NUMBER.match(value)
    if m is None:
        low = value.strip().lower()
        return float(low) if low in ("nan", "inf", "-inf", "+inf") else None
    x = float(m.group(1).replace("_", ""))
    return x * _SCALE[m.group(2).lower()] if m.group(2) else x


def coerce_values(values: Sequence[Any]) -> list[Any]:
    """Floats when every present value reads as a number (so ``"1e8"`` params become N), else unchanged."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return list(values)
    parsed = [parse_number(v) for v in present]
    if any(p is None for p in parsed):
        return list(values)
    return [math.nan if v is None else parse_number(v) for v in values]


@dataclass
class RunData:
    """What a reader found for one run.

    ``points`` has a ``step`` column (unique steps) and one column per logged metric; ``attrs`` maps
    a group (``params``, ``tags``, ``hparams``, ``run``) to that group's name -> value. A group name
    becomes a prefix (``params.loss``) only when the plain name is taken by a metric or a key column.
    """

    name: str
    points: pd.DataFrame
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    logged: pd.DataFrame | None = None  # True where a metric point was logged (a logged NaN included)

    @classmethod
    def from_steps(cls, name: str, by_step: Mapping[int, Mapping[str, float]], attrs: dict[str, dict[str, Any]]) -> RunData:
        """From step -> {metric: value} as a tracker returns points: steps and metric names sorted."""
        import pandas as pd

        steps = sorted(by_step)
        columns = sorted({k for s in steps for k in by_step[s]})
        points = pd.DataFrame([dict(by_step[s]) for s in steps], columns=columns)
        logged = pd.DataFrame([{k: True for k in by_step[s]} for s in steps], columns=columns).notna()
        points.insert(0, "step", steps)
        return cls(name, points, attrs, logged)


def restore_infinities(frame: pd.DataFrame, metrics: Sequence[str], notes: list[str]) -> None:
    """Read the float maximum in a metric as the infinity it stands for, in place.

    MLflow stores +inf as 1.797e308 and -inf as -1.797e308 (its databases hold no infinities); no
    metric is ever logged at exactly the float maximum, so a diverged run's inf becomes inf again and
    the batch excludes and lists it, as it does for a file.
    """
    import numpy as np

    found = 0
    for c in metrics:
        col = frame[c]
        if col.dtype.kind != "f":
            continue
        v = col.to_numpy()
        at_max = np.abs(v) == sys.float_info.max
        if at_max.any():
            found += int(at_max.sum())
            frame[c] = np.where(at_max, np.sign(v) * np.inf, v)
    if found:
        notes.append(f"{found} metric value(s) of 1.797e308 or -1.797e308 (the float maximum, how MLflow stores an infinity) were read as infinite")


def assemble(runs: Sequence[RunData], source: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """One frame from many runs: (frame, logged mask of the metric columns, metric columns, run attribute columns)."""
    import pandas as pd

    if not runs:
        raise SourceError(source, "no runs found")
    metrics: list[str] = []
    for r in runs:
        metrics += [c for c in r.points.columns if c != "step" and c not in metrics]
    taken = {"run", "step", *metrics}
    names: dict[tuple[str, str], str] = {}
    for r in runs:
        for group, attrs in r.attrs.items():
            for key in attrs:
                names.setdefault((group, key), key if key not in taken else f"{group}.{key}")
    # two groups can still want the same plain name (a param and a tag both called 'size')
    seen: dict[str, tuple[str, str]] = {}
    for gk, col in list(names.items()):
        if col in seen and seen[col] != gk:
            names[gk] = f"{gk[0]}.{gk[1]}"
        seen.setdefault(col, gk)

    parts = []
    for r in runs:
        p = r.points.copy()
        p.insert(0, "run", r.name)
        parts.append(p)
    frame = pd.concat(parts, ignore_index=True, sort=False)
    frame = frame[["run", "step", *metrics]]
    masks = [r.logged if r.logged is not None else r.points.drop(columns="step").notna() for r in runs]
    logged = pd.concat(masks, ignore_index=True, sort=False).reindex(columns=metrics).fillna(False).astype(bool)
    frame["step"] = frame["step"].astype("int64")
    attr_cols = list(dict.fromkeys(names.values()))
    per_run: dict[str, list[Any]] = {c: [] for c in attr_cols}
    run_names = [r.name for r in runs]
    for r in runs:
        mine = {names[(g, k)]: v for g, attrs in r.attrs.items() for k, v in attrs.items()}
        for c in attr_cols:
            per_run[c].append(mine.get(c))
    for c in attr_cols:
        lookup = dict(zip(run_names, coerce_values(per_run[c])))
        frame[c] = frame["run"].map(lookup)
    return frame, logged, metrics, attr_cols


def split_constant(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split history columns into (series, run attributes) for exports that mix both in one table.

    A column is a run attribute (a config value a user exported beside the history) when it is
    present on every row and constant within every run, and at least one run has several rows;
    with one row per run nothing can be told apart, so everything stays a series.
    """
    if frame.empty or frame.groupby("run").size().max() < 2:
        return list(columns), []
    series, attrs = [], []
    g = frame.groupby("run")
    for c in columns:
        col = frame[c]
        if col.notna().all() and bool((g[c].nunique(dropna=False) == 1).all()):
            attrs.append(c)
        else:
            series.append(c)
    return series, attrs


def tidy_history(frame: pd.DataFrame, notes: list[str], present: pd.DataFrame | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """A long history table (run, step, columns; rows may repeat a (run, step)) made one row per (run, step).

    Rows of one (run, step) merge, the last non-empty value of each column winning (trackers write one
    row per log call). ``present`` marks the cells that were logged (default: the non-NaN ones; a source
    that tells a logged NaN from a missing key passes its own). Returns the frame ordered run, step,
    series, run attributes; the logged mask of the metric columns; the metric columns (numeric
    series); and the run attribute columns (constant within each run, see :func:`split_constant`).
    Text columns that vary within a run (a logged sample) stay in the frame but are neither.
    """
    import pandas as pd

    n = len(frame)
    keys = [frame["run"], frame["step"]]
    mask = (frame.notna() if present is None else present.reindex(index=frame.index, columns=frame.columns).fillna(False).astype(bool))
    mask = mask.drop(columns=["run", "step"]).groupby(keys, sort=True).any().reset_index(drop=True)
    frame = frame.groupby(["run", "step"], sort=True).last().reset_index()
    if len(frame) < n:
        notes.append(f"{n - len(frame)} row(s) shared a (run, step) with another and were merged (last value wins)")
    columns = [c for c in frame.columns if c not in ("run", "step")]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    metrics, run_columns = split_constant(frame, numeric)
    per_run = frame.groupby("run")
    run_columns += [c for c in columns if c not in numeric and bool((per_run[c].nunique(dropna=False) == 1).all())]
    frame = frame[["run", "step", *[c for c in columns if c not in run_columns], *run_columns]]
    return frame, mask[metrics], metrics, run_columns


def _compile_pattern(pattern: str, source: str) -> tuple[re.Pattern[str], list[str]]:
    parts = re.split(r"(\{[^{}]*\})", pattern)
    fields: list[str] = []
    rx = ""
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            key = part[1:-1].strip()
            if key in ("", "_", "*"):
                rx += ".*?"
                continue
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or key in fields or key in ("run", "step"):
                raise SourceError(source, f"run_pattern {pattern!r}: {{{key}}} is not a usable field name",
                                  hint="Use names like {params} and {tokens}, each once, or {} to skip a part")
            fields.append(key)
            rx += f"(?P<{key}>.+?)"
        else:
            rx += re.escape(part)
    if not fields:
        raise SourceError(source, f"run_pattern {pattern!r} names no field", hint="Write fields in braces, e.g. '{params}-{tokens}'")
    return re.compile(rx), fields


def _runs_table(runs: Any, source: str) -> dict[str, dict[str, Any]]:
    """A run table given as a mapping, a DataFrame or a file, as run name -> {column: value}."""
    import pandas as pd

    if isinstance(runs, Mapping):
        out: dict[str, dict[str, Any]] = {}
        for k, v in runs.items():
            if not isinstance(v, Mapping):
                raise SourceError(source, f"runs table: the entry for run {k!r} is not a mapping",
                                  hint="Give runs as {run name: {params: ..., tokens: ...}}")
            out[str(k)] = dict(v)
        return out
    if isinstance(runs, (str, Path)):
        path = Path(runs)
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                runs = pd.read_parquet(path)
            elif path.suffix.lower() in (".jsonl", ".ndjson"):
                runs = pd.read_json(path, lines=True)
            else:
                runs = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        except (OSError, ValueError) as exc:
            raise SourceError(str(path), f"runs table could not be read ({exc})") from None
    if isinstance(runs, pd.DataFrame):
        key = next((c for c in runs.columns if str(c).lower() in RUN_KEYS), None)
        table = runs.set_index(key) if key is not None else runs
        if table.index.duplicated().any():
            raise SourceError(source, f"runs table: duplicate run names {sorted(map(str, table.index[table.index.duplicated()]))[:5]}")
        return {str(i): {str(c): v for c, v in row.items()} for i, row in table.iterrows()}
    raise SourceError(source, f"runs must be a mapping, a DataFrame or a table file, not {type(runs).__name__}")


def apply_run_options(frame: pd.DataFrame, metrics: list[str], run_columns: list[str], source: str, notes: list[str], *,
                      run_pattern: str | None = None, runs: Any = None) -> pd.DataFrame:
    """Add run attributes parsed from run names (``run_pattern``) or looked up in a run table (``runs``).

    What the user gives here wins over what the tracker logged (hparams, params); a disagreement is noted.
    ``metrics`` and ``run_columns`` are updated in place: a column set here is a run attribute.
    """
    names = [str(r) for r in frame["run"].unique()]
    given: dict[str, dict[str, Any]] = {n: {} for n in names}
    what = ""
    if run_pattern is not None:
        rx, fields = _compile_pattern(run_pattern, source)
        bad = [n for n in names if rx.fullmatch(n) is None]
        if len(bad) == len(names):
            raise SourceError(source, f"run name(s) {bad[:5]} do not match run_pattern {run_pattern!r}"
                              + (f" ({len(bad)} runs in all)" if len(bad) > 5 else ""),
                              hint=f"Runs are named like {names[:3]}; fix the pattern, or give a runs table")
        if bad:  # runs of another kind in the same folder (a target model's evals): left out, and said
            notes.append(f"run(s) {bad[:5]} do not match run_pattern {run_pattern!r} and were left out")
            frame = frame[~frame["run"].astype(str).isin(bad)].copy()  # index kept: the reader realigns `logged` to it
            names = [n for n in names if n not in bad]
            given = {n: {} for n in names}
        for n in names:
            m = rx.fullmatch(n)
            assert m is not None
            given[n].update({f: m.group(f) for f in fields})
        what = f"run_pattern {run_pattern!r}"
    if runs is not None:
        table = _runs_table(runs, source)
        missing = [n for n in names if n not in table]
        if missing:
            raise SourceError(source, f"the runs table has no row for run(s) {missing[:5]}"
                              + (f" ({len(missing)} in all)" if len(missing) > 5 else ""),
                              hint=f"Its runs are {sorted(table)[:5]}")
        for n in names:
            given[n].update(table[n])
        what = (what + " and " if what else "") + "the runs table"
    if not what:
        return frame
    cols = list(dict.fromkeys(c for n in names for c in given[n]))
    for c in cols:
        if c in ("run", "step"):
            raise SourceError(source, f"{what} sets the key column {c!r}", hint="Name the fields after run attributes such as params and tokens")
        lookup = dict(zip(names, coerce_values([given[n].get(c) for n in names])))
        new = frame["run"].map(lookup)
        if c in frame.columns:
            old = frame[c]
            differ = old.notna() & new.notna() & (old.astype(str) != new.astype(str))
            if differ.any():
                notes.append(f"{what} overrides the logged {c!r} of {frame.loc[differ, 'run'].nunique()} run(s)")
            new = new.where(new.notna(), old)
        frame[c] = new
        if c in metrics:
            metrics.remove(c)
        if c not in run_columns:
            run_columns.append(c)
    notes.append(f"run attributes {cols} come from {what}")
    return frame


def options_key(*, run_pattern: str | None = None, runs: Any = None, **other: Any) -> dict[str, Any]:
    """A JSON-able stand-in for the reader options, so that the fingerprint changes with them."""
    key: dict[str, Any] = {"run_pattern": run_pattern, **other}
    if isinstance(runs, (str, Path)):
        p = Path(runs)
        key["runs"] = [str(p), p.stat().st_mtime_ns if p.exists() else None]
    elif runs is not None:
        to_dict = getattr(runs, "to_dict", None)
        key["runs"] = to_dict(orient="list") if callable(to_dict) else runs
    return key
