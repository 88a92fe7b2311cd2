"""Report-rendering benchmark: one batch end to end, 20 batches with --jobs 2, a no-op re-run, page weight.

Prints medians of several runs and ratios against reference runs in the same process: every
render against the floor (a bare papermill + nbconvert run of a one-cell notebook: a fresh
kernel, one cell, the stock HTML exporter), 20 batches in parallel against the same 20 rendered
one at a time, and the no-op re-run against a full render. Page weights are the bytes of each
report.html of the behavior example (target < 1 MB).

    python benchmarks/bench_report.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scalekit.examples import perception_frame
from scalekit.render.jobs import discover_jobs
from scalekit.render.publish import render_batch
from scalekit.render.site import render_site

PERCEPTION_YAML = "metrics:\n  - {name: map, direction: max, bound: 1}\nignore: [data_fraction]\n"


def write_batches(folder: Path, n: int) -> list[Path]:
    """n single-metric batches like the perception example (one backbone family each, varied seeds)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        df = perception_frame(seed=100 + i)
        df = df[df["version"] == ("v1" if i % 2 == 0 else "v2")].drop(columns=["version"])
        p = folder / f"batch{i:02d}.csv"
        df.to_csv(p, index=False)
        p.with_suffix(".yaml").write_text(f"name: batch {i:02d}\n" + PERCEPTION_YAML)
        out.append(p)
    return out


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bare_floor(folder: Path) -> None:
    """papermill + nbconvert on a one-cell notebook: what any notebook-to-HTML report costs at least."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    folder.mkdir(parents=True, exist_ok=True)
    src, dst = folder / "one.ipynb", folder / "one.out.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(src))
    pm.execute_notebook(str(src), str(dst), kernel_name="python3", progress_bar=False, log_output=False, cwd=str(folder))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(str(dst), as_version=4))
    (folder / "one.html").write_text(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        one = write_batches(tmp / "one", 1)
        many = write_batches(tmp / "many", 20)

        floor = [timed(lambda: bare_floor(tmp / "floor")) for _ in range(args.repeats)]
        single = [timed(lambda: render_site(one, out=tmp / "s1", force=True, jobs=1, progress=False)) for _ in range(args.repeats)]
        # The behavior example as `scalekit report` renders it (embedded example, default options), in a fresh kernel
        # like the floor's.
        job = next(j for j in discover_jobs([]) if j.slug == "behavior")
        behav = [timed(lambda: render_batch(job, tmp / "s2", force=True)) for _ in range(args.repeats)]
        par = [timed(lambda: render_site(many, out=tmp / "s3", force=True, jobs=2, progress=False)) for _ in range(args.repeats)]
        serial = timed(lambda: render_site(many, out=tmp / "s4", force=True, jobs=1, progress=False))
        noop = [timed(lambda: render_site(many, out=tmp / "s3", jobs=2, progress=False)) for _ in range(args.repeats)]
        weights = {p.parent.name: p.stat().st_size for p in sorted((tmp / "s2").glob("*/report.html"))}

    mf, m1, mb, mp, mn = (statistics.median(x) for x in (floor, single, behav, par, noop))
    per_batch = mp * 2 / 20  # wall time per batch on each of the 2 workers
    print(f"floor: bare papermill + nbconvert, one-cell notebook, median of {args.repeats}: {mf:6.2f} s")
    print(f"one batch end to end (perception-like: 1 metric, 30 runs), median of {args.repeats}: {m1:6.2f} s  "
          f"({m1 / mf:.2f}x the floor)")
    print(f"behavior example end to end (3 metrics, 480 checkpoints), median of {args.repeats}: {mb:6.2f} s  "
          f"(target <= 5 s; {mb / mf:.2f}x the floor)")
    print(f"20 batches, --jobs 2, median of {args.repeats}:                  {mp:6.2f} s  (target <= 40 s); "
          f"{per_batch:.2f} s per batch per worker = {per_batch / mf:.2f}x the floor (aim <= 2x)")
    print(f"20 batches, --jobs 1 (reference, same process):            {serial:6.2f} s  -> parallel speed-up {serial / mp:.2f}x")
    print(f"no-op re-run of the 20, median of {args.repeats}:                {mn:6.2f} s  (target <= 2 s); {mp / mn:.0f}x faster than rendering")
    for slug, size in weights.items():
        print(f"page weight {slug}/report.html: {size / 1e6:.2f} MB  (target < 1 MB)")


if __name__ == "__main__":
    main()
