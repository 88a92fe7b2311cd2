"""What the "What to train next" section adds to analyze(): the plans' time per example batch (median of 5).

    python benchmarks/bench_plan_analyze.py
"""

from __future__ import annotations

import statistics
import time

import scalekit
from scalekit.examples import example_source
from scalekit.pipeline.plan_summary import plan_block
from scalekit.pipeline.planning import plans


def main() -> None:
    for name in ("behavior", "perception"):
        frame, cfg = example_source(name)
        b = scalekit.load_batch(frame, **cfg)
        t0 = time.perf_counter()
        a = scalekit.analyze(b, n_boot=200, plan_allowance=0)
        whole = time.perf_counter() - t0
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            plan_block(plans(b, a.metrics, a.options.replace(plan_allowance=1.0)))  # the plans and their summary.json block, shapes included
            times.append(time.perf_counter() - t0)
        print(f"{name:10}: {len(a.metrics)} metric(s); plans + summary block, median {statistics.median(times):.2f} s "
              f"(analyze without them, n_boot=200: {whole:.1f} s)")


if __name__ == "__main__":
    main()
