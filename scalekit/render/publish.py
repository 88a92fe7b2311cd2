"""Rendering one batch or the comparison into the site: scratch folder, then atomic moves into place.

Everything is produced in a scratch folder and moved into place with ``os.replace`` only when
the whole batch succeeded, so a failed or interrupted re-render never leaves a half-written page
and never destroys the last good report. A failing batch gets ``failed.ipynb``/``failed.html``
(code shown, the failing cell anchored) and does not stop the others. A batch whose inputs are
unchanged is skipped unless ``force``. The output folder itself failing (full disk, read-only)
is not one batch's failure: it raises :class:`OutputError` and the whole run stops.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..exceptions import RenderError
from ..iorw import atomic_write_text
from ..pipeline.summary import Summary, SummaryError, load_summary
from ..report.notebook import PARAMETERS
from .execute import error_text, execute
from .export import export_html
from .jobs import BatchResult, Job
from .resources import compare_notebook, report_notebook

__all__ = ["COMPARE_KEY_FILE", "KEY_FILE", "SCRATCH_PREFIX", "OutputError", "count_images", "render_batch", "render_compare"]

KEY_FILE = ".inputs.sha256"
COMPARE_KEY_FILE = ".compare.sha256"
COMPARE_PAGES = ("compare.ipynb", "compare.html")
SCRATCH_PREFIX = ".scalekit-scratch-"  # one folder per run, ours alone: a user's own .scratch/ is never touched

# What the output folder (not a batch) failing looks like: no space, no quota, read-only, not allowed.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_DISK_TEXTS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")
_REMEDY = {"No space left on device": "free some space and run again (it picks up where it stopped)",
           "Disk quota exceeded": "free some space and run again (it picks up where it stopped)",
           "Read-only file system": "its file system is mounted read-only: pass another --out",
           "Permission denied": "make it writable for you (chmod u+w) or pass another --out"}


class OutputError(RenderError):
    """The output folder cannot be written (full disk, read-only, not allowed): the run stops."""


def output_error(exc: BaseException, out: Path) -> OutputError | None:
    """An OutputError when ``exc`` (or the kernel's error it carries) is the disk failing, else None."""
    if isinstance(exc, OutputError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        what = os.strerror(errno.EACCES if exc.errno == errno.EPERM else exc.errno)
        return OutputError(f"cannot write into {out}: {exc.strerror} ({exc.filename or out}); {_REMEDY.get(what, '')}")
    text = f"{getattr(exc, 'ename', '')}: {getattr(exc, 'evalue', '')}"
    for t in _DISK_TEXTS:
        if t in text:
            return OutputError(f"cannot write into {out}: {t}; {_REMEDY[t]}")
    return None

# Every report links back to the site (it sits in <slug>/) and to its own files.
REPORT_NAV = [("← All reports", "../index.html"), ("Batches compared", "../compare.html"),
              ("summary.json", "summary.json"), ("Executed notebook", "report.ipynb")]
FAILED_NAV = [("← All reports", "../index.html"), ("Batches compared", "../compare.html"),
              ("Executed notebook", "failed.ipynb")]
COMPARE_NAV = [("← All reports", "index.html"), ("Executed notebook", "compare.ipynb")]


@contextlib.contextmanager
def _scratch(root: Path, prefix: str) -> Iterator[Path]:
    """A private folder under this run's scratch root for one render, removed afterwards whatever happens."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def count_images(notebook: Path) -> int:
    """How many figures an executed notebook holds: image outputs, or inline SVG in HTML outputs."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))

    def is_figure(data: dict[str, Any]) -> bool:
        html = data.get("text/html", "")
        return any(k.startswith("image/") for k in data) or "<svg" in ("".join(html) if isinstance(html, list) else str(html))

    return sum(1 for c in nb.get("cells", []) for o in c.get("outputs", []) if is_figure(o.get("data") or {}))


PUBLISHED = ("report.ipynb", "summary.json", "report.html")  # a batch's pages, moved into place in this order


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(key: str, folder: Path, names: tuple[str, ...] = PUBLISHED) -> str:
    """The cache record: the inputs' key, then the hash of each published file, so that a page truncated or
    changed by something else after publishing is rendered again rather than served for ever."""
    return key + "\n" + "".join(f"{_sha256(folder / name)}  {name}\n" for name in names)


def _fresh(record: Path, key: str, folder: Path, names: tuple[str, ...] = PUBLISHED) -> bool:
    """Whether ``record`` says the files in ``folder`` are the ones published for ``key``, unchanged since."""
    try:
        return record.read_text(encoding="utf-8") == _stamp(key, folder, names)
    except (OSError, UnicodeDecodeError):  # a file missing or unreadable: render again
        return False


def _cached(dest: Path, key: str) -> Summary | None:
    if not _fresh(dest / KEY_FILE, key, dest):
        return None
    try:
        return load_summary(dest / "summary.json")
    except SummaryError:
        return None  # a corrupt cached summary: render again


def render_batch(job: Job, out: str | Path, force: bool = False, warm: bool = False, scratch: str | Path | None = None
                 ) -> BatchResult:
    """Render one batch into ``out/<slug>/``; never raises for a batch's own failure (only :class:`OutputError`).

    ``warm`` runs the notebook in this process's warm kernel (reset first) instead of a new one;
    ``scratch`` is the run's scratch root (default: a new one in ``out``, removed afterwards).
    """
    out = Path(out)
    if scratch is None:
        out.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=out))
        try:
            return render_batch(job, out, force, warm, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    scratch = Path(scratch)
    t0 = time.perf_counter()
    dest = out / job.slug
    try:
        key = job.key()
        summary = None if force else _cached(dest, key)
        if summary is not None:
            for stale in ("failed.ipynb", "failed.html"):  # an earlier failure was recovered from: its page is stale
                (dest / stale).unlink(missing_ok=True)
            return BatchResult(job.slug, job.name, "skipped", "inputs unchanged", time.perf_counter() - t0, summary=summary)
        with _scratch(scratch, f"{job.slug}-") as tmp:
            nb_out = tmp / "report.ipynb"
            params = {**job.parameters, "summary_path": str(tmp / "summary.json")}
            try:
                execute(report_notebook(), nb_out, params, tmp, warm_cwd=scratch if warm else None, known=PARAMETERS)
            except Exception as exc:  # papermill raises PapermillExecutionError with the cell's error
                disk = output_error(exc, out)
                if disk is not None:
                    raise disk from None
                msg = error_text(exc)
                dest.mkdir(parents=True, exist_ok=True)
                link = None
                if nb_out.is_file():
                    html = export_html(nb_out, show_input=True, title=f"FAILED: {job.name}", nav=FAILED_NAV)
                    os.replace(nb_out, dest / "failed.ipynb")
                    atomic_write_text(dest / "failed.html", html)
                    link = f"{job.slug}/failed.html#papermill-error-cell"
                return BatchResult(job.slug, job.name, "failed", msg, time.perf_counter() - t0, link)
            summary_file = tmp / "summary.json"
            if not summary_file.is_file():
                raise RenderError("the notebook ran but wrote no summary.json", batch=job.name)
            _set_slug(summary_file, job.slug)
            summary = load_summary(summary_file)
            if summary.fits and count_images(nb_out) == 0:
                raise RenderError(f"the report has no figure although {len(summary.fits)} law(s) were fitted: matplotlib "
                                  "drew nothing in the kernel", batch=job.name)
            html = export_html(nb_out, title=f"{job.name}: scaling-law report", nav=REPORT_NAV)
            (tmp / "report.html").write_text(html, encoding="utf-8")
            stamp = _stamp(key, tmp)
            dest.mkdir(parents=True, exist_ok=True)
            for name in PUBLISHED:  # page last: it links the others
                os.replace(tmp / name, dest / name)
            for stale in ("failed.ipynb", "failed.html"):
                (dest / stale).unlink(missing_ok=True)
            atomic_write_text(dest / KEY_FILE, stamp)
            return BatchResult(job.slug, job.name, "rendered", "ok", time.perf_counter() - t0, summary=summary)
    except Exception as exc:  # anything else (export, disk) fails this batch only, unless the disk is the cause
        disk = output_error(exc, out)
        if disk is not None:
            raise disk from None
        return BatchResult(job.slug, job.name, "failed", f"{error_text(exc)}\n{traceback.format_exc(limit=3)}",
                           time.perf_counter() - t0)


COMPARE_STUB = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Batches compared</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2em auto; max-width: 50em; padding: 0 1em;">
<main><h1>Batches compared</h1><p><a href="index.html">← All reports</a></p>
<p>Fewer than two batches rendered, so there is nothing to compare yet.</p></main></body></html>
"""




def _set_slug(summary_file: Path, slug: str) -> None:
    """The folder's slug in summary.json: the renderer keeps slugs unique and stable, the notebook cannot know them."""
    d = json.loads(summary_file.read_text(encoding="utf-8"))
    if isinstance(d.get("batch"), dict) and d["batch"].get("slug") != slug:
        d["batch"]["slug"] = slug
        summary_file.write_text(json.dumps(d, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in (compare_notebook(), *paths):
        h.update(str(p).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def render_compare(out: Path, summaries: list[Path], scratch: Path, force: bool = False) -> BatchResult | None:
    """compare.html from the summaries on disk; rebuilt whenever they (or the notebook) changed.

    With fewer than two summaries there is nothing to compare and an old compare.html is
    removed, so the comparison never disagrees with the index.
    """
    if len(summaries) < 2:
        for stale in ("compare.ipynb", "compare-failed.html", COMPARE_KEY_FILE):
            (out / stale).unlink(missing_ok=True)
        atomic_write_text(out / "compare.html", COMPARE_STUB)  # every report links the comparison: say why there is none
        return None
    key = _fingerprint(summaries)
    if not force and _fresh(out / COMPARE_KEY_FILE, key, out, COMPARE_PAGES):
        return BatchResult("compare", "comparison", "skipped", "summaries unchanged")
    t0 = time.perf_counter()
    with _scratch(scratch, "compare-") as tmp:
        nb_out = tmp / "compare.ipynb"
        try:
            execute(compare_notebook(), nb_out, {"summaries_json": json.dumps([str(p.resolve()) for p in summaries])}, tmp)
        except Exception as exc:
            disk = output_error(exc, out)
            if disk is not None:
                raise disk from None
            if nb_out.is_file():
                atomic_write_text(out / "compare-failed.html", export_html(nb_out, show_input=True, title="FAILED: comparison",
                                                                           nav=COMPARE_NAV))
            (out / COMPARE_KEY_FILE).unlink(missing_ok=True)
            return BatchResult("compare", "comparison", "failed", error_text(exc), time.perf_counter() - t0,
                               "compare-failed.html#papermill-error-cell")
        atomic_write_text(out / "compare.html", export_html(nb_out, title="Batches compared", nav=COMPARE_NAV))
        os.replace(nb_out, out / "compare.ipynb")
        (out / "compare-failed.html").unlink(missing_ok=True)
        atomic_write_text(out / COMPARE_KEY_FILE, _stamp(key, out, COMPARE_PAGES))
        return BatchResult("compare", "comparison", "rendered", "ok", time.perf_counter() - t0)
