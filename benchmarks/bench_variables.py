"""Laws in any variables: per variable family, what the report shows and the held-out error of the chosen law.

Each family's batch is generated from a law of the literature (illustrative parameters where the paper's fitted ones
are for another setup) with 1% multiplicative noise, declared with ``variables:`` and, where scalekit has no built-in
form for it, the law spelled as a formula (``law:``). ``scalekit.analyze`` runs what a report runs (``form="auto"``:
the backtest chooses among the built-in forms that read every varying declared variable and the batch's own law).

Prints one row per family: the variables declared, the law chosen, the backtest windows, the chosen law's median and
mean absolute relative error on the held-out runs (and its 95% coverage), and what the report shows for it.

    python benchmarks/bench_variables.py [--seed 0] [--n-boot 100]
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import scalekit
from scalekit.analyses.variables import shows_variables
from scalekit.laws.forms import get_form

NOISE = 0.01


def noisy(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    return y * np.exp(NOISE * rng.standard_normal(np.shape(y)))


def repeated(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Muennighoff et al. 2023, their fitted data-constrained law (built-in form data_constrained)."""
    form = get_form("data_constrained")
    th = form.internal({"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.387,
                        "R_N_star": 5.309})
    rows = [(N, ep * U, U) for N in np.geomspace(1e8, 3e9, 6) for U in (2e9, 1e10) for ep in (1, 2, 4, 8, 16, 40)]
    x = np.array(rows)
    y = noisy(rng, np.exp(form.log_predict(th[None], np.log(x))[0]))
    return pd.DataFrame({"params": x[:, 0], "tokens": x[:, 1], "unique_tokens": x[:, 2], "loss": y}), {}


def experts(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Clark et al. 2022's unified routed-LM law, log L = d + a log N + b log E + c log N log E (no data size)."""
    N, E = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 6), [1, 2, 4, 8, 16, 32, 64])]
    y = np.exp(2.54 - 0.08 * np.log(N) - 0.4 * np.log(E) + 0.015 * np.log(N) * np.log(E))
    law = {"name": "clark", "formula": "exp(d + a * log(N) + b * log(E) + c * log(N) * log(E))"}
    return (pd.DataFrame({"params": N, "num_experts": E, "loss": noisy(rng, y)}),
            {"variables": {"N": "params", "E": "num_experts"}, "law": law})


