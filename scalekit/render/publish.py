"""Rendering one batch or the comparison into the site: scratch folder, then atomic moves into place.

Everything is produced in a scratch folder and moved into place with ``os.replace`` only when
the whole batch succeeded, so a failed or interrupted re-render never leaves a half-written page
and never destroys the last good report. A failing batch gets ``failed.ipynb``/``failed.html``
(code shown, the failing cell anchored) and does not stop the others. A batch whose inputs are
unchanged is skipped unless ``force``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from ..exceptions import RenderError
from ..iorw import atomic_write_text
from ..pipeline.summary import SummaryError, load_summary
from .execute import error_text, execute
from .export import export_html
from .jobs import BatchResult, Job
from .resources import compare_notebook, report_notebook

__all__ = ["KEY_FILE", "render_batch", "render_compare"]

KEY_FILE = ".inputs.sha256"
# Every report links back to the site (it sits in <slug>/) and to its own files.
REPORT_NAV = [("← All reports", "../index.html"), ("Batches compared", "../compare.html"),
              ("summary.json", "summary.json"), ("Executed notebook", "report.ipynb")]
FAILED_NAV = [("← All reports", "../index.html"), ("Batches compared", "../compare.html"),
              ("Executed notebook", "failed.ipynb")]
COMPARE_NAV = [("← All reports", "index.html"), ("Executed notebook", "compare.ipynb")]


@contextlib.contextmanager
def _scratch(out: Path, prefix: str) -> Iterator[Path]:
    """A private folder under ``out/.scratch`` for one render, removed afterwards whatever happens."""
    root = out / ".scratch"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render_batch(job: Job, out: str | Path, force: bool = False, warm: bool = False) -> BatchResult:
    """Render one batch into ``out/<slug>/``; never raises for a batch's own failure.

    ``warm`` runs the notebook in this process's warm kernel (reset first) instead of a new one.
    """
    t0 = time.perf_counter()
    out = Path(out)
    dest = out / job.slug
    key = job.key()
    if not force and (dest / KEY_FILE).is_file() and (dest / KEY_FILE).read_text().strip() == key \
            and (dest / "report.html").is_file() and (dest / "summary.json").is_file():
        try:
            summary = load_summary(dest / "summary.json")
        except SummaryError:
            summary = None  # a corrupt cached summary: render again
        if summary is not None:
            return BatchResult(job.slug, job.name, "skipped", "inputs unchanged", time.perf_counter() - t0, summary=summary)
    try:
        with _scratch(out, f"{job.slug}-") as tmp:
            nb_out = tmp / "report.ipynb"
            params = {**job.parameters, "summary_path": str(tmp / "summary.json")}
            try:
                execute(report_notebook(), nb_out, params, tmp, warm_cwd=out / ".scratch" if warm else None)
            except Exception as exc:  # papermill raises PapermillExecutionError with the cell's error
                msg = error_text(exc)
                dest.mkdir(parents=True, exist_ok=True)
                link = None
                if nb_out.is_file():
                    html = export_html(nb_out, show_input=True, title=f"FAILED: {job.name}", nav=FAILED_NAV)
                    os.replace(nb_out, dest / "failed.ipynb")
                    atomic_write_text(dest / "failed.html", html)
                    link = f"{job.slug}/failed.html#papermill-error-cell"
                return BatchResult(job.slug, job.name, "failed", msg, time.perf_counter() - t0, link)
            html = export_html(nb_out, title=f"{job.name}: scaling-law report", nav=REPORT_NAV)
            summary_file = tmp / "summary.json"
            if not summary_file.is_file():
                raise RenderError("the notebook ran but wrote no summary.json", batch=job.name)
            summary = load_summary(summary_file)
            (tmp / "report.html").write_text(html, encoding="utf-8")
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("report.ipynb", "summary.json", "report.html"):  # page last: it links the others
                os.replace(tmp / name, dest / name)
            for stale in ("failed.ipynb", "failed.html"):
                (dest / stale).unlink(missing_ok=True)
            atomic_write_text(dest / KEY_FILE, key + "\n")
            return BatchResult(job.slug, job.name, "rendered", "ok", time.perf_counter() - t0, summary=summary)
    except Exception as exc:  # anything else (export, disk) fails this batch only
        return BatchResult(job.slug, job.name, "failed", f"{error_text(exc)}\n{traceback.format_exc(limit=3)}",
                           time.perf_counter() - t0)


COMPARE_STUB = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Batches compared</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2em auto; max-width: 50em; padding: 0 1em;">
<main><h1>Batches compared</h1><p><a href="index.html">← All reports</a></p>
<p>Fewer than two batches rendered, so there is nothing to compare yet.</p></main></body></html>
"""


def render_compare(out: Path, results: list[BatchResult]) -> BatchResult | None:
    """The cross-batch comparison page (compare.html), when two or more batches rendered."""
    paths = [str((out / r.slug / "summary.json").resolve()) for r in results if r.summary is not None]
    if len(paths) < 2 or not compare_notebook().is_file():
        if not (out / "compare.html").is_file():  # every report links the comparison: say why there is none
            atomic_write_text(out / "compare.html", COMPARE_STUB)
        return None
    t0 = time.perf_counter()
    with _scratch(out, "compare-") as tmp:
        nb_out = tmp / "compare.ipynb"
        try:
            execute(compare_notebook(), nb_out, {"summaries_json": json.dumps(paths)}, tmp)
        except Exception as exc:
            if nb_out.is_file():
                atomic_write_text(out / "compare-failed.html", export_html(nb_out, show_input=True, title="FAILED: comparison",
                                                                           nav=COMPARE_NAV))
            return BatchResult("compare", "comparison", "failed", error_text(exc), time.perf_counter() - t0,
                               "compare-failed.html#papermill-error-cell")
        atomic_write_text(out / "compare.html", export_html(nb_out, title="Batches compared", nav=COMPARE_NAV))
        os.replace(nb_out, out / "compare.ipynb")
        (out / "compare-failed.html").unlink(missing_ok=True)
        return BatchResult("compare", "comparison", "rendered", "ok", time.perf_counter() - t0)
