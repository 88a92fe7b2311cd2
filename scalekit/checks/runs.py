"""Run-level checks (run first): runs that have not converged, and larger models that overfit."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analyses.grid import level_index, levels
from ..data.schedule import run_status
from ..laws.evaluate import law_error
from ..options import Thresholds
from .base import Context, Finding, error_of, fitted, train_partner

__all__ = ["check_not_converged", "check_overfitting", "inversions", "turns_up"]


def check_not_converged(ctx: Context, o: Thresholds) -> list[Finding]:
    """Runs whose curves still fall faster than the law at the end of training (stopped before converging)."""
    b = ctx.batch
    if not b.has_checkpoints:
        return []
    out: list[Finding] = []
    # Where each run stopped in its schedule: a run that finished its decay ends steep because the
    # learning rate fell, not because it stopped early.
    status = run_status(b.frame, b.schedule) if b.has_schedule else {}
    for ma in fitted(ctx):
        assert ma.fit is not None  # fitted() yields only metrics with a law
        p, spec, sig = ma.fit.params, ma.spec, ctx.sigma[ma.name]
        rows: list[dict[str, Any]] = []
        for run, g in b.frame[np.isfinite(b.frame[ma.name])].groupby("run", sort=False):
            if ctx.flagged.get(str(run)) == "overfitting":  # already explained
                continue
            st = status.get(str(run))
            if st is not None and st.state == "finished":
                continue
            g = g.sort_values("D")
            if len(g) < 6:
                continue
            tail = g[g["D"] >= o.tail_start * g["D"].iloc[-1]]
            if len(tail) < 4:  # sparse checkpoints: the last four
                tail = g.iloc[-4:]
            x, y = np.log(tail["D"].to_numpy()), np.log(error_of(spec, tail[ma.name]))
            sxx = np.sum((x - x.mean()) ** 2)
            if sxx <= 0:
                continue
            s_obs = float(np.polyfit(x, y, 1)[0])
            se = sig / np.sqrt(sxx)
            N, Dm = float(g["N"].iloc[0]), float(np.exp(x.mean()))
            law = float(law_error(p, N, Dm))
            s_law = float(-p["beta"] * p["B"] * Dm ** -p["beta"] / law)
            if st is not None and st.state == "mid_decay":
                # stopped while the learning rate was still falling: its end is no annealed endpoint, whatever the law says
                fires = bool(s_obs < -o.noise_k * se)
            else:
                fires = bool(s_obs < s_law - o.noise_k * se and s_obs < s_law * (1 + o.slope_excess) and s_obs < -o.noise_k * se)
            if fires:
                rows.append({"run": str(run), "N": N, "D_end": float(g["D"].iloc[-1]), "tail_slope": s_obs,
                             "law_slope": s_law, "z": (s_obs - s_law) / se, "final": float(g[ma.name].iloc[-1]),
                             "schedule": None if st is None else st.summary()})
        if not rows:
            continue
        for r in rows:
            ctx.flagged.setdefault(r["run"], "not_converged")
        largest = max(r["N"] for r in rows) == b.frame["N"].max()
        mid = [r for r in rows if r["schedule"] and r["schedule"]["state"] == "mid_decay"]
        sched = ""
        if mid:
            sched = " Stopped mid-schedule: " + "; ".join(
                f"{r['run']} at learning rate {r['schedule']['lr_fraction']:.0%} of its peak"
                + (f" ({r['schedule']['position']:.0%} of its decay)" if r["schedule"]["position"] is not None else "")
                for r in mid) + "."
        out.append(Finding(
            "not_converged", "warning", ma.name, "Runs still improving at the end of training",
            f"{len(rows)} run(s) ({', '.join(r['run'] for r in rows)}) end with {ma.name} falling "
            + ", ".join(f"{r['tail_slope']:.3f}" for r in rows) + " per log-unit of data, against the law's "
            + ", ".join(f"{r['law_slope']:.3f}" for r in rows) + (" (the largest model among them)" if largest else "") + "."
            + sched,
            "A run stopped before it converged reports a worse final value than the model can reach, so the law and the "
            "envelope understate that size.",
            "Train these runs longer (or with a schedule that anneals), or leave them out of the fit.",
            {"runs": [r["run"] for r in rows], "tail_slope": [r["tail_slope"] for r in rows],
             "law_slope": [r["law_slope"] for r in rows], "z": [r["z"] for r in rows], "N": [r["N"] for r in rows],
             "D_end": [r["D_end"] for r in rows],
             **({"schedule": [r["schedule"] for r in rows]} if status else {}),
             "noise": ctx.sigma[ma.name], "runs_plotted": [r["run"] for r in rows][:4]}))
    return out


def inversions(ctx: Context, metric: str, o: Thresholds, *, along: str = "N", skip_flagged: bool = False) -> list[dict[str, Any]]:
    """Final points at one level of the other variable where more ``along`` (N or D) is worse beyond noise.

    Each record names the best run so far (``smaller``) and the worse one (``larger``) with their
    ``<along>_smaller``/``<along>_larger`` values, the fixed level and how much worse.
    """
    b, spec = ctx.batch, ctx.batch.metric(metric)
    fixed = "D" if along == "N" else "N"
    f = b.finals()
    f = f[np.isfinite(f[metric])]
    if skip_flagged:
        f = f[~f["run"].isin(list(ctx.flagged))]
    if f[along].nunique() < 2:
        return []
    lv = levels(f[fixed].to_numpy())
    li = level_index(f[fixed].to_numpy(), lv)
    thr = max(o.noise_k * ctx.sigma[metric] * np.sqrt(2), o.min_effect)
    out: list[dict[str, Any]] = []
    for j in range(len(lv)):
        g = f[li == j].sort_values(along)
        if g[along].nunique() < 2:
            continue
        e = error_of(spec, g[metric])
        x, run = g[along].to_numpy(dtype=float), g["run"].to_numpy()  # arrays: .iloc per row cost 2 s at 50,000 runs
        best_so_far, best_i = e[0], 0
        for i in range(1, len(g)):
            if e[i] > best_so_far * (1 + thr) and x[i] > x[best_i]:
                out.append({fixed: float(lv[j]), "smaller": str(run[best_i]), "larger": str(run[i]),
                            f"{along}_smaller": float(x[best_i]), f"{along}_larger": float(x[i]),
                            "worse_by": float(e[i] / best_so_far - 1)})
            if e[i] < best_so_far:
                best_so_far, best_i = e[i], i
    return out


def turns_up(ctx: Context, metric: str, run: str, o: Thresholds) -> float | None:
    """How much the run's curve rose from its best point to its end, if beyond noise."""
    b, spec = ctx.batch, ctx.batch.metric(metric)
    g = b.frame[(b.frame["run"] == run) & np.isfinite(b.frame[metric])].sort_values("D")
    if len(g) < 4:
        return None
    e = error_of(spec, g[metric])
    rise = e[-1] / e.min() - 1
    return float(rise) if rise > max(o.noise_k * ctx.sigma[metric], o.min_effect) and np.argmin(e) < len(e) - 2 else None


