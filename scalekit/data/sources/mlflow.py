"""MLflow tracking stores: one batch per experiment, one row per (run, step).

A store is named by a tracking URI, as MLflow itself takes it:

- ``sqlite:///path/to/mlflow.db`` (the default store of current MLflow), or a plain path to that file;
- a ``mlruns/`` file-store folder (a path or a ``file://`` URI);
- ``http://host:port`` / ``https://...``: a tracking server;
- other database URIs MLflow accepts (``postgresql://``, ``mysql://``) are passed through as they are.

Everything is read through :class:`mlflow.tracking.MlflowClient` (never by parsing MLflow's files), so
every store MLflow supports reads the same way. A local store is never opened by MLflow itself: MLflow
writes into what it opens (its schema into any SQLite file, a default experiment, a ``.trash`` folder),
so a SQLite store is first checked to hold MLflow's tables (through a read-only connection) and then
read from a snapshot (SQLite's backup API, consistent even while a run writes), and an ``mlruns``
folder from a copy without its ``artifacts``. Each run becomes one row per step that any of its
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
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote, urlsplit

from ._runs import RunData, apply_run_options, assemble, options_key, restore_infinities
from ._table import SourceTable, digest
from .errors import MissingExtraError, SourceError

__all__ = ["is_mlflow_spec", "mlflow_uri", "read_mlflow"]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables every MLflow database has had since its first schema: a file without them is no MLflow store.
_MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags", "alembic_version"})


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
            db = _sqlite_path(text)
            if db is not None and not db.is_file():
                raise SourceError(text, f"no MLflow database at {db}", hint="Check the path (sqlite:///relative or sqlite:////absolute)")
        elif scheme == "file":
            folder = Path(urlsplit(text).path)
            if not folder.is_dir():
                raise SourceError(text, f"no MLflow file store (mlruns folder) at {folder}")
        return text
    path = Path(text)
    if path.is_file():
        if path.stat().st_size and not _is_sqlite_file(path):
            raise SourceError(text, "not an SQLite database", hint="Give an MLflow tracking URI, an mlflow.db file or an mlruns folder")
        return "sqlite:///" + str(path.resolve())
    if path.is_dir():
        return path.resolve().as_uri()
    raise SourceError(text, "no such file or folder", hint="Give an MLflow tracking URI, an mlflow.db file or an mlruns folder")


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` URI (None for an in-memory database)."""
    db = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    db = db.split("?", 1)[0]
    return None if db in ("", ":memory:") else Path(db)


def _check_sqlite_store(uri: str, db: Path) -> sqlite3.Connection:
    """A read-only connection to ``db`` once it is known to be an MLflow database; refused before anything writes."""
    size = db.stat().st_size
    if size == 0:
        raise SourceError(uri, "an empty file (0 bytes), not an MLflow store",
                          hint="Give the mlflow.db an MLflow run wrote into; scalekit never creates a store")
    if not _is_sqlite_file(db):
        raise SourceError(uri, "not an SQLite database", hint="Give an MLflow tracking URI, an mlflow.db file or an mlruns folder")
    conn = sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro", uri=True)
    try:
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        conn.close()
        raise SourceError(uri, f"not a readable SQLite database ({exc}; truncated or corrupt?)") from None
    missing = sorted(_MLFLOW_TABLES - tables)
    if missing == sorted(_MLFLOW_TABLES):
        conn.close()
        shown = sorted(tables)[:8]
        raise SourceError(uri, f"an SQLite database but not an MLflow store (none of MLflow's tables {sorted(_MLFLOW_TABLES)[:4]}; "
                          f"it has {shown or 'no tables'})", hint="Give the mlflow.db an MLflow run wrote into; it was left as it is")
    if missing:
        conn.close()
        raise SourceError(uri, f"an incomplete MLflow store (tables {missing} are missing)", hint="It was left as it is")
    return conn


