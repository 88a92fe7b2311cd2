"""The literature's laws over noise seeds: how often each recovers its synthetic truth, and the interval coverage.

``tests/laws/test_literature_laws.py`` holds each law to one seed of 1% noise; this repeats its batches over many
seeds (same grids, same truths) and prints, per law, how often every exponent is within 5% of the truth, the share
of 95% intervals (all parameters) that hold the truth, and the median seconds of a fit with 100 resamples.

    PYTHONPATH=. python benchmarks/bench_literature_laws.py [--seeds 10] [--noise 0.01]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import scalekit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.laws.test_literature_laws import CASES, frame_for  # the test's batches: one definition


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    print(f"{'law':20s} {'exponents within 5%':>20s} {'95% coverage':>13s} {'fit s':>7s}")
    for name in args.only or sorted(CASES):
        truth, _, _, exponents = CASES[name]
        ok = held = total = 0
        secs = []
        for seed in range(args.seeds):
            df, variables = frame_for(name, noise=args.noise, seed=seed)
            batch = scalekit.load_batch(df, variables=variables) if variables else scalekit.load_batch(df)
            t0 = time.perf_counter()
            fit = scalekit.fit_law(batch, form=name, n_boot=100, seed=0)
            secs.append(time.perf_counter() - t0)
            ok += all(abs(fit.params[k] - truth[k]) <= 0.05 * abs(truth[k]) for k in exponents)
            assert fit.ci is not None
            held += sum(fit.ci[k][0] <= v <= fit.ci[k][1] for k, v in truth.items())
            total += len(truth)
        print(f"{name:20s} {ok:>14d} / {args.seeds:<3d} {held / total:>13.2f} {statistics.median(secs):>7.2f}", flush=True)


if __name__ == "__main__":
    main()