def vocabulary(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Tao et al. 2024: L = E + A1 / N_nv^alpha1 + A2 / N_v^alpha2 + B / D^beta (N_v: vocabulary parameters)."""
    N, V, D = [a.ravel() for a in np.meshgrid(np.geomspace(3e7, 1e9, 4), np.geomspace(4e6, 2.6e8, 4), np.geomspace(2e9, 1e11, 4))]
    y = 1.7 + 480 / N ** 0.33 + 40 / V ** 0.18 + 400 / D ** 0.28
    law = {"name": "tao", "formula": "L0 + A1 * N^-alpha1 + A2 * V^-alpha2 + Bd * D^-beta"}
    return (pd.DataFrame({"params": N, "vocab_params": V, "tokens": D, "loss": noisy(rng, y)}),
            {"variables": {"V": "vocab_params"}, "law": law})


def lr_batch(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A loss surface in (N, D, lr, B) whose optimum follows power laws in N and D (DeepSeek LLM 2024, StepLaw 2025):
    every run of the sweep is a point, not only the best per cell."""
    rows = []
    for N, D in itertools.product(np.geomspace(3e7, 1e9, 4), np.geomspace(2e9, 5e10, 3)):
        lr_opt, b_opt = 0.3 * N ** -0.25, 0.01 * D ** 0.5
        for lr, B in itertools.product(lr_opt * np.array([0.25, 0.5, 1, 2, 4]), b_opt * np.array([0.25, 1, 4])):
            L = 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28 + 0.02 * np.log(lr / lr_opt) ** 2 + 0.01 * np.log(B / b_opt) ** 2
            rows.append({"params": N, "tokens": D, "lr": lr, "batch_size": B, "loss": L})
    df = pd.DataFrame(rows)
    df["loss"] = noisy(rng, df["loss"].to_numpy())
    law = {"name": "lr_bs_surface",
           "formula": "L0 + A * N^-alpha + Bd * D^-beta + k * log(lr / (c * N^-p))^2 + m * log(B / (g * D^q))^2"}
    return df, {"variables": {"lr": "lr", "B": "batch_size"}, "law": law}


def mixture(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Ye et al. 2024's data-mixing law for one domain's loss: L = c + k exp(t1 r1 + t2 r2 + t3 r3)."""
    grid = [(a, b, 1 - a - b) for a in np.arange(0.05, 0.91, 0.1) for b in np.arange(0.05, 0.91, 0.1) if 1 - a - b >= 0.05]
    r = np.array(grid)
    y = 1.9 + 0.8 * np.exp(-2.0 * r[:, 0] - 0.7 * r[:, 1] - 0.2 * r[:, 2])
    df = pd.DataFrame({"params": 1e9, "tokens": 2e10, "web": r[:, 0], "code": r[:, 1], "books": r[:, 2], "loss": noisy(rng, y)})
    law = {"name": "ye", "formula": "c + k * exp(t1 * r1 + t2 * r2 + t3 * r3)"}
    return df, {"variables": {"r": ["web", "code", "books"]}, "law": law}


def finetune(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Lin et al. 2024's rectified fine-tuning law along one curve: L(D) = B / (D_l + D^beta) + E, one model size."""
    D = np.geomspace(1e5, 1e8, 16)
    y = 40.0 / (200.0 + D ** 0.45) + 1.1
    return (pd.DataFrame({"params": 7e8, "tokens": D, "loss": noisy(rng, y)}),
            {"law": {"name": "lin", "formula": "B / (D_l + D^beta) + E"}})


def parallel(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Chen et al. 2025's parallel scaling law: L = (A / (N (k log P + 1)))^alpha + E."""
    N, P = [a.ravel() for a in np.meshgrid(np.geomspace(5e8, 4.4e9, 6), [1, 2, 4, 8])]
    y = (1.6e8 / (N * (0.4 * np.log(P) + 1))) ** 0.15 + 1.4
    law = {"name": "chen", "formula": "(A / (N * (k * log(P) + 1)))^alpha + E0"}
    return (pd.DataFrame({"params": N, "streams": P, "tokens": 4.2e10, "loss": noisy(rng, y)}),
            {"variables": {"P": "streams"}, "law": law})


def precision(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Kumar et al. 2024: post-precision effective parameters N_eff = N (1 - exp(-bits / gamma)) in the additive law."""
    N, D, bits = [a.ravel() for a in np.meshgrid(np.geomspace(3e7, 1e9, 4), np.geomspace(2e9, 1e11, 4), [3, 4, 6, 8, 16])]
    y = 400 * (N * (1 - np.exp(-bits / 2.7))) ** -0.34 + 410 * D ** -0.28 + 1.7
    law = {"name": "kumar", "formula": "A * (N * (1 - exp(-bits / gamma)))^-alpha + Bd * D^-beta + L0"}
    return (pd.DataFrame({"params": N, "tokens": D, "bits": bits, "loss": noisy(rng, y)}),
            {"variables": {"bits": "bits"}, "law": law})


FAMILIES: dict[str, Callable[[np.random.Generator], tuple[pd.DataFrame, dict[str, Any]]]] = {
    "repeated data": repeated, "MoE experts": experts, "vocabulary": vocabulary, "lr / batch size": lr_batch,
    "data mixture": mixture, "fine-tuning (one curve)": finetune, "parallel streams": parallel, "precision": precision,
}


def shows(an: Any) -> str:
    """What the report shows for the metric, in a few words."""
    ma, bl = an.primary, next(iter(an.bottom_lines.values()))
    law = ma.law
    parts = [f"law in {', '.join(law.method.get('variables') or law.form.variables)}" if law is not None else "no law"]
    if law is not None and shows_variables(law, an.batch):
        parts.append(f"{len(law.method.get('variables') or law.form.variables)} slice panels")
    if bl.along:
        parts.append("predictions along " + ", ".join(dict.fromkeys(p["variable"] for p in bl.along)))
    if ma.skipped:
        parts.append("N/D answers skipped (no D)")
    elif bl.costs or bl.optima:
        parts.append("N/D answers" + (f" at {', '.join(f'{k}={v:.3g}' for k, v in bl.held_at.items())}" if bl.held_at else ""))
    return "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-boot", type=int, default=100)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"{'family':<24} {'declared':<10} {'chosen':<16} {'median |err|':>12} {'mean |err|':>10} {'cover':>6} "
          f"{'s':>5}  windows | report shows")
    for i, (family, make) in enumerate(FAMILIES.items()):
        df, config = make(np.random.default_rng(args.seed + i))
        t0 = time.perf_counter()
        batch = scalekit.load_batch(df, name=family, **config)
        an = scalekit.analyze(batch, n_boot=args.n_boot, n_boot_optimal=20, n_boot_backtest=50, checks=False)
        dt = time.perf_counter() - t0
        sel = an.primary.selection
        row = next((r for r in sel.rows if r.form == sel.chosen), None) if sel else None
        declared = ",".join(k for k in batch.variables if k not in ("N", "D")) or "-"

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{v:.2%}"

        wins = ", ".join(w["window"] for w in sel.windows) if sel else "-"
        print(f"{family:<24} {declared:<10} {sel.chosen if sel else None!s:<16} "
              f"{pct(row.median_abs_rel_error if row else None):>12} {pct(row.abs_rel_error if row else None):>10} "
              f"{pct(row.coverage if row else None):>6} {dt:>5.1f}  {wins} | {shows(an)}")


if __name__ == "__main__":
    main()
