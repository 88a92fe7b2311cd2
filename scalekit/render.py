"""Rendering: parameterized notebooks executed by papermill, exported by nbconvert, and the site.

Per batch, into ``DIR/<slug>/``: ``report.html``, the executed ``report.ipynb`` and
``summary.json``. Everything is produced in a scratch folder and moved into place with
``os.replace`` only when the whole batch succeeded, so a failed or interrupted re-render never
leaves a half-written page and never destroys the last good report. A failing batch gets
``failed.ipynb``/``failed.html`` (code shown, the failing cell anchored) and does not stop the
others. A batch whose inputs (data, config, parameters, notebook, template, scalekit version)
are unchanged is skipped unless ``force``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from html import escape, unescape
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .batch import slugify
from .exceptions import RenderError, ScalekitError
from .iorw import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TEMPLATES = ROOT / "templates"
REPORT_NOTEBOOK = NOTEBOOKS / "batch_report.ipynb"
COMPARE_NOTEBOOK = NOTEBOOKS / "compare_batches.ipynb"
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")
KEY_FILE = ".inputs.sha256"

__all__ = ["Job", "BatchResult", "Site", "render_site", "render_batch", "export_html", "discover_jobs"]


@dataclass(frozen=True)
class Job:
    """One report to render: the notebook parameters and where it goes."""

    slug: str
    name: str
    parameters: dict[str, Any]
    inputs: tuple[str, ...] = ()  # files whose bytes make up the cache key

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(f"scalekit {__version__}\n".encode())
        h.update(json.dumps({k: v for k, v in self.parameters.items() if k != "summary_path"}, sort_keys=True).encode())
        for p in (REPORT_NOTEBOOK, *sorted((TEMPLATES / "scalekit_report").glob("*")), *map(Path, self.inputs)):
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
    summary: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class Site:
    out: Path
    index: Path
    results: list[BatchResult]
    compare: BatchResult | None = None

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results) and (self.compare is None or self.compare.status != "failed")


# --- jobs -------------------------------------------------------------------------------
def _config_file(p: Path) -> Path | None:
    from .config import find_config_file

    return find_config_file(p)


def discover_jobs(batches: Sequence[str | Path], *, base_params: dict[str, Any] | None = None) -> list[Job]:
    """Jobs for data files or folders of them; with no batches, the embedded examples.

    A file with a ``version`` column gives one job per version.
    """
    from .batch import load_batch
    from .examples import example_source

    base = dict(base_params or {})
    jobs: list[Job] = []
    if not batches:
        for ex in ("behavior", "perception"):
            frame, cfg = example_source(ex)
            versions = sorted(frame["version"].unique()) if "version" in frame else [""]
            for v in versions:
                name = f"{cfg.get('name', ex)} {v}".strip()
                jobs.append(Job(slugify(name), name, {**base, "example": ex, "version": v}))
        return _unique(jobs)
    files: list[Path] = []
    for b in batches:
        p = Path(b)
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() in DATA_SUFFIXES and q.is_file())
        else:
            files.append(p)
    for f in files:
        inputs = tuple(str(x) for x in (f, _config_file(f)) if x is not None and x.is_file())
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


def _unique(jobs: list[Job]) -> list[Job]:
    seen: dict[str, int] = {}
    out = []
    for j in jobs:
        n = seen.get(j.slug, 0)
        seen[j.slug] = n + 1
        out.append(j if n == 0 else Job(f"{j.slug}-{n + 1}", j.name, j.parameters, j.inputs))
    return out


# --- export -----------------------------------------------------------------------------
_HEADING = re.compile(r"<h([23])(\s[^>]*)?>(.*?)</h\1>", re.S)


def add_toc(html: str) -> str:
    """Fill the template's table-of-contents slot from the page's h2/h3 headings."""
    entries: list[tuple[int, str, str]] = []
    counter = [0]

    def sub(m: re.Match) -> str:
        level, attrs, inner = int(m.group(1)), m.group(2) or "", m.group(3)
        idm = re.search(r'id="([^"]+)"', attrs)
        if idm:
            anchor = idm.group(1)
        else:
            counter[0] += 1
            anchor = f"sk-sec-{counter[0]}"
            attrs = f' id="{anchor}"' + attrs
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        entries.append((level, anchor, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    head, sep, body = html.partition("<main>")
    body = _HEADING.sub(sub, body)
    items, open_sub = [], False
    for level, anchor, text in entries:
        link = f'<a href="#{escape(anchor, quote=True)}">{escape(unescape(text))}</a>'
        if level == 2:
            if open_sub:
                items.append("</ol></li>")
                open_sub = False
            items.append(f"<li>{link}")
            items.append("<ol>")
            open_sub = True
        else:
            items.append(f"<li>{link}</li>")
    if open_sub:
        items.append("</ol></li>")
    toc = "<ol>" + "".join(items).replace("<ol></ol>", "") + "</ol>"
    return (head + sep + body).replace("<!--SCALEKIT-TOC-->", toc, 1)


def export_html(notebook: str | Path, *, show_input: bool = False, title: str | None = None) -> str:
    """The executed notebook as one self-contained HTML page (our template; code hidden by default)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="scalekit_report", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = not show_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(nb)
    return add_toc(body)


