"""The site: every batch rendered (in parallel, or on a Dask cluster), then the index and the comparison.

One run at a time writes into an output folder (a lock, :func:`site_lock`); each run works in a
scratch folder of its own and removes only that. The index and the comparison are rebuilt from
the summaries on disk, so they list every batch the site holds and agree with each other, also
after an interrupted run, a run naming fewer batches, or a batch folder deleted by hand.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import RenderError
from ..pipeline.summary import SummaryError, load_summary
from .index import write_index
from .jobs import BatchResult, Job, assign_slugs, discover_jobs
from .kernels import shutdown_warm
from .lifetime import die_with_parent
from .publish import SCRATCH_PREFIX, OutputError, output_error, render_batch, render_compare
from .resources import report_notebook, report_template_files

__all__ = ["LOCK_FILE", "Site", "render_site", "site_lock"]

LOCK_FILE = ".scalekit.lock"
DASK_CONNECT_TIMEOUT = 5.0  # seconds to reach the scheduler


@dataclass
class Site:
    out: Path
    index: Path
    results: list[BatchResult]
    compare: BatchResult | None = None

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results) and (self.compare is None or self.compare.status != "failed")


def _progress(i: int, n: int, r: BatchResult, enabled: bool) -> None:
    if enabled:
        print(f"[{i:>{len(str(n))}}/{n}] {r.status:8} {r.name} ({r.seconds:.1f} s)"
              + (f": {r.message.splitlines()[0]}" if r.status == "failed" else ""), file=sys.stderr, flush=True)


@contextlib.contextmanager
def site_lock(out: Path, wait: float = 10.0) -> Iterator[None]:
    """Hold the output folder for this run: a second run waits up to ``wait`` seconds, then fails saying who holds it.

    Two runs into one folder would delete each other's scratch files and overwrite each other's
    index. The lock is an advisory ``flock`` on ``out/.scalekit.lock``: the operating system
    releases it when the holder dies, so a killed run never blocks the next one.
    """
    import fcntl

    path = out / LOCK_FILE
    try:  # O_NOFOLLOW: a link planted as the lock must not make us truncate and write its target
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RenderError(f"{path} is a symbolic link; scalekit never follows links inside the output folder: "
                              "remove it (it is scalekit's own lock file)") from None
        raise output_error(exc, out) or RenderError(f"cannot create {path}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                    raise RenderError(f"another scalekit run is writing into {out} ({holder}); wait for it to finish "
                                      "or pass another --out") from None
                time.sleep(0.2)
        with contextlib.suppress(OSError):  # who holds it, for the message above; a full disk must not stop us here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _previous_slugs(out: Path) -> dict[str, str]:
    """input id -> slug from the site's site.json (empty when absent or unreadable: slugs then come from names)."""
    try:
        d = json.loads((out / "site.json").read_text(encoding="utf-8"))
        inputs = d.get("inputs") if isinstance(d, dict) else None
        return {str(k): str(v) for k, v in inputs.items()} if isinstance(inputs, dict) else {}
    except (OSError, ValueError):
        return {}


def _on_disk(out: Path, exclude: set[str]) -> list[BatchResult]:
    """Batches of earlier runs still on the site (a folder with a readable summary.json), by slug."""
    kept = []
    for d in sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
                    and p.name not in exclude):
        if not (d / "summary.json").is_file():
            continue
        try:
            s = load_summary(d / "summary.json")
        except SummaryError:
            continue
        kept.append(BatchResult(d.name, s.name, "skipped", "not named in this run; kept from an earlier run",
                                summary=s, error_link=None))
    return kept


