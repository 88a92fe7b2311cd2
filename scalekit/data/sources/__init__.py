"""Experiment-tracker sources: each becomes the same table a CSV batch is.

===========  ===========================================  ======================================  ====================
source       how it is read                               N / D / metrics                         extra
===========  ===========================================  ======================================  ====================
MLflow       ``MlflowClient`` (sqlite:///, mlruns/,        params/tags as run columns; metric       ``scalekit[mlflow]``
             http://): one batch per experiment,          histories as series
             ``get_metric_history`` per (run, metric)
TensorBoard  TensorBoard's event loader, one subfolder    hparams plugin, or ``run_pattern`` /     ``scalekit[tensorboard]``
             per run                                      ``runs``; scalars as series
W&B export   pandas: CSV/Parquet history per run or per   config columns exported beside the       (none)
             project, or history artifacts                history, or ``run_pattern`` / ``runs``
JSON Lines   ``json``, one object per line, a file or     keys constant in a run; the rest are     (none)
             subfolder per run                            series
===========  ===========================================  ======================================  ====================

Use :func:`read_source` for one batch and :func:`read_sources` for every experiment of a store::

    table = read_source("sqlite:///runs/mlflow.db", experiment="ladder")
    evals = table.select("eval_loss")        # the steps eval_loss was logged at (not every train step)
    batch = scalekit.load_batch(evals.frame, **evals.batch_config())

``table.fingerprint`` hashes the store's state (and the reader options): a new run or a new metric
point changes it, so it can key a cache of rendered reports.

A string names its kind by a prefix (``mlflow:``, ``tensorboard:``, ``wandb:``, ``jsonl:``) or by what
it is (:func:`detect_source`). Importing this package imports neither MLflow nor TensorBoard.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._runs import parse_number
from ._table import SourceTable
from .errors import MissingExtraError, SourceError
from .jsonl import jsonl_files, read_jsonl
from .mlflow import is_mlflow_spec, read_mlflow
from .tensorboard import is_tensorboard_folder, read_tensorboard
from .wandb import history_files, looks_like_wandb_file, read_wandb

__all__ = [
    "KINDS",
    "MissingExtraError",
    "SourceError",
    "SourceTable",
    "detect_source",
    "parse_number",
    "read_source",
    "read_sources",
]

KINDS = ("mlflow", "tensorboard", "wandb", "jsonl")
_PREFIXES = tuple(f"{k}:" for k in KINDS)
_READERS: dict[str, Callable[..., Any]] = {"mlflow": read_mlflow, "tensorboard": read_tensorboard, "wandb": read_wandb, "jsonl": read_jsonl}
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def detect_source(spec: str | Path) -> str | None:
    """Which tracker source ``spec`` names, or None when it is none (a plain table file, or nothing).

    In order: a kind prefix (``wandb:export/``); an MLflow tracking URI, SQLite file or ``mlruns``
    folder; a folder with TensorBoard event files; a folder with ``.jsonl`` files; a W&B export (a
    CSV/Parquet file or folder whose files have W&B's ``_step`` column).

    >>> detect_source("sqlite:///x/mlflow.db"), detect_source("http://127.0.0.1:5000"), detect_source("wandb:export")
    ('mlflow', 'mlflow', 'wandb')
    >>> detect_source("no/such/file.csv") is None
    True
    """
    text = str(spec)
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            return prefix[:-1]
    if is_mlflow_spec(text):
        return "mlflow"
    path = Path(text)
    if path.is_dir():
        if is_tensorboard_folder(path):
            return "tensorboard"
        if jsonl_files(path):
            return "jsonl"
        if any(looks_like_wandb_file(f) for f in history_files(path)[:20]):
            return "wandb"
        return None
    if path.is_file() and path.suffix.lower() in _TABLE_SUFFIXES and looks_like_wandb_file(path):
        return "wandb"
    return None


def _check_options(kind: str, options: dict[str, Any], spec: str) -> None:
    accepted = [p for p in inspect.signature(_READERS[kind]).parameters if p not in ("spec", "experiments")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise SourceError(spec, f"unknown option(s) {unknown} for a {kind} source", hint=f"It takes {accepted}")


def read_sources(spec: str | Path, experiments: str | Sequence[str] | None = None, *, kind: str | None = None,
                 **options: Any) -> list[SourceTable]:
    """Every batch a source holds: one per MLflow experiment (those named, else all with runs), else one.

    Parameters
    ----------
    spec : str or Path
        Tracking URI, folder or file; see :func:`detect_source`.
    experiments : str or list of str, optional
        MLflow experiment names or ids (an error for other kinds).
    kind : {"mlflow", "tensorboard", "wandb", "jsonl"}, optional
        Skip detection.
    **options
        Reader options: ``run_pattern`` (e.g. ``"{params}-{tokens}"``: run names parsed into columns,
        ``125M``/``1.3B``/``2e9`` read as numbers), ``runs`` (run table: mapping run -> {column: value},
        DataFrame or CSV/Parquet path), ``name`` (batch name; not for MLflow), ``run_column`` (W&B),
        ``step_key`` (JSON Lines).

    Returns
    -------
    list of SourceTable

    Raises
    ------
    SourceError
        When ``spec`` is no tracker source, an option is unknown, or the reader fails.
    MissingExtraError
        When the reader's optional packages are missing (the message names the extra).
    """
    text = str(spec)
    kind = kind or detect_source(text)
    if kind is None:
        raise SourceError(text, "not an experiment-tracker source",
                          hint="Expected an MLflow URI (sqlite:///..., http://...), an mlflow.db file or mlruns folder, a TensorBoard "
                          "folder, a W&B history export, or a folder of .jsonl files; or prefix the kind, e.g. 'wandb:PATH'. "
                          "Plain CSV/Parquet/JSONL tables go to scalekit.load_batch directly")
    if kind not in _READERS:
        raise SourceError(text, f"unknown source kind {kind!r}", hint=f"Expected one of {list(KINDS)}")
    _check_options(kind, options, text)
    if kind == "mlflow":
        return read_mlflow(text, experiments, **options)
    if experiments:
        raise SourceError(text, f"experiments apply to MLflow stores, not to a {kind} source")
    return [_READERS[kind](text, **options)]


def read_source(spec: str | Path, *, experiment: str | None = None, kind: str | None = None, **options: Any) -> SourceTable:
    """The one batch ``spec`` names.

    Parameters
    ----------
    spec : str or Path
        Tracking URI, folder or file; see :func:`detect_source`.
    experiment : str, optional
        The MLflow experiment (name or id); needed when the store has several with runs.
    kind : str, optional
        Skip detection.
    **options
        As for :func:`read_sources`.

    Returns
    -------
    SourceTable
    """
    tables = read_sources(spec, None if experiment is None else [experiment], kind=kind, **options)
    if len(tables) > 1:
        raise SourceError(str(spec), f"this store holds {len(tables)} experiments with runs: {[t.name for t in tables]}",
                          hint="Name one with experiment=..., or read them all with read_sources()")
    return tables[0]
