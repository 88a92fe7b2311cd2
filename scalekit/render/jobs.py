"""What to render: one job per batch (per version), with unique, stable slugs and a cache key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..data.config import find_config_file
from ..data.load import load_batch
from ..data.read import DATA_SUFFIXES
from ..data.slug import slugify
from ..data.sources import detect_source, read_sources
from ..examples import EXAMPLES, example_source
from ..exceptions import RenderError, ScalekitError
from ..pipeline.summary import Summary
from .resources import report_notebook, report_template_files

__all__ = ["BatchResult", "Job", "discover_jobs"]


@dataclass(frozen=True)
class Job:
    """One report to render: the notebook parameters and where it goes."""

    slug: str
    name: str
    parameters: dict[str, Any]
    inputs: tuple[str, ...] = ()  # files whose bytes make up the cache key
    fingerprint: str = ""  # a tracker store's state (runs, metric points): new runs re-render the batch

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(f"scalekit {__version__}\n{self.fingerprint}\n".encode())
        h.update(json.dumps({k: v for k, v in self.parameters.items() if k != "summary_path"}, sort_keys=True).encode())
        for p in (report_notebook(), *report_template_files(), *map(Path, self.inputs)):
            h.update(str(p.name).encode())
            h.update(p.read_bytes() if p.is_file() else b"<missing>")
        return h.hexdigest()


@dataclass
class BatchResult:
    slug: str
    name: str
    status: str  # rendered | skipped | failed
    message: str = ""
    seconds: float = 0.0
    error_link: str | None = None
    summary: Summary | None = field(default=None, repr=False)


def discover_jobs(batches: Sequence[str | Path], *, base_params: dict[str, Any] | None = None) -> list[Job]:
    """Jobs for data files or folders of them; with no batches, the embedded examples.

    A file with a ``version`` column gives one job per version.
    """
    base = dict(base_params or {})
    jobs: list[Job] = []
    if not batches:
        for ex in EXAMPLES:
            frame, cfg = example_source(ex)
            versions = sorted(frame["version"].unique()) if "version" in frame else [""]
            for v in versions:
                name = f"{cfg.get('name', ex)} {v}".strip()
                jobs.append(Job(slugify(name), name, {**base, "example": ex, "version": v}))
        return _unique(jobs)
    files: list[Path] = []
    config = json.loads(base.get("config_json") or "{}")
    for b in batches:
        if detect_source(b) is not None:
            jobs += _tracker_jobs(b, base, config)
            continue
        p = Path(b)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in DATA_SUFFIXES and q.is_file())
            if not found:
                raise RenderError(f"{p}: the folder holds no batch file ({', '.join(DATA_SUFFIXES)}) and no tracker runs")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise RenderError(f"{b}: no such file or folder, and not a tracker URI (sqlite:///..., http://...)")
    for f in files:
        inputs = tuple(str(x) for x in (f, find_config_file(f)) if x is not None and x.is_file())
        params = {**base, "batch_path": str(f.resolve())}
        try:
            batch = load_batch(f)
            versions = batch.versions or [""]
            name = batch.name
        except ScalekitError:
            versions, name = [""], f.stem  # the notebook fails at loading and shows the error
        for v in versions:
            nm = f"{name} {v}".strip()
            jobs.append(Job(slugify(nm), nm, {**params, "version": v}, inputs))
    return _unique(jobs)


def _tracker_jobs(spec: str | Path, base: dict[str, Any], config: dict[str, Any]) -> list[Job]:
    """One job per batch a tracker source holds (an MLflow experiment each), keyed by the store's state."""
    options = dict(config.get("source") or {})
    wanted = options.pop("experiment", None) or base.get("experiment") or None
    experiments = [e for e in str(wanted).split(",") if e] if wanted else None
    tables = read_sources(spec, experiments, **options)
    where = str(spec)
    if Path(where).exists():  # the notebook runs in another folder: a local path must be absolute
        where = str(Path(where).resolve())
    elif where.startswith("sqlite:///") and not where[len("sqlite:///"):].startswith("/"):
        where = "sqlite:///" + str(Path(where[len("sqlite:///"):]).resolve())
    jobs = []
    for t in tables:
        name = str(config.get("name") or t.name)
        params = {**base, "batch_path": where, "version": "", "experiment": t.name if t.kind == "mlflow" else ""}
        jobs.append(Job(slugify(name), name, params, (), t.fingerprint))
    return jobs


def _unique(jobs: list[Job]) -> list[Job]:
    seen: dict[str, int] = {}
    out = []
    for j in jobs:
        n = seen.get(j.slug, 0)
        seen[j.slug] = n + 1
        out.append(j if n == 0 else Job(f"{j.slug}-{n + 1}", j.name, j.parameters, j.inputs, j.fingerprint))
    return out


