"""What the "What to train next" section adds to a report: the plans' time in analyze() and the figures' drawing
(as the report embeds them, SVG), per example batch (median of 5).

    python benchmarks/bench_plan_analyze.py
"""

from __future__ import annotations

import statistics
import time

import scalekit
from scalekit.examples import example_source
from scalekit.pipeline.plan_summary import plan_block
from scalekit.pipeline.planning import plans
from scalekit.report.figures import plan_figure
from scalekit.report.svg import figure_html


def main() -> None:
    for name in ("behavior", "perception"):
        frame, cfg = example_source(name)
        b = scalekit.load_batch(frame, **cfg)
        t0 = time.perf_counter()
        a = scalekit.analyze(b, n_boot=200, plan_allowance=0)
        whole = time.perf_counter() - t0
        times, draw = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            ps = plans(b, a.metrics, a.options.replace(plan_allowance=1.0))
            plan_block(ps)  # the summary.json block, shapes included
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for p in ps.values():
                figure_html(plan_figure(p, b))
            draw.append(time.perf_counter() - t0)
        print(f"{name:10}: {len(a.metrics)} metric(s); plans + summary block, median {statistics.median(times):.2f} s; "
              f"figures {statistics.median(draw):.2f} s (analyze without plans, n_boot=200: {whole:.1f} s)")


if __name__ == "__main__":
    main()
