"""MLflow tracking stores: one batch per experiment, one row per (run, step).

A store is named by a tracking URI, as MLflow itself takes it:

- ``sqlite:///path/to/mlflow.db`` (the default store of current MLflow), or a plain path to that file;
- a ``mlruns/`` file-store folder (a path or a ``file://`` URI);
- ``http://host:port`` / ``https://...``: a tracking server;
- other database URIs MLflow accepts (``postgresql://``, ``mysql://``) are passed through as they are.

Everything is read through :class:`mlflow.tracking.MlflowClient` (never by parsing MLflow's files), so
every store MLflow supports reads the same way. Each run becomes one row per step that any of its
metrics was logged at (``MlflowClient.get_metric_history``), with its params, its user tags (not
``mlflow.*`` system tags), ``run_id`` and ``status`` as run columns. Params are strings in MLflow;
those that read as numbers (``1e8``, ``125M``) become numbers, so a ``params``/``n_params`` or
``tokens`` param gives N or D through the usual column aliases.

Needs ``pip install "scalekit[mlflow]"`` (mlflow-skinny plus SQLAlchemy and Alembic for database stores).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._runs import RunData, apply_run_options, assemble, options_key
from ._table import SourceTable, digest
from .errors import MissingExtraError, SourceError

__all__ = ["is_mlflow_spec", "mlflow_uri", "read_mlflow"]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _is_file_store(path: Path) -> bool:
    """An ``mlruns/`` folder: experiment folders holding a meta.yaml."""
    return path.is_dir() and (path.name == "mlruns" or any(p.is_file() for p in path.glob("*/meta.yaml")))


def is_mlflow_spec(spec: str | Path) -> bool:
    """Whether ``spec`` names an MLflow store: a tracking URI, an MLflow SQLite file or an ``mlruns`` folder."""
    text = str(spec)
    if text.startswith("mlflow:"):
        return True
    if _URI.match(text):
        scheme = text.split(":", 1)[0].split("+", 1)[0].lower()
        return scheme in (*_DB_SCHEMES, "http", "https", "file", "databricks")
    path = Path(text)
    return (path.is_file() and _is_sqlite_file(path)) or _is_file_store(path)


def mlflow_uri(spec: str | Path) -> str:
    """The tracking URI for ``spec``, checked so that nothing is created by reading.

    MLflow creates a new empty database when pointed at a missing SQLite file; a reader must not,
    so a missing file or folder is an error here.
    """
    text = str(spec)
    text = text.removeprefix("mlflow:")
    if _URI.match(text):
        scheme = text.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme == "sqlite":
            db = text[len("sqlite:///"):]
            if db and db != ":memory:" and not Path(db).is_file():
                raise SourceError(text, f"no MLflow database at {db}", hint="Check the path (sqlite:///relative or sqlite:////absolute)")
        elif scheme == "file":
            folder = Path(urlsplit(text).path)
            if not folder.is_dir():
                raise SourceError(text, f"no MLflow file store (mlruns folder) at {folder}")
        return text
    path = Path(text)
    if path.is_file():
        if not _is_sqlite_file(path):
            raise SourceError(text, "not an SQLite database", hint="Give an MLflow tracking URI, an mlflow.db file or an mlruns folder")
        return "sqlite:///" + str(path.resolve())
    if path.is_dir():
        return path.resolve().as_uri()
    raise SourceError(text, "no such file or folder", hint="Give an MLflow tracking URI, an mlflow.db file or an mlruns folder")


@contextlib.contextmanager
def _file_store_allowed(uri: str, notes: list[str]) -> Iterator[None]:
    """Let MLflow open a legacy ``mlruns`` folder for this read.

    MLflow 3 refuses its file store unless MLFLOW_ALLOW_FILE_STORE is set ("maintenance mode"). We
    only read, so we opt in for the duration of the read, unless the user set the variable themselves.
    """
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    notes.append("MLflow's file store is in maintenance mode; it was read with MLFLOW_ALLOW_FILE_STORE=true "
                 "(`mlflow migrate-filestore` moves it to SQLite)")
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _check_server(uri: str) -> None:
    """Fail fast when nothing listens: MLflow's REST client would retry for minutes."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise SourceError(uri, f"no MLflow tracking server answers at {parts.hostname}:{port} ({exc.strerror or exc})") from None