@contextlib.contextmanager
def _snapshot(uri: str) -> Iterator[str]:
    """The URI MLflow reads: a private copy of a local store, so that nothing MLflow does reaches the user's.

    MLflow writes into a store it opens: its schema into any SQLite file (8 KB -> 1 MB), a default
    experiment when there is none, a ``.trash`` folder in ``mlruns``. Remote stores (servers, other
    databases) are read as they are.
    """
    db = _sqlite_path(uri) if uri.startswith("sqlite:") else None
    folder = Path(urlsplit(uri).path) if uri.startswith("file:") else None
    if db is None and folder is None:
        yield uri
        return
    if folder is not None and not any(p.is_file() for p in folder.glob("*/meta.yaml")):
        raise SourceError(uri, "not an MLflow file store: no experiment folder with a meta.yaml",
                          hint="Give the mlruns folder an MLflow run wrote into")
    conn = _check_sqlite_store(uri, db) if db is not None else None
    with tempfile.TemporaryDirectory(prefix="scalekit-mlflow-") as tmp:
        try:
            if conn is not None:
                copy = Path(tmp) / "mlflow.db"
                with contextlib.closing(sqlite3.connect(copy)) as dst:
                    conn.backup(dst)  # a consistent snapshot, WAL included, through the read-only connection
                read_uri = "sqlite:///" + str(copy)
            else:
                assert folder is not None
                copy = Path(tmp) / "mlruns"
                shutil.copytree(folder, copy, ignore=_artifact_contents(folder))
                read_uri = copy.as_uri()
        except sqlite3.Error as exc:
            raise SourceError(uri, f"not a readable SQLite database ({exc}; truncated or corrupt?)") from None
        except OSError as exc:
            raise SourceError(uri, f"could not copy the store to read it safely ({exc.strerror or exc})",
                              hint="Free some space in the temporary folder (TMPDIR)") from None
        finally:
            if conn is not None:
                conn.close()
        try:
            yield read_uri
        finally:
            _forget_engine(read_uri)


def _artifact_contents(root: Path) -> Callable[[str, list[str]], list[str]]:
    """What a copy of ``mlruns`` leaves out: the contents of each run's ``<experiment>/<run>/artifacts`` folder
    (checkpoints, models), not the folder itself, which MLflow looks for; a metric named ``artifacts/x`` stays."""

    def ignore(folder: str, names: list[str]) -> list[str]:
        rel = Path(folder).relative_to(root).parts
        return names if len(rel) == 3 and rel[2] == "artifacts" else []

    return ignore


def _forget_engine(uri: str) -> None:
    """Close MLflow's cached database engine for a snapshot, so its file can go (MLflow keeps one per URI)."""
    if not uri.startswith("sqlite:"):
        return
    with contextlib.suppress(Exception):  # a private cache: if MLflow changes it, the engine is just kept
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


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
        from mlflow.exceptions import MlflowException  # first: without the client, installing it is the first thing to do
        from mlflow.tracking import MlflowClient

        with _file_store_allowed(uri, notes), _snapshot(uri) as read_uri:
            try:
                client = MlflowClient(tracking_uri=read_uri)
                chosen = _select_experiments(client, uri, wanted)
                tables = []
                for exp in chosen:
                    table = _read_experiment(client, uri, exp, list(notes), run_pattern=run_pattern, runs=runs)
                    if table is None and wanted:
                        raise SourceError(uri, f"experiment {exp.name!r} has no runs")
                    if table is not None:
                        tables.append(table)
            except MlflowException as exc:
                raise SourceError(uri, f"MLflow could not read the store: {_one_line(exc.message)}") from None
            except (SourceError, ImportError):
                raise
            except Exception as exc:
                if not _raised_by_the_store(exc):  # a bug of ours keeps its traceback
                    raise
                raise SourceError(uri, f"MLflow could not read the store ({type(exc).__name__}: {_one_line(str(exc))})",
                                  hint="Is it truncated or corrupt? It was left as it is") from None
    except ImportError as exc:
        raise MissingExtraError(uri, "MLflow tracking stores", "mlflow", missing=exc.name) from None
    if not tables:
        raise SourceError(uri, "no experiment in this store has runs")
    return tables


def _raised_by_the_store(exc: BaseException) -> bool:
    """Whether an error comes from MLflow reading a damaged store (a bad meta.yaml, a garbage metric line, a
    broken database), judged by where it was raised: inside MLflow, SQLAlchemy, YAML or SQLite, not in scalekit."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    parts = set(PurePath(frames[-1].filename).parts) if frames else set()  # "yaml/_yaml.pyx" for compiled YAML
    return bool(parts & {"mlflow", "sqlalchemy", "yaml", "sqlite3"})


def _one_line(text: str, limit: int = 300) -> str:
    """The first line of an error message (SQLAlchemy appends the SQL and a link), shortened."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


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
    restore_infinities(frame, metrics, notes)
    frame = apply_run_options(frame, metrics, run_columns, source, notes, run_pattern=run_pattern, runs=runs)
    fingerprint = digest("mlflow", uri, exp.experiment_id, exp.name, state, options_key(run_pattern=run_pattern, runs=runs))
    return SourceTable(frame=frame.reset_index(drop=True), name=exp.name, source=source, fingerprint=fingerprint, notes=tuple(notes),
                       kind="mlflow", metrics=tuple(metrics), run_columns=tuple(run_columns),
                       logged=logged.loc[frame.index, metrics].reset_index(drop=True))