def check_overfitting(ctx: Context, o: Thresholds) -> list[Finding]:
    """Larger models worse than smaller ones at a data scale, with a rising curve or a growing train/eval gap."""
    b = ctx.batch
    out: list[Finding] = []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        partner = train_partner(b, name)
        fin = b.finals().set_index("run")
        rows: list[dict[str, Any]] = []
        for inv in inversions(ctx, name, o):
            rise = turns_up(ctx, name, inv["larger"], o)
            gap: dict[str, float] | None = None
            if partner is not None:
                gap = {r: float(error_of(spec, fin.loc[r, name]) - error_of(spec, fin.loc[r, partner]))
                       for r in (inv["smaller"], inv["larger"])}
                grows = (gap[inv["larger"]] - gap[inv["smaller"]]
                         > o.noise_k * ctx.sigma[name] * abs(float(fin.loc[inv["smaller"], name])))
            else:
                grows = False
            if rise is not None or grows:
                rows.append({**inv, "rise_from_best": rise, "gap": gap})
        # the eval/train gap growing with size at a fixed data scale, even without an inversion
        if partner is not None:
            fin = fin.reset_index()
            lv = levels(fin["D"].to_numpy())
            li = level_index(fin["D"].to_numpy(), lv)
            for j in range(len(lv)):
                g = fin[li == j].sort_values("N")
                if g["N"].nunique() < 3:
                    continue
                gaps = error_of(spec, g[name]) - error_of(spec, g[partner])
                scale = float(np.median(np.abs(error_of(spec, g[name]))))
                # the largest model's gap against the others' typical gap, and growing with size overall
                if (gaps[-1] - np.median(gaps[:-1]) > o.noise_k * ctx.sigma[name] * scale * 2
                        and np.corrcoef(np.log(g["N"]), gaps)[0, 1] > 0.5):
                    run = str(g["run"].iloc[-1])
                    if not any(r["larger"] == run for r in rows):
                        rows.append({"D": float(lv[j]), "smaller": str(g["run"].iloc[0]), "larger": run,
                                     "N_smaller": float(g["N"].iloc[0]), "N_larger": float(g["N"].iloc[-1]),
                                     "worse_by": None, "rise_from_best": None,
                                     "gap": {str(g["run"].iloc[0]): float(gaps[0]), run: float(gaps[-1])}})
        likely = False
        if not rows and partner is None and not b.has_checkpoints:
            rows, likely = _small_data_signature(ctx, name, o), True
        if not rows:
            continue
        for r in rows:
            ctx.flagged.setdefault(r["larger"], "overfitting")
        parts: list[str] = []
        for r in rows:
            s = f"{r['larger']} (N={r['N_larger']:.3g}) at D={r['D']:.3g}"
            if r["worse_by"] is not None:
                s += f" is {r['worse_by']:.1%} worse than the smaller {r['smaller']}"
            if r["rise_from_best"] is not None:
                s += f"; its {name} rose {r['rise_from_best']:.1%} from its best point by the end"
            if r["gap"]:
                s += f"; {name} - {partner} gap {r['gap'][r['smaller']]:.3g} -> {r['gap'][r['larger']]:.3g}"
            parts.append(s)
        cells = sorted({(r["N_larger"], r["D"]) for r in rows})
        out.append(Finding(
            "overfitting", "warning", name,
            "Larger models overfit the smaller data scales" + (" (likely)" if likely else ""),
            "; ".join(parts) + "." + (" With final points only, larger models worse only at the smallest data scales is the "
                                      "signature of overfitting (no curves or train metric to confirm it)." if likely else ""),
            "An overfitting run sits above the law; fitted naively it bends the exponents and hides that more data, not more "
            "parameters, is what that size needs.",
            "Train the large models on more data (or regularise them); read the law only where data is sufficient for the size.",
            {"pairs": rows, "train_metric": partner, "noise": ctx.sigma[name], "likely": likely,
             "cells": [{"N": n, "D": d} for n, d in cells],
             "runs_plotted": sorted({r["larger"] for r in rows} | {r["smaller"] for r in rows})[:4], "also_plot": partner}))
    return out


def _small_data_signature(ctx: Context, metric: str, o: Thresholds) -> list[dict[str, Any]]:
    """Model-size inversions that occur only at the smaller data scales (none at the largest): overfitting's signature."""
    inv = inversions(ctx, metric, o)
    if not inv:
        return []
    f = ctx.batch.finals()
    lv = np.sort(levels(f["D"].to_numpy()))
    if lv.size < 3:
        return []
    inv_levels = {float(lv[np.argmin(np.abs(np.log(lv) - np.log(r["D"])))]) for r in inv}
    small = set(map(float, lv[: (lv.size + 1) // 2]))
    if not inv_levels <= small or float(lv[-1]) in inv_levels:
        return []
    return [{**r, "rise_from_best": None, "gap": None} for r in inv]
