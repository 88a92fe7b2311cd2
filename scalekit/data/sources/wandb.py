"""Weights & Biases run-history exports (CSV or Parquet) as one batch.

What is read (no network, no ``wandb`` package):

- a folder of files, one per run (``<run>.csv`` / ``<run>.parquet``): the file stem is the run name,
  unless the file has a ``run`` or ``name`` column;
- one file per project with a ``run``/``name``/``run_name``/``display_name`` column (rows of all runs);
  when names repeat across distinct ``run_id``/``id`` values, the id is appended so runs never merge;
- the history Parquet files W&B keeps as run artifacts: a subfolder per run, as
  ``artifact.download()`` writes them (``run-<id>-history:v0/0000.parquet``, ...); the subfolder
  gives the run (``<id>``), and its parts are concatenated.

``_step`` becomes ``step`` (a ``step`` column the user logged wins); W&B's own columns (``_runtime``,
``_timestamp``, anything else starting with ``_``) are dropped. Rows of one (run, step) are merged, the
last non-empty value winning, as W&B's history holds one row per ``wandb.log`` call. Metric names
keep their W&B spelling (``eval/c4_en/CrossEntropyLoss``, ``throughput/total_tokens``): scalekit's
column aliases map them. A numeric column present on every row and constant within each run (a
config value exported beside the history) becomes a run attribute; ``runs=`` or ``run_pattern=``
give N and D when the export has no config columns.

No live reader: reading a project needs W&B's servers. Export the history first::

    import pandas as pd, wandb

    api = wandb.Api()
    for run in api.runs("ENTITY/PROJECT"):
        history = pd.DataFrame(run.scan_history())          # every row; run.history() samples 500
        for key, value in run.config.items():                 # params, tokens, ... as columns
            if isinstance(value, (int, float, str, bool)):
                history[key] = value
        history.to_parquet(f"export/{run.name}.parquet")      # or .to_csv(..., index=False)

then give ``export/`` as the batch.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._runs import MAX_STEP, RUN_ID_KEYS, RUN_KEYS, STEP_KEYS, apply_run_options, options_key, restore_infinities, tidy_history
from ._table import SourceTable, digest, file_state
from .errors import SourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["history_files", "looks_like_wandb_file", "read_wandb"]

_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_ARTIFACT = re.compile(r"^run-(?P<id>.+?)-history(?:[:_-]v\d+)?$")


def history_files(root: Path) -> list[Path]:
    """The CSV/Parquet files of an export folder: directly inside it, or in one subfolder per run."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES and not p.name.startswith("."))


def looks_like_wandb_file(path: Path) -> bool:
    """Whether a table file has W&B's ``_step`` column (read from the header or the Parquet schema only)."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
        else:
            with path.open(encoding="utf-8", errors="replace") as fh:
                names = [c.strip().strip('"') for c in fh.readline().rstrip("\r\n").split("\t" if path.suffix.lower() == ".tsv" else ",")]
    except (OSError, ValueError):
        return False
    return "_step" in names


def _refuse_duplicate_header(path: Path, sep: str) -> None:
    """pandas renames a repeated column to ``loss.1`` and the export's first column wins silently: refused, as for a plain CSV."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    dup = [c for c, k in Counter(h.strip() for h in header).items() if k > 1 and c]
    if dup:
        raise SourceError(str(path), f"the header names column {dup[0]!r} more than once", line=1,
                          hint="Each column name once in the header line (which of the two is the history cannot be told)")


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        _refuse_duplicate_header(path, sep)
        return pd.read_csv(path, sep=sep)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise SourceError(str(path), f"could not be read as a history export ({exc})") from None


def _run_of_folder(folder: str) -> str:
    m = _ARTIFACT.match(folder)
    return m.group("id") if m else folder


