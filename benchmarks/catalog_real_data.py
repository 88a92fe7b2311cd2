"""The limitation checks on every suitable dataset in ../shared/data: what fires, with the fitted laws.

    python benchmarks/catalog_real_data.py
"""
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import scalekit

warnings.filterwarnings("ignore")
S = str(Path(__file__).resolve().parents[2] / "shared" / "data") + "/"

def run(label, df, **cfg):
    t = time.perf_counter()
    try:
        b = scalekit.load_batch(df, name=label, **cfg)
        an = scalekit.analyze(b, n_boot=300)
    except Exception as exc:
        print(f"== {label}: ERROR {type(exc).__name__}: {exc}"); return
    print(f"== {label}: {b.runs} runs, {b.rows} rows, {time.perf_counter()-t:.1f}s")
    for m in an.metrics.values():
        if m.fit:
            p = m.fit.params; print(f"   {m.name}: alpha={p['alpha']:.3f} beta={p['beta']:.3f} E={p['E']:.3f} a(par)={m.optimal['parametric'].a:.3f} env={m.optimal['envelope'].a if m.optimal['envelope'].ok else None} iso={m.optimal['isoflop'].a if m.optimal['isoflop'].ok else None}")
    for f in an.findings:
        print(f"   [{f.severity}] {f.check} ({f.metric}): {f.message[:260]}")

# Chinchilla (240 points)
ch = pd.read_csv(S + "chinchilla_besiroglu/svg_extracted_data.csv")
ch = ch[ch["loss"] < np.sort(ch["loss"])[-5]]
run("chinchilla", ch, metrics=["loss"])
# Gemstones: curves, Dolma val loss
g = pd.read_json(S + "gemstones/wandb_dfs/wandb_df_for_fitting_hot_100b+.jsonl", lines=True)
run("gemstones hot 100b+ (770 pts)", g, metrics=["final_loss"], columns={"run": "run_name"})
# Gadre: rpj training set, two eval sets (C4 and RedPajama) + downstream error
ga = pd.read_csv(S + "gadre_overtraining/gadre_models_flat.csv")
for ds in ["rpj"]:
    sub = ga[ga.dataset_name == ds][["name", "N", "D", "loss_c4_val", "loss_paloma_redpajama", "err_avg17_subset"]]
    run(f"gadre {ds}", sub, metrics=["loss_c4_val", "loss_paloma_redpajama", "err_avg17_subset"], columns={"run": "name"})
# Porian: one config as final points on shared budgets
po = pd.read_csv(S + "porian_isoflop/porian_isoflop_points.csv")
sub = po[po.config_id == "rw|tuned|short|const|standard|val"].rename(columns={"n": "params", "t": "tokens"})
run("porian rw tuned (isoflop points)", sub[["params", "tokens", "flops", "loss"]].reset_index(drop=True))
# OLMo ladder: curves for 16 runs, C4 loss and hellaswag accuracy
rows = []
Ns = {"190M": 190354176, "370M": 371262464, "760M": 758220288, "1B": 1279395840}
for size, N in Ns.items():
    for k in ("1xC", "2xC", "5xC", "10xC"):
        d = pd.read_csv(S + f"olmo_ladder/ladder-runs/{size}-{k}.csv")
        d = d[["_step", "throughput/total_tokens", "eval/c4_en-validation/CrossEntropyLoss", "eval/downstream/hellaswag_val_rc_5shot_len_norm"]].dropna()
        d.columns = ["step", "tokens", "c4_loss", "hellaswag_acc"]
        d["run"] = f"{size}-{k}"; d["params"] = N
        rows.append(d[d.tokens > 0])
run("olmo ladder", pd.concat(rows, ignore_index=True))
# Pythia: final checkpoints, accuracy across sizes (deduped), lambada acc + piqa
py = pd.read_csv(S + "pythia_evals/pythia_zeroshot_long.csv")
py = py[py.deduped.astype(bool) & (py.step > 0)]
wide = py[py.task.isin(["lambada_openai", "piqa"]) & (py.metric == "acc")].pivot_table(index=["model", "params", "step", "tokens"], columns="task", values="value").reset_index()
wide.columns = [c if c not in ("lambada_openai", "piqa") else f"acc_{c}" for c in wide.columns]
run("pythia deduped (curves)", wide.rename(columns={"model": "run"}))
# obsscaling: observational, many families
ob = pd.read_csv(S + "obsscaling/base_llm_benchmark_eval.csv")
ob = ob.rename(columns={"Model": "run", "Model Size (B)": "params", "Pretraining Data Size (T)": "tokens"})
ob["params"] *= 1e9; ob["tokens"] *= 1e12
run("obsscaling (MMLU)", ob[["run", "params", "tokens", "MMLU"]].dropna(), metrics=[{"name": "MMLU", "direction": "max", "bound": 1}])
