"""Issue 14 figures: the inference-aware optimum against Sardana et al. (2024), and loss-to-loss transfer on real data.

    python benchmarks/reproduce_issue14.py [--n-boot 200] [--data ../shared/data]

(a) Sardana et al. (2024), Figure 1 caption: "An LLM developer seeking to train a 13B model who
    expects 2 trillion tokens of inference demand during the model's lifetime can reduce their
    total compute by 1.7 x 10^22 FLOPs (17%) by instead training a 7B model on more data."
    Reproduced on the Chinchilla law (Hoffmann et al. 2022) with three spellings of its
    constants, plus brute-force agreement and the qualitative trends.
(b) Loss-to-loss transfer, held-out largest model: the target eval set predicted through
    map(C4 law), from its own law, and by the map from the observed C4 loss
    (scalekit.analyses.transfer_backtest) on olmo_ladder and gadre_overtraining.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalekit
from scalekit.analyses.inference import inference_optimal
from scalekit.analyses.profiles import profile_curve
from scalekit.analyses.transfer_backtest import transfer_backtest

ROOT = Path(__file__).resolve().parents[1]

warnings.filterwarnings("ignore")

# Hoffmann et al. (2022) Approach 3: as printed; with 4-digit exponents; unrounded (Chinchilla TeX source,
# as Epoch's replication notebook reads them; ../shared/data/chinchilla_besiroglu/SOURCE.md).
CHINCHILLA = {
    "printed (0.34, 0.28)": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    "4-digit (0.3392, 0.2849)": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.3392, "beta": 0.2849},
    "unrounded (TeX source)": {"E": float(np.exp(0.5267228)), "A": float(np.exp(6.0073404)), "B": float(np.exp(6.0179186)),
                                   "alpha": 0.33917084, "beta": 0.2849083},
}


def law_fit(p: dict[str, float]) -> scalekit.FitResult:
    """A FitResult carrying exactly the law ``p``: fitted by scalekit to 49 exact points on it (recovers p to ~1e-12)."""
    N, D = np.meshgrid(np.logspace(7, 11, 7), np.logspace(9, 13, 7))
    L = p["E"] + p["A"] / N.ravel() ** p["alpha"] + p["B"] / D.ravel() ** p["beta"]
    return scalekit.fit_law(pd.DataFrame({"params": N.ravel(), "tokens": D.ravel(), "loss": L}), n_boot=0)


def brute_force(fit: scalekit.FitResult, target: float, demand: float, k: float = 6.0, f: float = 2.0) -> tuple[float, float]:
    """Minimum of total FLOPs on a fine log grid of N along the profile curve: (N, total)."""
    p = fit.params
    n_min = (p["A"] / (target - p["E"])) ** (1 / p["alpha"])
    N = np.geomspace(n_min * (1 + 1e-9), n_min * 1e4, 2_000_001)
    total = k * N * profile_curve(fit, target, N) + f * N * demand
    i = int(np.nanargmin(total))
    return float(N[i]), float(total[i])


def sardana() -> None:
    print("=" * 110)
    print("(a) Inference-aware optimum, Sardana et al. (2024) Fig. 1: Chinchilla-optimal 13B, 2e12 inference tokens")
    print("    published: train a 7B model on more data instead; saves 1.7e22 FLOPs (17%) of total compute")
    print("=" * 110)
    head = (f"{'Chinchilla constants':<26}{'13B: D':>10}{'tok/p':>7}{'loss':>8}{'N*':>9}{'D*':>10}{'tok/p':>7}"
            f"{'total 13B':>11}{'total N*':>10}{'saved':>10}{'saving':>8}{'N vs brute':>12}{'C vs brute':>12}")
    print(head)
    for name, p in CHINCHILLA.items():
        fit = law_fit(p)
        a, b = fit.params["alpha"], fit.params["beta"]
        G = (a * fit.params["A"] / (b * fit.params["B"])) ** (1 / (a + b))
        C13 = 6.0 * (13e9 / G) ** ((a + b) / b)  # the budget whose compute-optimal N is 13B (inverse of N_opt = G (C/6)^(b/(a+b)))
        (r,) = inference_optimal(fit, budgets=[C13], inference_tokens=2e12)
        ref = r.compute_optimal
        nb, tb = brute_force(fit, r.target, 2e12)
        print(f"{name:<26}{ref.D:>10.3g}{ref.tokens_per_param:>7.1f}{r.target:>8.4f}{r.N / 1e9:>8.2f}B{r.D:>10.3g}"
              f"{r.optimum.tokens_per_param:>7.0f}{ref.total_flops:>11.3g}{r.total_flops:>10.3g}"
              f"{ref.total_flops - r.total_flops:>10.3g}{r.saving:>8.1%}{r.N / nb - 1:>+12.1e}{r.total_flops / tb - 1:>+12.1e}")
    print("  'N vs brute', 'C vs brute': relative difference from a 2,000,001-point log grid of N along the profile curve.")

    fit = law_fit(CHINCHILLA["unrounded (TeX source)"])
    demands = [0.0, 1e10, 1e11, 1e12, 1e13, 1e14]
    print("\n  Trends on the unrounded law (Figure-1 style ratios, optimum / compute-optimal, for three target losses):")
    print(f"  {'loss':>6}{'chin. N':>10} | " + " | ".join(f"I={d:7.0e}" for d in demands))
    for loss in (2.3, 2.1, 1.95):
        rows = inference_optimal(fit, target=loss, inference_tokens=demands)
        print(f"  {loss:>6.2f}{rows[0].compute_optimal.N:>10.3g} | "
              + " | ".join(f"N x{o.N_ratio:5.2f} D x{o.D_ratio:5.1f} -{o.saving:4.0%}" for o in rows))
    print("  Larger demand -> smaller N, more data, larger saving; for a fixed demand the shift is largest for cheap targets.")


# --- (b) loss-to-loss ------------------------------------------------------------------
OLMO_SIZES = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840}
OLMO_SETS = ["c4_en", "dolma_books", "dolma_common-crawl", "dolma_pes2o", "dolma_reddit", "dolma_stack", "dolma_wiki",
             "ice", "m2d2_s2orc", "pile", "wikitext_103"]
GADRE_SETS = ["c4_val", "openlm", "paloma_c4_en", "paloma_dolma_100_programing_languages", "paloma_falcon-refinedweb",
              "paloma_ptb", "paloma_redpajama", "val_de-en_100"]


def olmo_batch(data: Path) -> scalekit.Batch:
    """16 ladder runs, every in-training eval: N from final_config.json (SOURCE.md), D = throughput/total_tokens."""
    frames = []
    for size, N in OLMO_SIZES.items():
        for mult in ("1xC", "2xC", "5xC", "10xC"):
            d = pd.read_csv(data / "olmo_ladder" / "ladder-runs" / f"{size}-{mult}.csv")
            f = pd.DataFrame({"run": f"{size}-{mult}", "step": d["_step"], "params": N, "tokens": d["throughput/total_tokens"]})
            for s in OLMO_SETS:
                f[f"loss_{s}"] = d[f"eval/{s}-validation/CrossEntropyLoss"]
            frames.append(f)
    return scalekit.load_batch(pd.concat(frames, ignore_index=True), name="olmo_ladder")


def gadre_batches(data: Path) -> dict[str, scalekit.Batch]:
    """One batch per training set (a law and a map hold for one training distribution); one row per model."""
    d = pd.read_csv(data / "gadre_overtraining" / "gadre_models_flat.csv")
    out = {}
    for train, g in d.groupby("dataset_name"):
        f = pd.DataFrame({"run": g["name"], "params": g["N"], "tokens": g["D"]})
        for s in GADRE_SETS:
            f[f"loss_{s}"] = g[f"loss_{s}"]
        out[str(train)] = scalekit.load_batch(f.reset_index(drop=True), name=f"gadre {train}")
    return out


def _pct(x: float) -> str:
    return f"{x:.2%}" if np.isfinite(x) else "n/a"


def transfer_table(title: str, batch: scalekit.Batch, source: str, targets: list[str], n_boot: int) -> None:
    """One row per target set: the map's fit, and the held-out errors of each way of predicting."""
    print(f"\n  {title}")
    print(f"  {'':<38}{'map (E_A = C4 law E)':^25}{'via C4 law + map, floors =':^32}{'':>9}{'covered':>9}")
    print(f"  {'target set':<38}{'rmse':>8}{'kappa':>7}{'map only':>10}{'source':>11}{'laws':>10}{'fit':>11}{'own law':>9}"
          f"{'(source)':>9}")
    first = True
    rows = []
    for t in targets:
        bt = {fl: transfer_backtest(batch, source, t, n_boot=n_boot, floors=fl) for fl in ("source", "laws", "fit")}
        b = bt["source"]
        cover = int(np.sum((b.via_map.lo <= b.actual) & (b.actual <= b.via_map.hi))) if b.via_map.lo is not None else 0
        print(f"  {t.removeprefix('loss_'):<38}{b.map.rmse:>8.2%}{b.map.params['kappa']:>7.2f}{_pct(b.error_map_only):>10}"
              f"{_pct(b.error_via_map):>11}{_pct(bt['laws'].error_via_map):>10}{_pct(bt['fit'].error_via_map):>11}"
              f"{_pct(b.error_own_law):>9}{cover:>6} of {len(b.actual)}")
        rows.append([b.error_map_only, b.error_via_map, bt["laws"].error_via_map, bt["fit"].error_via_map, b.error_own_law])
        if first:
            c4 = b.source_fit.params
            c4_law = (f"C4 law on the smaller sizes: E {c4['E']:.4f} A {c4['A']:.4g} B {c4['B']:.4g} alpha {c4['alpha']:.4f} "
                      f"beta {c4['beta']:.4f}; its own held-out error {b.error_source_law:.2%}")
            first = False
    m = np.asarray(rows)
    means = [np.nanmean(c) for c in m.T]
    print(f"  {'mean (n/a left out)':<38}{'':>15}{_pct(means[0]):>10}{_pct(means[1]):>11}{_pct(means[2]):>10}"
          f"{_pct(means[3]):>11}{_pct(means[4]):>9}")
    print(f"  {c4_law}")


