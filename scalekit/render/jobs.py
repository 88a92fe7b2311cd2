"""What to render: one job per batch (per version), with unique, stable slugs and a cache key."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..data.batch import Batch
from ..data.config import find_config_file
from ..data.load import load_batch
from ..data.read import DATA_SUFFIXES
from ..data.slug import slugify
from ..data.sources import detect_source, read_sources
from ..examples import EXAMPLES, example_source
from ..exceptions import ConfigError, ScalekitError
from ..options import FIELDS, resolve_options
from ..pipeline.summary import Summary
from .resources import report_notebook, report_template_files

__all__ = ["RESERVED", "BatchResult", "Job", "assign_slugs", "discover_jobs"]


@dataclass(frozen=True)
class Job:
    """One report to render: the notebook parameters and where it goes."""

    slug: str
    name: str
    parameters: dict[str, Any]
    inputs: tuple[str, ...] = ()  # files whose bytes make up the cache key
    input_id: str = ""  # what was rendered (file and version, or example): keeps its slug across runs
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


def discover_jobs(batches: Sequence[str | Path], *, base_params: dict[str, Any] | None = None,
                  previous: Mapping[str, str] | None = None, occupied: Iterable[str] = ()) -> list[Job]:
    """Jobs for data files or folders of them; with no batches, the embedded examples.

    A file with a ``version`` column gives one job per version. Slugs are unique within the run,
    never one of the site's own names (:data:`RESERVED`), never one in ``occupied`` (folders of
    other batches already on the site), and stable: an input found in ``previous`` (input id ->
    slug, from the site's ``site.json``) keeps its slug.
    """
    base = dict(base_params or {})
    jobs: list[Job] = []
    config = json.loads(base.get("config_json") or "{}")
    if not batches:
        for ex in EXAMPLES:
            frame, cfg = example_source(ex)
            if base.get("only_metrics"):
                try:
                    batch = load_batch(frame, **{**cfg, **config})
                except ScalekitError:
                    pass  # a batch that does not load fails in its notebook, saying why
                else:
                    _check_metrics(batch, base)
            versions = sorted(frame["version"].unique()) if "version" in frame else [""]
            for v in versions:
                name = f"{cfg.get('name', ex)} {v}".strip()
                jobs.append(Job(slugify(name), name, {**base, "example": ex, "version": v}, (), f"example:{ex}#{v}"))
        return assign_slugs(jobs, previous or {}, occupied)
    files: list[Path] = []
    for b in batches:
        if detect_source(b) is not None:
            jobs += _tracker_jobs(b, base, config)
            continue
        p = Path(b)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in DATA_SUFFIXES and q.is_file())
            if not found:
                raise ConfigError(f"no data file in the folder {str(p)!r}; expected files ending in "
                                  + ", ".join(DATA_SUFFIXES), source="scalekit report")
            files += found
        elif not p.is_file():
            raise ConfigError(f"no such file or folder: {str(p)!r} (nor a tracker URI such as sqlite:///... or http://...)",
                              source="scalekit report")
        else:
            files.append(p)
    for f in files:
        # Absolute, links not resolved: the notebook runs in another folder, and a linked file is read as the
        # link (the YAML beside the link, the link's suffix), as `scalekit fit` reads it.
        path = Path(os.path.abspath(f))
        inputs = tuple(str(x) for x in (path, find_config_file(path)) if x is not None and x.is_file())
        params = {**base, "batch_path": str(path)}
        try:
            batch = load_batch(path, **config)
        except ScalekitError:
            versions, name = [""], path.stem  # the notebook fails at loading and shows the error
        else:
            _check_metrics(batch, base)
            versions, name = batch.versions or [""], batch.name
        for v in versions:
            nm = f"{name} {v}".strip()
            jobs.append(Job(slugify(nm), nm, {**params, "version": v}, inputs, f"{path}#{v}"))
    return assign_slugs(jobs, previous or {}, occupied)


def _check_metrics(batch: Batch, base: Mapping[str, Any]) -> None:
    """``only_metrics`` names metrics of the batch: a misspelt one stops the command before any kernel starts."""
    opts = resolve_options(batch.config.options, {k: v for k, v in base.items() if k in FIELDS or k == "thresholds"},
                           source="scalekit report")
    for m in opts.only_metrics:
        try:
            batch.metric(m)
        except ConfigError as exc:
            raise ConfigError(f"option 'only_metrics': got {m!r}; allowed: the metrics of batch {batch.name!r} ({batch.source}): "
                              f"{list(batch.metrics)}", source="scalekit report", key="only_metrics") from exc


def _tracker_jobs(spec: str | Path, base: dict[str, Any], config: dict[str, Any]) -> list[Job]:
    """One job per batch a tracker source holds (an MLflow experiment each), keyed by the store's state."""
    options = dict(config.get("source") or {})
    wanted = options.pop("experiment", None) or base.get("experiment") or None
    experiments = [e for e in str(wanted).split(",") if e] if wanted else None
    tables = read_sources(spec, experiments, **options)
    where = str(spec)
    if Path(where).exists():  # the notebook runs in another folder: a local path must be absolute
        where = os.path.abspath(where)  # links kept, as for data files
    elif where.startswith("sqlite:///") and not where[len("sqlite:///"):].startswith("/"):
        where = "sqlite:///" + os.path.abspath(where[len("sqlite:///"):])
    jobs = []
    for t in tables:
        name = str(config.get("name") or t.name)
        params = {**base, "batch_path": where, "version": "", "experiment": t.name if t.kind == "mlflow" else ""}
        jobs.append(Job(slugify(name), name, params, (), input_id=f"{where}#{t.name}", fingerprint=t.fingerprint))
    return jobs


# The site's own names: a batch folder called index.html would break the site for every later run.
RESERVED = frozenset({"index.html", "compare.html", "compare.ipynb", "compare-failed.html", "site.json"})


def _reserved(slug: str) -> bool:
    return slug.lower() in RESERVED or slug.startswith(".")


def assign_slugs(jobs: list[Job], previous: Mapping[str, str], occupied: Iterable[str] = ()) -> list[Job]:
    """Each job's final slug: its earlier one if it had one, else its name's, made unique (see discover_jobs)."""
    used = set(occupied)
    final: list[str | None] = [None] * len(jobs)
    for i, j in enumerate(jobs):  # first the inputs the site already knows: they keep their folder
        s = previous.get(j.input_id)
        if s and s not in used and not _reserved(s) and s == slugify(s):
            final[i] = s
            used.add(s)
    for i, j in enumerate(jobs):
        if final[i] is None:
            base = slugify(j.name)
            stem = base.replace(".", "-") if _reserved(base) else base
            s, k = stem, 2
            while s in used or _reserved(s):
                s, k = f"{stem}-{k}", k + 1
            final[i] = s
            used.add(s)
    return [replace(j, slug=s) for j, s in zip(jobs, final) if s is not None]


