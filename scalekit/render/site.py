"""The site: every batch rendered (in parallel, or on a Dask cluster), then the index and the comparison."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import RenderError
from ..pipeline.summary import SummaryError, load_summary
from .index import write_index
from .jobs import BatchResult, discover_jobs
from .kernels import shutdown_warm
from .publish import render_batch, render_compare

__all__ = ["Site", "render_site"]


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
    todo = discover_jobs(batches, base_params=parameters)  # a bad path fails here, before any folder or kernel
    out.mkdir(parents=True, exist_ok=True)
    n = len(todo)
    results: list[BatchResult] = []
    if executor == "dask":
        if not scheduler:
            raise RenderError("--executor dask needs --scheduler ADDRESS")
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise RenderError("the dask executor needs dask.distributed: pip install 'scalekit[dask]'") from None
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]  # distributed's Client has no annotations
            futs = [client.submit(render_batch, j, str(out), force, pure=False, key=f"scalekit-{j.slug}-{time.time_ns()}")
                    for j in todo]
            for i, fut in enumerate(as_completed(futs), 1):  # type: ignore[no-untyped-call]  # nor its as_completed
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
                shutdown_warm()
        else:
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures import as_completed as done

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
            try:
                r.summary = load_summary(out / r.slug / "summary.json")
            except SummaryError:
                r.summary = None
    fresh = any(r.status == "rendered" for r in results) or force or not (out / "compare.html").is_file()
    compare = render_compare(out, results) if fresh else BatchResult("compare", "comparison", "skipped", "inputs unchanged")
    index = write_index(out, results, compare)
    shutil.rmtree(out / ".scratch", ignore_errors=True)
    return Site(out, index, results, compare)


