"""Report-rendering benchmark: one batch end to end, 20 batches with --jobs 2, and a no-op re-run.

Prints medians of several runs and ratios against reference runs in the same process:
20 batches in parallel against the same 20 rendered one at a time, and the no-op re-run
against a full render.

    python benchmarks/bench_report.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from scalekit.examples import behavior_frame, perception_frame
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


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = write_batches(tmp / "one", 1)
        beh = tmp / "beh" / "behavior.csv"
        beh.parent.mkdir()
        behavior_frame().to_csv(beh, index=False)
        beh.with_suffix(".yaml").write_text("metrics: [eval_loss, min_ade, train_loss]\nignore: []\n")
        many = write_batches(tmp / "many", 20)

        single = [timed(lambda: render_site(one, out=tmp / "s1", force=True, jobs=1, progress=False)) for _ in range(args.repeats)]
        behav = [timed(lambda: render_site([beh], out=tmp / "s2", force=True, jobs=1, progress=False)) for _ in range(args.repeats)]
        par = [timed(lambda: render_site(many, out=tmp / "s3", force=True, jobs=2, progress=False)) for _ in range(args.repeats)]
        serial = timed(lambda: render_site(many, out=tmp / "s4", force=True, jobs=1, progress=False))
        noop = [timed(lambda: render_site(many, out=tmp / "s3", jobs=2, progress=False)) for _ in range(args.repeats)]

    m1, mb, mp, mn = (statistics.median(x) for x in (single, behav, par, noop))
    print(f"one batch end to end (perception-like: 1 metric, 30 runs), median of {args.repeats}: {m1:6.2f} s  (target <= 5 s)")
    print(f"one batch end to end (behavior example: 3 metrics, 480 checkpoints), median of {args.repeats}: {mb:6.2f} s")
    print(f"20 batches, --jobs 2, median of {args.repeats}:                  {mp:6.2f} s  (target <= 40 s)")
    print(f"20 batches, --jobs 1 (reference, same process):            {serial:6.2f} s  -> parallel speed-up {serial / mp:.2f}x")
    print(f"no-op re-run of the 20, median of {args.repeats}:                {mn:6.2f} s  (target <= 2 s); {mp / mn:.0f}x faster than rendering")


if __name__ == "__main__":
    main()