@contextlib.contextmanager
def _scratch(out: Path, prefix: str):
    """A private folder under ``out/.scratch`` for one render, removed afterwards whatever happens."""
    root = out / ".scratch"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- one batch --------------------------------------------------------------------------
@functools.cache
def _quiet_kernel_manager():
    """A kernel manager whose kernel does not write its own log lines onto our terminal.

    Errors in cells reach papermill as messages (and the executed notebook), not through the
    kernel's stderr; without this every render prints ipykernel's transport warnings.
    """
    import subprocess

    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.setdefault("stderr", subprocess.DEVNULL)
            kw.setdefault("stdout", subprocess.DEVNULL)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


# One warm kernel per worker process: starting a kernel and importing scalekit's stack costs
# about 2 s, half of a small batch's render. Before each notebook the kernel's namespace is
# reset (%reset -f) and its working directory set, so batches share only imported modules.
_WARM: dict[str, Any] = {}


def _shutdown_warm() -> None:
    km = _WARM.pop("km", None)
    if km is not None:
        from jupyter_client.utils import run_sync

        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # the kernel is gone already
            pass


def _warm_kernel(cwd: Path):
    from jupyter_client.utils import run_sync

    km = _WARM.get("km")
    if km is not None and run_sync(km.is_alive)():
        return km
    _shutdown_warm()
    km = _quiet_kernel_manager()(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(cwd))
    _WARM["km"] = km
    if not _WARM.get("finalizer"):
        import atexit
        from multiprocessing import util

        util.Finalize(None, _shutdown_warm, exitpriority=10)  # pool workers skip atexit
        atexit.register(_shutdown_warm)
        _WARM["finalizer"] = True
    return km


