"""A known scaling law and a ladder of runs that follow it, for every source test.

Each run (N, D) is logged at STEPS; at step s it has seen D * s / STEPS[-1] tokens and its loss is
the law at (N, tokens seen), so the final checkpoints follow L(N, D) exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import scalekit

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
SIZES = (2e7, 1e8, 5e8, 2e9)
DATAS = (1e9, 1e10, 1e11)
STEPS = (250, 500, 750, 1000)


def law(n: float, d: float) -> float:
    return float(E + A / n**ALPHA + B / d**BETA)


def human(x: float) -> str:
    """125M / 2B style, as run names write sizes."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:g}{unit}"
    return f"{x:g}"


@dataclass(frozen=True)
class Run:
    name: str
    n: float
    d: float

    def points(self) -> Iterator[tuple[int, float, float]]:
        """(step, tokens seen, eval loss) at each logged step."""
        for s in STEPS:
            seen = self.d * s / STEPS[-1]
            yield s, seen, law(self.n, seen)

    def train_loss(self, step: int) -> float:
        return 1.05 * law(self.n, self.d * step / STEPS[-1])


def ladder() -> list[Run]:
    return [Run(f"{human(n)}-{human(d)}", n, d) for n in SIZES for d in DATAS]


def expected_frame() -> pd.DataFrame:
    """What every reader should give back for the ladder: run, step, eval_loss (sorted by run, step)."""
    rows = [{"run": r.name, "step": s, "eval_loss": loss} for r in ladder() for s, _, loss in r.points()]
    return pd.DataFrame(rows).sort_values(["run", "step"]).reset_index(drop=True)


def assert_law_recovered(frame: pd.DataFrame, metric: str, rel: float = 0.03, **config: object) -> scalekit.FitResult:
    """Load the frame as a batch, fit L(N, D), and check the exponents against the law that made it."""
    batch = scalekit.load_batch(frame, **config)
    assert batch.runs == len(SIZES) * len(DATAS)
    fit = scalekit.fit_law(batch, metric=metric, n_boot=0)
    assert fit.params["alpha"] == pytest.approx(ALPHA, rel=rel)
    assert fit.params["beta"] == pytest.approx(BETA, rel=rel)
    return fit


def same_values(got: np.ndarray, want: np.ndarray, *, float32: bool = False) -> None:
    """Values equal to what was logged (to float32 precision for writers that store float32)."""
    np.testing.assert_allclose(got, want, rtol=2e-7 if float32 else 0, atol=0)
