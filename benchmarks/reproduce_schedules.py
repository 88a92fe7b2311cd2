"""The loss-curve law with learning-rate annealing (Tissue et al. 2024) on public curves, printed as figures.

    python benchmarks/reproduce_schedules.py

* Gemstones (McLeish et al. 2025): per model, fit the constant-LR ("hot") curve to 350B tokens plus
  the endpoints of the cooldowns that start at 10-50B tokens; predict the endpoints of the cooldowns
  that start at 60-100B tokens. Mean absolute relative error beside two baselines: the hot curve's
  value at the same tokens, and that value times the mean cooldown gain seen so far.
* OLMo ladder (Bhagia et al. 2024): fit each model size's four runs on their first half (the logged
  learning rate gives the whole schedule) and predict each run's final C4 loss.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalekit
from scalekit.analyses.schedule_backtest import schedule_backtest
from scalekit.data.schedule import Schedule, lr_from_checkpoints

warnings.filterwarnings("ignore")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STEP = 2385  # 10B tokens at 2048 x 2048 tokens per step


def gemstones_frames(data: Path = DATA) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hot curves (every 477 steps to 350B tokens) and cooldown endpoints, with each cooldown's start step."""
    d = data / "gemstones" / "wandb_dfs"
    hot = pd.read_json(d / "wandb_df_for_fitting_hot_100b+_477.jsonl", lines=True)
    cool = pd.read_json(d / "wandb_df_for_fitting_cool_end.jsonl", lines=True)
    # a cooldown starting at k x 10B tokens decays linearly to 0 over 10% more tokens, ending at about 1.1 k STEP
    cool["start"] = (np.round(cool["step"] / 1.1 / STEP) * STEP).astype(int)
    cool["start_B"] = (cool["start"] // STEP * 10).astype(int)
    return hot, cool


def gemstones(data: Path = DATA, fit_until_B: int = 50, n_boot: int = 0) -> dict[str, object]:
    """The Gemstones protocol; returns per-model rows and the three mean absolute relative errors."""
    hot, cool = gemstones_frames(data)
    models = sorted(set(cool["run_name"]))
    rows: list[dict[str, object]] = []
    schedules: dict[str, Schedule] = {}
    for m in models:
        h = hot[hot["run_name"] == m]
        rows += [{"run": f"{m}/hot", "params": r.params_active_precise, "tokens": r.tokens, "step": r.step, "loss": r.final_loss}
                 for r in h.itertuples()]
        schedules[f"{m}/hot"] = Schedule("constant")
        for r in cool[(cool["run_name"] == m) & (cool["start_B"] <= fit_until_B)].itertuples():
            run = f"{m}/cool{r.start_B}B"
            rows.append({"run": run, "params": r.params_active_precise, "tokens": r.tokens, "step": r.step, "loss": r.final_loss})
            schedules[run] = Schedule("wsd", decay_start=float(r.start), total=float(r.step))
    batch = scalekit.load_batch(pd.DataFrame(rows), name="gemstones hot + early cooldowns")
    law = scalekit.fit_schedule_law(batch, "loss", schedules=schedules, n_boot=n_boot)
    out: list[dict[str, object]] = []
    for m in models:
        h = hot[hot["run_name"] == m].sort_values("step")
        c = cool[cool["run_name"] == m]
        seen, held = c[c["start_B"] <= fit_until_B], c[c["start_B"] > fit_until_B]
        N = float(h["params_active_precise"].iloc[0])

        def hot_at(steps: np.ndarray, h: pd.DataFrame = h) -> np.ndarray:
            return np.exp(np.interp(np.log(steps), np.log(h["step"].to_numpy(float)), np.log(h["final_loss"].to_numpy())))

        gain = float(np.mean(seen["final_loss"].to_numpy() / hot_at(seen["step"].to_numpy(float))))
        for r in held.itertuples():
            pred = float(law.predict(Schedule("wsd", decay_start=float(r.start), total=float(r.step)), [r.step], size=N)[0])
            hv = float(hot_at(np.array([float(r.step)]))[0])
            out.append({"model": m, "N": N, "start_B": r.start_B, "actual": r.final_loss, "law": pred, "hot": hv,
                        "hot_x_gain": hv * gain})
    res = pd.DataFrame(out)
    errs = {k: float(np.mean(np.abs(res[k] / res["actual"] - 1))) for k in ("law", "hot", "hot_x_gain")}
    return {"rows": res, "mare": errs, "law": law}


def olmo(data: Path = DATA, until: float = 0.5, decay: float | str = "fit") -> dict[str, object]:
    """Each OLMo ladder run's final C4 loss predicted from its first half, with the whole logged LR schedule."""
    sizes = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840}
    rows: list[pd.DataFrame] = []
    schedules: dict[str, np.ndarray] = {}
    for size, N in sizes.items():
        for k in ("1xC", "2xC", "5xC", "10xC"):
            d = pd.read_csv(data / "olmo_ladder" / "ladder-runs" / f"{size}-{k}.csv")
            d = d[["_step", "throughput/total_tokens", "optim/learning_rate_group0", "eval/c4_en-validation/CrossEntropyLoss"]]
            d = d.dropna().rename(columns={"_step": "step", "throughput/total_tokens": "tokens",
                                           "optim/learning_rate_group0": "lr", "eval/c4_en-validation/CrossEntropyLoss": "c4_loss"})
            run = f"{size}-{k}"
            schedules[run] = lr_from_checkpoints(d["step"], d["lr"])
            rows.append(d.assign(run=run, params=N))
    batch = scalekit.load_batch(pd.concat(rows, ignore_index=True), name="OLMo ladder C4")
    bt = schedule_backtest(batch, "c4_loss", until=until, schedules=schedules, decay=decay)
    return bt