def loss_to_loss(data: Path, n_boot: int) -> None:
    print("\n" + "=" * 110)
    print("(b) Loss-to-loss transfer (Brandfonbrener et al. 2024): hold out the largest model size; fit the C4 law, each")
    print("    target's own law (final checkpoints) and the map C4 -> target (all checkpoints) on the smaller sizes; predict")
    print("    the held-out final points. Mean absolute relative error; 'map only' = map(observed C4 loss). Floors: 'source'")
    print("    fixes E_A to the C4 law's E, 'laws' also E_B to the target law's E (Brandfonbrener et al.), 'fit' fits both;")
    print("    n/a: the held-out source loss lies below the fitted E_A, where the map is undefined.")
    print("=" * 110)
    ob = olmo_batch(data)
    transfer_table(f"olmo_ladder: {ob.runs} runs, {ob.rows} evals; held out 1.3B (1x,2x,5x,10xC), fitted on 190M-760M",
                   ob, "loss_c4_en", [f"loss_{s}" for s in OLMO_SETS if s != "c4_en"], n_boot)
    for train, gb in gadre_batches(data).items():
        transfer_table(f"gadre_overtraining, trained on {train}: {gb.runs} models; held out open_lm_7b (M=20), fitted on 11M-1.4B",
                       gb, "loss_c4_val", [f"loss_{s}" for s in GADRE_SETS if s != "c4_val"], n_boot)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples for the laws and maps (default 200)")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SCALEKIT_DATA", ROOT.parent / "shared" / "data")))
    args = ap.parse_args()
    t0 = time.perf_counter()
    sardana()
    if (args.data / "olmo_ladder").is_dir() and (args.data / "gadre_overtraining").is_dir():
        loss_to_loss(args.data, args.n_boot)
    else:
        print(f"\n(b) skipped: no olmo_ladder / gadre_overtraining under {args.data}")
    print(f"\n[{time.perf_counter() - t0:.1f} s]")


if __name__ == "__main__":
    main()