def _one_table(path: Path, root: Path, run_column: str | None, notes: list[str]) -> pd.DataFrame:
    """A file's rows as (run, step, columns...)."""
    import pandas as pd

    df = _read(path)
    index_cols = [c for c in df.columns if re.fullmatch(r"Unnamed: \d+", str(c))]
    if index_cols:  # to_csv without index=False
        df = df.drop(columns=index_cols)
    lower = {str(c).lower(): str(c) for c in df.columns}
    if run_column is not None and run_column not in df.columns:
        raise SourceError(str(path), f"no run column {run_column!r}", hint=f"Its columns are {list(map(str, df.columns))[:12]}")
    run_col = run_column or next((lower[k] for k in RUN_KEYS if k in lower), None)
    step_col = next((lower[k] for k in STEP_KEYS if k in lower), None)
    if step_col is None:
        raise SourceError(str(path), "no step column", hint=f"W&B history has _step; expected one of {list(STEP_KEYS)}")
    rel = path.relative_to(root).parts if path != root else (path.name,)
    if run_col is not None:
        runs = df[run_col].astype(str)
        id_col = next((lower[k] for k in RUN_ID_KEYS if k in lower and lower[k] != run_col), None)
        if id_col is not None:
            # W&B display names repeat; the id tells runs apart
            ids = df[id_col].astype(str)
            shared = ids.groupby(runs).nunique()
            shared = set(shared[shared > 1].index)
            if shared:
                notes.append(f"{path.name}: run names {sorted(shared)[:5]} belong to several runs; their ids were appended")
                runs = runs.where(~runs.isin(shared), runs + " (" + ids + ")")
    else:
        runs = pd.Series(_run_of_folder(rel[0]) if len(rel) > 1 else path.stem, index=df.index)
    steps = pd.to_numeric(df[step_col], errors="coerce")
    # above 2**53 a float step is no longer a whole number, and int64 wraps it negative (1e20 read as -7e18)
    bad = steps.isna() | (steps % 1 != 0) | (steps < 0) | (steps > MAX_STEP)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        csv_file = path.suffix.lower() not in (".parquet", ".pq")
        where = f"row {row + 2} (the header is row 1)" if csv_file else f"row {row + 1}"
        raise SourceError(str(path), f"step column {step_col!r} has {df[step_col].iloc[row]!r} in {where}, which is not a step",
                          hint=f"Steps are whole numbers from 0 to {MAX_STEP:.0f} (2**53)")
    other_steps = [c for c in df.columns if str(c).lower() in STEP_KEYS and c != step_col]
    system = [c for c in df.columns if str(c).startswith("_") and c != step_col and c not in other_steps]
    drop = {step_col, *other_steps, *system, *([run_col] if run_col else [])}
    body = df[[c for c in df.columns if c not in drop]].copy()
    nested = [c for c in body.columns if body[c].dtype == object and body[c].map(lambda v: isinstance(v, (dict, list))).any()]
    if nested:  # media, histograms, tables: not scalars
        notes.append(f"{path.name}: non-scalar columns {nested[:5]} were left out")
        body = body.drop(columns=nested)
    if system or other_steps:
        notes.append(f"W&B system and extra step columns {sorted(map(str, {*system, *other_steps}))[:6]} were dropped; {step_col!r} is the step")
    body.insert(0, "step", steps.astype("int64").to_numpy())
    body.insert(0, "run", runs.to_numpy())
    return body


def read_wandb(spec: str | Path, *, run_pattern: str | None = None, runs: Any = None, name: str | None = None,
               run_column: str | None = None) -> SourceTable:
    """Read W&B history exports (a folder of per-run files, a per-project file, or history artifacts).

    Parameters
    ----------
    spec : str or Path
        A folder or a single file (a ``wandb:`` prefix is allowed).
    run_pattern : str, optional
        Pattern for run names, e.g. ``"{params}-{tokens}"``: fields become columns.
    runs : mapping, DataFrame or path, optional
        Run table: run name -> {column: value} (e.g. ``run.config`` exported per run).
    name : str, optional
        Batch name (default: the folder name or file stem).
    run_column : str, optional
        The column naming the run in a per-project file, when it is not ``run``/``name``.

    Returns
    -------
    SourceTable
    """
    import pandas as pd

    text = str(spec)
    path = Path(text.removeprefix("wandb:"))
    if path.is_file():
        root, files = path.parent, [path]
    elif path.is_dir():
        root, files = path, history_files(path)
        if not files:
            raise SourceError(str(path), "no CSV or Parquet history files in this folder")
    else:
        raise SourceError(str(path), "no such file or folder")
    source = f"wandb export {path}"
    notes: list[str] = []
    parts = []
    for f in files:
        try:
            parts.append(_one_table(f, root, run_column, notes))
        except SourceError as exc:
            if len(files) == 1 or "no step column" not in str(exc):
                raise
            notes.append(f"{f.relative_to(root)} has no step column and is not a run's history: left out")
    if not parts:
        raise SourceError(str(path), "no file in this folder has a step column", hint=f"W&B history has _step; expected one of {list(STEP_KEYS)}")
    frame = pd.concat(parts, ignore_index=True, sort=False)
    notes = list(dict.fromkeys(notes))
    if frame.empty:
        raise SourceError(str(path), "the history has no rows")
    # one row per wandb.log call, and a run's parts in several files: merged to one row per (run, step)
    frame, logged, metrics, run_columns = tidy_history(frame, notes)
    restore_infinities(frame, metrics, notes)
    frame = apply_run_options(frame, metrics, run_columns, source, notes, run_pattern=run_pattern, runs=runs)
    fingerprint = digest("wandb", str(path.resolve()), file_state(files, root),
        options_key(run_pattern=run_pattern, runs=runs, run_column=run_column))
    return SourceTable(frame=frame.reset_index(drop=True), name=name or (path.stem if path.is_file() else path.resolve().name), source=source,
                       fingerprint=fingerprint, notes=tuple(notes), kind="wandb", metrics=tuple(metrics), run_columns=tuple(run_columns),
                       logged=logged.loc[frame.index, metrics].reset_index(drop=True))
