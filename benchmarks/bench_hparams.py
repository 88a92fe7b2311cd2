"""Optimal learning rate and batch size on real data: the StepLaw MoE sweep and the published laws.

Prints
* the three estimates' laws on the StepLaw MoE sweep (708 runs, 16 cells; ../shared/data/steplaw_moe) with 95%
  intervals, beside the published dense law (lr* = 1.79 N^-0.713 D^0.307, B* = 0.58 D^0.571 tokens);
* leave one cell out: the loss at each held-out cell's predicted (lr*, B*), read from that cell's bowl, against
  its best run (median and worst over the 16 cells) for each estimate;
* the trends compared with Porian et al. (2024) and the DeepSeek LLM laws they draw (../shared/data/porian_hparams,
  published laws only): exponents of lr* and B* in N along D = 20 N, and the values at Porian's reference N = 108M;
* the median time of ``hyperparam_laws`` (three estimates, 200 bootstrap resamples) on the sweep.

    python benchmarks/bench_hparams.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scalekit.analyses.hparam_laws import HyperparamLaws, fit_bowl, hyperparam_laws

DATA = Path(os.environ.get("SCALEKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
STEPLAW = {"lr": (1.79, -0.713, 0.307), "B": (0.58, 0.0, 0.571)}  # dense law, B in tokens


def laws_of(res: HyperparamLaws) -> dict[str, dict[str, tuple[float, float, float, dict[str, tuple[float, float]]]]]:
    """estimate -> quantity -> (coef, N exponent, D exponent, ci by exponent name)."""
    out: dict[str, dict[str, tuple[float, float, float, dict[str, tuple[float, float]]]]] = {}
    for est, lr, B in (("bowls", res.lr, res.B), ("near-optimal", res.lr_near, res.B_near)):
        out[est] = {}
        for q, law in (("lr", lr), ("B", B)):
            if law is not None:
                p = law.fit.params
                out[est][q] = (p["c"], p["a"], p.get("b", 0.0), {"N": law.ci.get("a", (np.nan,) * 2),
                                                                   "D": law.ci.get("b", (np.nan,) * 2)})
    s = res.surface
    if s is not None:
        p, ci = s.fit.params, s.fit.ci or {}
        out["surface"] = {q: (p[f"c_{q}"], p[f"a_{q}"], p[f"b_{q}"], {"N": ci.get(f"a_{q}", (np.nan,) * 2),
                                                                      "D": ci.get(f"b_{q}", (np.nan,) * 2)})
                          for q in ("lr", "B")}
    return out


def iv(v: float, ci: tuple[float, float]) -> str:
    return f"{v:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    path = DATA / "steplaw_moe" / "steplaw_moe.csv"
    if not path.exists():
        raise SystemExit(f"no data at {path}: set SCALEKIT_DATA")
    raw = pd.read_csv(path).rename(columns={"params": "N", "tokens": "D"})

    times = []
    res = None
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = hyperparam_laws(raw, "smooth_loss", n_boot=200, seed=0)
        times.append(time.perf_counter() - t)
    assert res is not None
    laws = laws_of(res)
    print("StepLaw MoE sweep, 708 runs in 16 cells (N = active parameters, D tokens, B tokens): 95% intervals, "
          "200 bootstrap resamples")
    print(f"{'estimate':<14}{'lr* N exp':>26}{'lr* D exp':>26}{'B* N exp':>26}{'B* D exp':>26}")
    for est, q in laws.items():
        print(f"{est:<14}" + "".join(f"{iv(q[k][1 + j], q[k][3]['ND'[j]]):>26}" for k in ("lr", "B") for j in (0, 1)))
    print(f"{'published':<14}{STEPLAW['lr'][1]:>+26.3f}{STEPLAW['lr'][2]:>+26.3f}{STEPLAW['B'][1]:>+26.3f}"
          f"{STEPLAW['B'][2]:>+26.3f}   (dense law, StepLaw 2025)")
    inside = {est: [lo <= pub <= hi for (k, j, pub) in (("lr", "D", STEPLAW["lr"][2]), ("B", "D", STEPLAW["B"][2]))
                    for lo, hi in [q[k][3][j]]] for est, q in laws.items()}
    print("published D exponents (lr*, B*) inside the interval: " + ", ".join(f"{e} {v}" for e, v in inside.items()))

    gaps: dict[str, list[float]] = {"bowls": [], "near-optimal": [], "surface": [], "published": [], "published, N total": []}
    for (N, D), cell in raw.groupby(["N", "D"]):
        rest = raw[~((raw["N"] == N) & (raw["D"] == D))]
        r = hyperparam_laws(rest, "smooth_loss", n_boot=0)
        bowl = fit_bowl(cell, "smooth_loss")
        best = cell["smooth_loss"].min()
        s = r.surface
        assert r.B is not None and r.lr_near is not None and r.B_near is not None and s is not None
        picks = {"bowls": (r.lr.predict(N, D), r.B.predict(N, D)),
                 "near-optimal": (r.lr_near.predict(N, D), r.B_near.predict(N, D)),
                 "surface": (s.optimum(N, D, "lr"), s.optimum(N, D, "B")),
                 "published": (STEPLAW["lr"][0] * N ** STEPLAW["lr"][1] * D ** STEPLAW["lr"][2],
                               STEPLAW["B"][0] * D ** STEPLAW["B"][2]),
                 "published, N total": (STEPLAW["lr"][0] * float(cell["total_params"].iloc[0]) ** STEPLAW["lr"][1]
                                        * D ** STEPLAW["lr"][2], STEPLAW["B"][0] * D ** STEPLAW["B"][2])}
        for k, (lr, B) in picks.items():
            gaps[k].append(bowl.loss_at(lr, B) / best - 1)
    print("\nLeave one cell out: loss at the predicted (lr*, B*) read from the held-out cell's bowl, above its best run")
    for k, v in gaps.items():
        note = {"published": "  (no refit: the dense law as published, N = active parameters)",
                "published, N total": "  (the same law with N = total parameters, 2.15B in every cell)"}.get(k, "")
        print(f"  {k:<20} median {np.median(v):.3%}  worst {np.max(v):.3%}{note}")

    por = pd.read_csv(DATA / "porian_hparams" / "porian_hparam_laws.csv")
    rows = []
    for _, r in por.iterrows():
        if r["units"].startswith("sequences"):
            continue
        q = "lr" if r["target"] == "lr" else "B"
        tokens = 2048.0 if r["law_id"].startswith("deepseek_bs") else 1.0
        rows.append((r["law_id"], q, float(r["exponent"]), float(r["coef_plain"]) * tokens * 108e6 ** float(r["exponent"])))
    for est, q in laws.items():
        for k in ("lr", "B"):
            c, a, b, _ = q[k]
            rows.append((f"MoE {est}", k, a + b, c * 108e6 ** a * (20 * 108e6) ** b))
    c, a, b = STEPLAW["lr"]
    rows.append(("StepLaw dense (published)", "lr", a + b, c * 108e6 ** a * (20 * 108e6) ** b))
    c, a, b = STEPLAW["B"]
    rows.append(("StepLaw dense (published)", "B", a + b, c * 108e6 ** a * (20 * 108e6) ** b))
    print("\nTrends against Porian et al. 2024 (published laws only; D = 20 N for laws in N and D; B in tokens):")
    print(f"{'law':<36}{'quantity':>9}{'exponent in N':>15}{'at N=108M':>14}")
    for name, k, e, v in sorted(rows, key=lambda t: (t[1] != "lr", t[0])):
        print(f"{name:<36}{k:>9}{e:>+15.3f}{v:>14.4g}")
    print(f"\nhyperparam_laws (three estimates, 200 resamples) on 708 runs: median {statistics.median(times):.2f} s "
          f"over {args.repeats} runs")


if __name__ == "__main__":
    main()