def read_mlflow(spec: str | Path, experiments: str | Sequence[str] | None = None, *,
                run_pattern: str | None = None, runs: Any = None) -> list[SourceTable]:
    """Read experiments of an MLflow store, one :class:`SourceTable` per experiment.

    Parameters
    ----------
    spec : str or Path
        Tracking URI (``sqlite:///x/mlflow.db``, ``http://127.0.0.1:5000``, ``file:///x/mlruns``), an
        ``mlflow.db`` file or an ``mlruns`` folder; an ``mlflow:`` prefix is allowed.
    experiments : str or list of str, optional
        Experiment names (or ids). All active experiments with runs when omitted.
    run_pattern : str, optional
        Parse run names into columns, e.g. ``"{params}-{tokens}"`` (see :func:`scalekit.data.sources.read_source`).
    runs : mapping, DataFrame or path, optional
        A run table: run name -> {column: value}.

    Returns
    -------
    list of SourceTable

    Raises
    ------
    MissingExtraError
        When the MLflow client is not installed.
    SourceError
        When the store cannot be opened, a named experiment does not exist or has no runs.
    """
    uri = mlflow_uri(spec)
    wanted = [experiments] if isinstance(experiments, str) else list(experiments or [])
    notes: list[str] = []
    _check_server(uri)
    try:
        with _file_store_allowed(uri, notes):
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient

            try:
                client = MlflowClient(tracking_uri=uri)
                chosen = _select_experiments(client, uri, wanted)
                tables = []
                for exp in chosen:
                    table = _read_experiment(client, uri, exp, list(notes), run_pattern=run_pattern, runs=runs)
                    if table is None and wanted:
                        raise SourceError(uri, f"experiment {exp.name!r} has no runs")
                    if table is not None:
                        tables.append(table)
            except MlflowException as exc:
                raise SourceError(uri, f"MLflow could not read the store: {exc.message}") from None
    except ImportError as exc:
        raise MissingExtraError(uri, "MLflow tracking stores", "mlflow", missing=exc.name) from None
    if not tables:
        raise SourceError(uri, "no experiment in this store has runs")
    return tables


def _select_experiments(client: Any, uri: str, wanted: list[str]) -> list[Any]:
    from mlflow.entities import ViewType

    found: list[Any] = []
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            break
    if not wanted:
        return sorted(found, key=lambda e: int(e.experiment_id) if str(e.experiment_id).isdigit() else str(e.experiment_id))
    by_key = {e.name: e for e in found} | {str(e.experiment_id): e for e in found}
    missing = [w for w in wanted if w not in by_key]
    if missing:
        raise SourceError(uri, f"no experiment named {missing[0]!r}", hint=f"The store has {sorted(e.name for e in found)}")
    return list({id(by_key[w]): by_key[w] for w in wanted}.values())


def _history(client: Any, run_id: str, key: str) -> tuple[dict[int, float], int, int, int]:
    """step -> value (the latest logged at that step), the count of points, re-logged points, last timestamp."""
    latest: dict[int, tuple[int, float]] = {}
    points = client.get_metric_history(run_id, key)
    for m in points:
        prev = latest.get(int(m.step))
        if prev is None or m.timestamp >= prev[0]:
            latest[int(m.step)] = (int(m.timestamp), float(m.value))
    last = max((int(m.timestamp) for m in points), default=0)
    return {s: v for s, (_, v) in latest.items()}, len(points), len(points) - len(latest), last


def _read_experiment(client: Any, uri: str, exp: Any, notes: list[str], *, run_pattern: str | None,
                     runs: Any) -> SourceTable | None:
    from mlflow.entities import ViewType

    found: list[Any] = []
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000,
                                  order_by=["attributes.start_time ASC"], page_token=token)
        found += list(page)
        token = page.token
        if not token:
            break
    source = f"mlflow {uri} experiment {exp.name!r}"
    if not found:
        return None
    names = [r.info.run_name or r.info.run_id for r in found]
    # run names are not unique in MLflow; a repeated one gets its run id so runs never merge
    repeated = {n for n in names if names.count(n) > 1}
    if repeated:
        notes.append(f"run names {sorted(repeated)[:5]} are used by several runs; their run ids were appended")
    data: list[RunData] = []
    state: list[Any] = []
    relogged = 0
    empty: list[str] = []
    for r, name in zip(found, names):
        info = r.info
        run_name = f"{name} ({info.run_id[:8]})" if name in repeated else name
        by_step: dict[int, dict[str, float]] = {}
        counts = {}
        for key in sorted(r.data.metrics):
            values, n, dup, last = _history(client, info.run_id, key)
            relogged += dup
            counts[key] = (n, last)
            for step, value in values.items():
                by_step.setdefault(step, {})[key] = value
        params = dict(r.data.params)
        tags = {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")}
        state.append([info.run_id, info.status, info.start_time, info.end_time, counts, params, tags])
        if not by_step:
            empty.append(run_name)
            continue
        data.append(RunData.from_steps(run_name, by_step, {"params": params, "tags": tags,
                                                            "run": {"run_id": info.run_id, "status": info.status}}))
    if empty:
        notes.append(f"run(s) {empty[:5]} logged no metrics and were left out")
    if relogged:
        notes.append(f"{relogged} metric point(s) were logged twice at one step; the latest was kept")
    if not data:
        return None
    frame, logged, metrics, run_columns = assemble(data, source)
    frame = apply_run_options(frame, metrics, run_columns, source, notes, run_pattern=run_pattern, runs=runs)
    fingerprint = digest("mlflow", uri, exp.experiment_id, exp.name, state, options_key(run_pattern=run_pattern, runs=runs))
    return SourceTable(frame=frame.reset_index(drop=True), name=exp.name, source=source, fingerprint=fingerprint, notes=tuple(notes),
                       kind="mlflow", metrics=tuple(metrics), run_columns=tuple(run_columns),
                       logged=logged.loc[frame.index, metrics].reset_index(drop=True))