def _worker_init(parent: int) -> None:
    die_with_parent(parent)  # kill -9 of the renderer takes the pool (and so its kernels) with it


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RenderError(f"--out {out} is a file, not a folder; pass a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, out) or RenderError(f"cannot create the output folder {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        code = errno.EROFS if os.statvfs(out).f_flag & os.ST_RDONLY else errno.EACCES
        raise output_error(OSError(code, os.strerror(code), str(out)), out) or RenderError(str(out))


def _no_links(out: Path, todo: list[Job]) -> None:
    """Refuse to render into a batch folder that is a symbolic link: its target lies outside the site, and the
    report would be written there."""
    for j in todo:
        if (out / j.slug).is_symlink():
            raise RenderError(f"{out / j.slug} (the folder of batch {j.name!r}) is a symbolic link to "
                              f"{os.readlink(out / j.slug)}; scalekit never writes through links inside the output "
                              "folder: remove the link, or pass another --out")


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
    lock_wait: float = 10.0,
) -> Site:
    """Render every batch and the index. See the module docstring for the guarantees.

    ``warm_kernels`` (local executor) reuses one kernel per worker process, reset before each
    notebook; False starts a fresh kernel per batch. A second run into the same ``out`` waits
    up to ``lock_wait`` seconds for the first, then fails.
    """
    out = Path(out).resolve()
    report_notebook()  # a missing notebook or template is one error naming where it looked, not a failure per batch
    report_template_files()
    todo = discover_jobs(batches, base_params=parameters)  # a bad path fails here, before any folder or kernel
    _prepare(out)
    with site_lock(out, lock_wait):
        previous = _previous_slugs(out)
        ids = {j.input_id for j in todo}
        # Folders of other inputs the site holds are taken: a new batch named like one never overwrites it.
        occupied = {s for i, s in previous.items() if i not in ids and (out / s).is_dir()}
        todo = assign_slugs(todo, previous, occupied)
        _no_links(out, todo)
        for stale in out.glob(SCRATCH_PREFIX + "*"):  # left by a killed run: scalekit's by name, and no run holds the lock
            shutil.rmtree(stale, ignore_errors=True)
        try:
            scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=out))
        except OSError as exc:
            raise output_error(exc, out) or RenderError(f"cannot write into {out}: {exc.strerror}") from None
        try:
            results = _render_all(todo, out, scratch, force, executor, scheduler, jobs, progress, warm_kernels)
            return _finish(out, todo, results, previous, scratch, force)
        except OSError as exc:
            raise output_error(exc, out) or exc from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _render_all(todo: list[Job], out: Path, scratch: Path, force: bool, executor: str, scheduler: str | None,
                jobs: int | None, progress: bool, warm_kernels: bool) -> list[BatchResult]:
    n = len(todo)
    results: list[BatchResult] = []
    if executor == "dask":
        if not scheduler:
            raise RenderError("--executor dask needs --scheduler ADDRESS")
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise RenderError("the dask executor needs dask.distributed: pip install 'scalekit[dask]'") from None
        try:  # a scheduler that is not there: one line within seconds, not a traceback after distributed's 30 s
            client: Any = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]  # no annotations
        except (OSError, ValueError) as exc:
            raise RenderError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({str(exc).splitlines()[0]}); "
                              "start one (dask scheduler) or pass its address, e.g. tcp://host:8786") from None
        with client:
            futs = [client.submit(render_batch, j, str(out), force, False, str(scratch), pure=False,
                                  key=f"scalekit-{j.slug}-{time.time_ns()}") for j in todo]
            for i, fut in enumerate(as_completed(futs), 1):  # type: ignore[no-untyped-call]  # nor its as_completed
                r = fut.result()
                results.append(r)
                _progress(i, n, r, progress)
    elif executor == "local":
        workers = max(1, min(jobs or os.cpu_count() or 1, n or 1))
        if workers == 1:
            try:
                for i, j in enumerate(todo, 1):
                    r = render_batch(j, out, force, warm_kernels, scratch)
                    results.append(r)
                    _progress(i, n, r, progress)
            finally:
                shutdown_warm()
        else:
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures import as_completed as done

            with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
                futs = [pool.submit(render_batch, j, out, force, warm_kernels, scratch) for j in todo]
                try:
                    for i, fut in enumerate(done(futs), 1):
                        r = fut.result()
                        results.append(r)
                        _progress(i, n, r, progress)
                except OutputError:
                    for f in futs:
                        f.cancel()
                    raise
    else:
        raise RenderError(f"unknown executor {executor!r}; expected 'local' or 'dask'")
    order = {j.slug: k for k, j in enumerate(todo)}
    results.sort(key=lambda r: order[r.slug])
    return results


def _finish(out: Path, todo: list[Job], results: list[BatchResult], previous: dict[str, str], scratch: Path,
            force: bool) -> Site:
    # A batch that failed now keeps its last good summary on the index, marked failed.
    for r in results:
        if r.summary is None and (out / r.slug / "summary.json").is_file():
            try:
                r.summary = load_summary(out / r.slug / "summary.json")
            except SummaryError:
                r.summary = None
    kept = _on_disk(out, {r.slug for r in results})
    listed = results + kept
    summaries = [out / r.slug / "summary.json" for r in listed if r.summary is not None]
    compare = render_compare(out, summaries, scratch, force)
    slugs = {j.input_id: j.slug for j in todo}
    on_site = {r.slug for r in listed}
    inputs = {i: s for i, s in previous.items() if s in on_site and s not in slugs.values()}
    inputs.update(slugs)
    index = write_index(out, listed, compare, inputs)
    return Site(out, index, results, compare)