def _reset_kernel(km, cwd: Path) -> None:
    from jupyter_client.blocking import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(f"import os; os.chdir({str(cwd)!r})\n%reset -f\n", store_history=False, timeout=60,
                                       output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RenderError(f"could not reset the kernel: {reply['content']}")
    finally:
        kc.stop_channels()


def _renumber(path: Path) -> None:
    """Execution counts from 1, as in a fresh kernel (a warm kernel keeps counting)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    n = 0
    for c in nb.cells:
        if c.cell_type == "code" and c.get("execution_count") is not None:
            n += 1
            c.execution_count = n
            for o in c.outputs:
                if o.get("output_type") == "execute_result":
                    o["execution_count"] = n
    nbformat.write(nb, str(path))


def _execute(notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path, *, warm_cwd: Path | None = None) -> None:
    import papermill as pm

    extra: dict[str, Any] = {"kernel_manager_class": _quiet_kernel_manager()}
    if warm_cwd is not None:
        km = _warm_kernel(warm_cwd)
        _reset_kernel(km, cwd)
        extra = {"km": km}
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3", progress_bar=False,
                            log_output=False, request_save_on_cell_execute=False, cwd=str(cwd),
                            shutdown_kernel="immediate", **extra)  # the notebook is saved; a graceful shutdown only waits
    finally:
        if warm_cwd is not None and output.is_file():
            _renumber(output)


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


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
        summary = json.loads((dest / "summary.json").read_text())
        return BatchResult(job.slug, job.name, "skipped", "inputs unchanged", time.perf_counter() - t0, summary=summary)
    try:
        with _scratch(out, f"{job.slug}-") as tmp:
            nb_out = tmp / "report.ipynb"
            params = {**job.parameters, "summary_path": str(tmp / "summary.json")}
            try:
                _execute(REPORT_NOTEBOOK, nb_out, params, tmp, warm_cwd=out / ".scratch" if warm else None)
            except Exception as exc:  # papermill raises PapermillExecutionError with the cell's error
                msg = _error_text(exc)
                dest.mkdir(parents=True, exist_ok=True)
                link = None
                if nb_out.is_file():
                    html = export_html(nb_out, show_input=True, title=f"FAILED: {job.name}")
                    os.replace(nb_out, dest / "failed.ipynb")
                    atomic_write_text(dest / "failed.html", html)
                    link = f"{job.slug}/failed.html#papermill-error-cell"
                return BatchResult(job.slug, job.name, "failed", msg, time.perf_counter() - t0, link)
            html = export_html(nb_out, title=f"{job.name}: scaling-law report")
            summary_file = tmp / "summary.json"
            if not summary_file.is_file():
                raise RenderError("the notebook ran but wrote no summary.json", batch=job.name)
            summary = json.loads(summary_file.read_text())
            (tmp / "report.html").write_text(html, encoding="utf-8")
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("report.ipynb", "summary.json", "report.html"):  # page last: it links the others
                os.replace(tmp / name, dest / name)
            for stale in ("failed.ipynb", "failed.html"):
                (dest / stale).unlink(missing_ok=True)
            atomic_write_text(dest / KEY_FILE, key + "\n")
            return BatchResult(job.slug, job.name, "rendered", "ok", time.perf_counter() - t0, summary=summary)
    except Exception as exc:  # anything else (export, disk) fails this batch only
        return BatchResult(job.slug, job.name, "failed", f"{_error_text(exc)}\n{traceback.format_exc(limit=3)}",
                           time.perf_counter() - t0)


def render_compare(out: Path, results: list[BatchResult]) -> BatchResult | None:
    """The cross-batch comparison page (compare.html), when two or more batches rendered."""
    paths = [str((out / r.slug / "summary.json").resolve()) for r in results if r.summary is not None]
    if len(paths) < 2 or not COMPARE_NOTEBOOK.is_file():
        return None
    t0 = time.perf_counter()
    with _scratch(out, "compare-") as tmp:
        nb_out = tmp / "compare.ipynb"
        try:
            _execute(COMPARE_NOTEBOOK, nb_out, {"summaries_json": json.dumps(paths)}, tmp)
        except Exception as exc:
            if nb_out.is_file():
                atomic_write_text(out / "compare-failed.html", export_html(nb_out, show_input=True, title="FAILED: comparison"))
            return BatchResult("compare", "comparison", "failed", _error_text(exc), time.perf_counter() - t0,
                               "compare-failed.html#papermill-error-cell")
        atomic_write_text(out / "compare.html", export_html(nb_out, title="Batches compared"))
        os.replace(nb_out, out / "compare.ipynb")
        (out / "compare-failed.html").unlink(missing_ok=True)
        return BatchResult("compare", "comparison", "rendered", "ok", time.perf_counter() - t0)


# --- the site ---------------------------------------------------------------------------
def _progress(i: int, n: int, r: BatchResult, enabled: bool) -> None:
    if enabled:
        print(f"[{i:>{len(str(n))}}/{n}] {r.status:8} {r.name} ({r.seconds:.1f} s)"
              + (f": {r.message.splitlines()[0]}" if r.status == "failed" else ""), file=sys.stderr, flush=True)


def render_site(
    batches: Sequence[str | Path] = (),
    *,
    out: str | Path = "site",
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    parameters: dict[str, Any] | None = None,
    warm_kernels: bool = True,
) -> Site:
    """Render every batch and the index. See the module docstring for the guarantees.

    ``warm_kernels`` (local executor) reuses one kernel per worker process, reset before each
    notebook; False starts a fresh kernel per batch.
    """
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    todo = discover_jobs(batches, base_params=parameters)
    n = len(todo)
    results: list[BatchResult] = []
    if executor == "dask":
        if not scheduler:
            raise RenderError("--executor dask needs --scheduler ADDRESS")
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise RenderError("the dask executor needs dask.distributed: pip install 'scalekit[dask]'") from None
        with Client(scheduler) as client:
            futs = [client.submit(render_batch, j, str(out), force, pure=False, key=f"scalekit-{j.slug}-{time.time_ns()}") for j in todo]
            for i, fut in enumerate(as_completed(futs), 1):
                r = fut.result()
                results.append(r)
                _progress(i, n, r, progress)
    elif executor == "local":
        workers = max(1, min(jobs or os.cpu_count() or 1, n or 1))
        if workers == 1:
            try:
                for i, j in enumerate(todo, 1):
                    r = render_batch(j, out, force, warm=warm_kernels)
                    results.append(r)
                    _progress(i, n, r, progress)
            finally:
                _shutdown_warm()
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed as done

            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = [pool.submit(render_batch, j, out, force, warm_kernels) for j in todo]
                for i, fut in enumerate(done(futs), 1):
                    r = fut.result()
                    results.append(r)
                    _progress(i, n, r, progress)
    else:
        raise RenderError(f"unknown executor {executor!r}; expected 'local' or 'dask'")
    order = {j.slug: k for k, j in enumerate(todo)}
    results.sort(key=lambda r: order[r.slug])
    # A batch that failed now keeps its last good summary on the index, marked failed.
    for r in results:
        if r.summary is None and (out / r.slug / "summary.json").is_file():
            r.summary = json.loads((out / r.slug / "summary.json").read_text())
    fresh = any(r.status == "rendered" for r in results) or force or not (out / "compare.html").is_file()
    compare = render_compare(out, results) if fresh else BatchResult("compare", "comparison", "skipped", "inputs unchanged")
    index = write_index(out, results, compare)
    shutil.rmtree(out / ".scratch", ignore_errors=True)
    return Site(out, index, results, compare)


def write_index(out: Path, results: list[BatchResult], compare: BatchResult | None) -> Path:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from .site import index_context

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("index.html.j2").render(**index_context(results, compare))
    path = out / "index.html"
    atomic_write_text(path, html)
    atomic_write_json(out / "site.json", {"scalekit_version": __version__,
                                          "batches": [{k: v for k, v in asdict(r).items() if k != "summary"} for r in results]})
    return path