def main() -> int:
    if not (DATA / "gemstones").is_dir():
        print(f"real data not found under {DATA}", file=sys.stderr)
        return 1
    g = gemstones()
    res = g["rows"]
    assert isinstance(res, pd.DataFrame)
    mare = g["mare"]
    assert isinstance(mare, dict)
    print(f"Gemstones: {res['model'].nunique()} models, {len(res)} held-out cooldown endpoints (starts 60-100B tokens), "
          "fitted on each hot curve + cooldowns starting 10-50B")
    by_start = res.assign(e_law=np.abs(res["law"] / res["actual"] - 1), e_hot=np.abs(res["hot"] / res["actual"] - 1),
                          e_gain=np.abs(res["hot_x_gain"] / res["actual"] - 1)).groupby("start_B")[["e_law", "e_hot", "e_gain"]].mean()
    for start, r in by_start.iterrows():
        print(f"  cooldown from {start}B: schedule law {r['e_law']:.3%}   hot value {r['e_hot']:.3%}   hot x mean gain {r['e_gain']:.3%}")
    best_base = min(mare["hot"], mare["hot_x_gain"])
    print(f"  mean absolute relative error: schedule law {mare['law']:.3%}; baselines: hot value {mare['hot']:.3%}, "
          f"hot x mean gain {mare['hot_x_gain']:.3%}; better baseline / law = {best_base / mare['law']:.2f}x")
    bt = olmo()
    print(f"OLMo ladder (C4 loss): {len(bt['runs'])} runs, final loss predicted from the first {bt['until']:.0%} of each run")
    for r in bt["runs"]:
        print(f"  {r['run']:>9}: actual {r['actual']:.4f} predicted {r['predicted']:.4f} ({r['rel_error']:+.3%}); "
              f"last value seen {r['baseline']:.4f} ({r['baseline_rel_error']:+.3%})")
    print(f"  mean absolute relative error: schedule law {bt['mean_abs_rel_error']:.3%} (lambda by leave-one-run-out: "
          f"{sorted(set(bt['decay'].values()))}); last value seen {bt['baseline_mean_abs_rel_error']:.3%}")
    bt999 = olmo(decay=0.999)
    print(f"  with the paper's lambda 0.999: schedule law {bt999['mean_abs_rel_error']:.3%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
