"""Limitation checks: where the fitted laws cannot be trusted, with the evidence.

Each check has a stable code (the ``check`` field of summary.json), a title, a severity, one
sentence on why it matters, numeric evidence and a remedy. Thresholds are keyword arguments
of :func:`run_checks` with sensible defaults. A clean batch produces no warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
import re
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._html import ResultMixin, fmt
from ._json import jsonable
from .grid import _level_index, _levels

if TYPE_CHECKING:
    from .analysis import BatchAnalysis

__all__ = ["Finding", "run_checks", "CHECKS", "SEVERITIES"]

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Finding(ResultMixin):
    """One thing a check found."""

    check: str
    severity: str  # info | warning | critical
    metric: str | None
    title: str
    message: str
    why: str
    remedy: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return jsonable({"check": self.check, "severity": self.severity, "metric": self.metric, "title": self.title,
                         "message": self.message, "why": self.why, "remedy": self.remedy, "evidence": self.evidence})

    def _repr_html_(self) -> str:
        ev = "".join(f"<li><code>{escape(str(k))}</code>: {escape(_ev(v))}</li>" for k, v in self.evidence.items())
        return (f'<div class="sk-finding sk-{escape(self.severity)}"><b>[{escape(self.severity)}] {escape(self.title)}</b>'
                f"{' (' + escape(self.metric) + ')' if self.metric else ''}<p>{escape(self.message)}</p>"
                f"<p><i>Why it matters:</i> {escape(self.why)}</p><p><i>What to do:</i> {escape(self.remedy)}</p>"
                f"<details><summary>evidence</summary><ul>{ev}</ul></details></div>")


def _ev(v: Any) -> str:
    if isinstance(v, float):
        return fmt(v)
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return ", ".join(_ev(x) for x in v[:12]) + f", ... ({len(v)} in all)"
    if isinstance(v, (list, tuple)):
        return ", ".join(_ev(x) for x in v)
    return str(v)


def severity_counts(findings: Any) -> dict[str, int]:
    """How many findings of each severity; takes Findings or their summary() dicts."""
    c = {s: 0 for s in SEVERITIES}
    for f in findings:
        c[f["severity"] if isinstance(f, dict) else f.severity] += 1
    return c


CheckFn = Callable[..., list[Finding]]
CHECKS: dict[str, CheckFn] = {}


@dataclass
class Context:
    """What the checks share: the analysis, per-metric noise, and runs already explained.

    Run-level checks (not converged, overfitting) run first and record the runs they flag;
    the batch-level checks then leave those runs out, so one cause is reported once.
    """

    an: "BatchAnalysis"
    sigma: dict[str, float]
    flagged: dict[str, str] = field(default_factory=dict)

    @property
    def batch(self):
        return self.an.batch


DEFAULTS: dict[str, Any] = {
    "noise_k": 3.0,  # "beyond noise": more than this many noise standard deviations
    "min_effect": 0.005,  # and at least this relative effect
    "holdout_fraction": 0.15,  # extrapolation: share of runs (largest compute) held out
    "envelope_tol": 0.01,  # extreme bias: within 1% of the envelope's best
    "extreme_factor": 2.0,  # ... and at least 2x smaller or cheaper
    "transfer_min_diff": 0.05,  # transfer: exponents must also differ by 5% to matter
    "marginal_compute_multiple": 10.0,  # diminishing returns: 1% better costing more than 10x compute
    "tail_start": 0.6,  # not converged: the tail is D >= 0.6 * D_end
    "slope_excess": 0.3,  # ... falling at least 30% faster than the law predicts there
    "min_sizes": 4, "min_data_scales": 3, "min_data_range": 10.0, "max_corr": 0.99,
    "broken_gain": 0.5,  # broken law: held-out error at most half the single law's
    "residual_trend": 0.01,  # residual structure: a trend of at least 1% in log residual
    "n_boot_checks": 100,
}


def _err(spec, v):
    return spec.to_error(np.asarray(v, dtype=float))


def noise_level(batch, metric: str, fit=None) -> float:
    """Relative noise of a metric: scatter of each curve around a smooth trend, else robust fit residuals."""
    spec = batch.metric(metric)
    if batch.has_checkpoints:
        vals = []
        for _, g in batch.frame[np.isfinite(batch.frame[metric])].groupby("run"):
            if len(g) < 6:
                continue
            g = g.sort_values("D")
            x, y = np.log(g["D"].to_numpy()), np.log(_err(spec, g[metric]))
            if not np.all(np.isfinite(y)):
                continue
            r = y - np.polyval(np.polyfit(x, y, 2), x)
            vals.append(np.sqrt(np.sum(r ** 2) / (len(g) - 3)))
        if vals:
            return float(max(np.median(vals), 1e-4))
    if fit is not None:
        r = fit.residuals
        return float(max(1.4826 * np.median(np.abs(r - np.median(r))), 1e-4))
    return 0.01


def _fits(ctx: Context):
    for m in ctx.an.metrics.values():
        if m.fit is not None and m.fit.form.name == "two_var":
            yield m


def _train_partner(batch, metric: str) -> str | None:
    """The training-set counterpart of an eval metric (eval_loss -> train_loss), if the batch has one."""
    if "train" in metric.lower():
        return None
    for name in batch.metrics:
        if "train" in name.lower() and batch.metrics[name].direction == batch.metrics[metric].direction:
            stem = re.sub(r"(eval|val|valid|validation|test)[_/-]?", "", metric.lower())
            if re.sub(r"train[_/-]?", "", name.lower()) == stem:
                return name
    return None


# --- run-level checks (first) -----------------------------------------------------------
def check_not_converged(ctx: Context, **o: Any) -> list[Finding]:
    b = ctx.batch
    if not b.has_checkpoints:
        return []
    out = []
    for ma in _fits(ctx):
        p, spec, sig = ma.fit.params, ma.spec, ctx.sigma[ma.name]
        rows = []
        for run, g in b.frame[np.isfinite(b.frame[ma.name])].groupby("run", sort=False):
            if ctx.flagged.get(str(run)) == "overfitting":  # already explained
                continue
            g = g.sort_values("D")
            if len(g) < 6:
                continue
            tail = g[g["D"] >= o["tail_start"] * g["D"].iloc[-1]]
            if len(tail) < 4:  # sparse checkpoints: the last four
                tail = g.iloc[-4:]
            x, y = np.log(tail["D"].to_numpy()), np.log(_err(spec, tail[ma.name]))
            sxx = np.sum((x - x.mean()) ** 2)
            if sxx <= 0:
                continue
            s_obs = float(np.polyfit(x, y, 1)[0])
            se = sig / np.sqrt(sxx)
            N, Dm = float(g["N"].iloc[0]), float(np.exp(x.mean()))
            law = p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * Dm ** -p["beta"]
            s_law = float(-p["beta"] * p["B"] * Dm ** -p["beta"] / law)
            if s_obs < s_law - o["noise_k"] * se and s_obs < s_law * (1 + o["slope_excess"]) and s_obs < -o["noise_k"] * se:
                rows.append({"run": str(run), "N": N, "D_end": float(g["D"].iloc[-1]), "tail_slope": s_obs, "law_slope": s_law,
                             "z": (s_obs - s_law) / se, "final": float(g[ma.name].iloc[-1])})
        if not rows:
            continue
        for r in rows:
            ctx.flagged.setdefault(r["run"], "not_converged")
        largest = max(r["N"] for r in rows) == b.frame["N"].max()
        out.append(Finding(
            "not_converged", "warning", ma.name, "Runs still improving at the end of training",
            f"{len(rows)} run(s) ({', '.join(r['run'] for r in rows)}) end with {ma.name} falling "
            + ", ".join(f"{r['tail_slope']:.3f}" for r in rows) + " per log-unit of data, against the law's "
            + ", ".join(f"{r['law_slope']:.3f}" for r in rows) + (" (the largest model among them)" if largest else "") + ".",
            "A run stopped before it converged reports a worse final value than the model can reach, so the law and the "
            "envelope understate that size.",
            "Train these runs longer (or with a schedule that anneals), or leave them out of the fit.",
            {"runs": [r["run"] for r in rows], "tail_slope": [r["tail_slope"] for r in rows], "law_slope": [r["law_slope"] for r in rows],
             "z": [r["z"] for r in rows], "N": [r["N"] for r in rows], "D_end": [r["D_end"] for r in rows],
             "noise": ctx.sigma[ma.name], "runs_plotted": [r["run"] for r in rows][:4]}))
    return out


def _inversions(ctx: Context, metric: str, o: dict[str, Any], *, along: str = "N", skip_flagged: bool = False) -> list[dict[str, Any]]:
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
    lv = _levels(f[fixed].to_numpy())
    li = _level_index(f[fixed].to_numpy(), lv)
    thr = max(o["noise_k"] * ctx.sigma[metric] * np.sqrt(2), o["min_effect"])
    out = []
    for j in range(len(lv)):
        g = f[li == j].sort_values(along)
        if g[along].nunique() < 2:
            continue
        e = _err(spec, g[metric])
        best_so_far, best_i = e[0], 0
        for i in range(1, len(g)):
            if e[i] > best_so_far * (1 + thr) and g[along].iloc[i] > g[along].iloc[best_i]:
                out.append({fixed: float(lv[j]), "smaller": str(g["run"].iloc[best_i]), "larger": str(g["run"].iloc[i]),
                            f"{along}_smaller": float(g[along].iloc[best_i]), f"{along}_larger": float(g[along].iloc[i]),
                            "worse_by": float(e[i] / best_so_far - 1)})
            if e[i] < best_so_far:
                best_so_far, best_i = e[i], i
    return out


def _turns_up(ctx: Context, metric: str, run: str, o: dict[str, Any]) -> float | None:
    """How much the run's curve rose from its best point to its end, if beyond noise."""
    b, spec = ctx.batch, ctx.batch.metric(metric)
    g = b.frame[(b.frame["run"] == run) & np.isfinite(b.frame[metric])].sort_values("D")
    if len(g) < 4:
        return None
    e = _err(spec, g[metric])
    rise = e[-1] / e.min() - 1
    return float(rise) if rise > max(o["noise_k"] * ctx.sigma[metric], o["min_effect"]) and np.argmin(e) < len(e) - 2 else None


def check_overfitting(ctx: Context, **o: Any) -> list[Finding]:
    b = ctx.batch
    out = []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        partner = _train_partner(b, name)
        fin = b.finals().set_index("run")
        rows = []
        for inv in _inversions(ctx, name, o):
            rise = _turns_up(ctx, name, inv["larger"], o)
            gap = None
            if partner is not None:
                gap = {r: float(_err(spec, fin.loc[r, name]) - _err(spec, fin.loc[r, partner])) for r in (inv["smaller"], inv["larger"])}
                grows = gap[inv["larger"]] - gap[inv["smaller"]] > o["noise_k"] * ctx.sigma[name] * abs(float(fin.loc[inv["smaller"], name]))
            else:
                grows = False
            if rise is not None or grows:
                rows.append({**inv, "rise_from_best": rise, "gap": gap})
        # the eval/train gap growing with size at a fixed data scale, even without an inversion
        if partner is not None:
            fin = fin.reset_index()
            lv = _levels(fin["D"].to_numpy())
            li = _level_index(fin["D"].to_numpy(), lv)
            for j in range(len(lv)):
                g = fin[li == j].sort_values("N")
                if g["N"].nunique() < 3:
                    continue
                gap = _err(spec, g[name]) - _err(spec, g[partner])
                scale = float(np.median(np.abs(_err(spec, g[name]))))
                # the largest model's gap against the others' typical gap, and growing with size overall
                if gap[-1] - np.median(gap[:-1]) > o["noise_k"] * ctx.sigma[name] * scale * 2 and np.corrcoef(np.log(g["N"]), gap)[0, 1] > 0.5:
                    run = str(g["run"].iloc[-1])
                    if not any(r["larger"] == run for r in rows):
                        rows.append({"D": float(lv[j]), "smaller": str(g["run"].iloc[0]), "larger": run, "N_smaller": float(g["N"].iloc[0]),
                                     "N_larger": float(g["N"].iloc[-1]), "worse_by": None, "rise_from_best": None,
                                     "gap": {str(g["run"].iloc[0]): float(gap[0]), run: float(gap[-1])}})
        if not rows:
            continue
        for r in rows:
            ctx.flagged.setdefault(r["larger"], "overfitting")
        parts = []
        for r in rows:
            s = f"{r['larger']} (N={r['N_larger']:.3g}) at D={r['D']:.3g}"
            if r["worse_by"] is not None:
                s += f" is {r['worse_by']:.1%} worse than the smaller {r['smaller']}"
            if r["rise_from_best"] is not None:
                s += f"; its {name} rose {r['rise_from_best']:.1%} from its best point by the end"
            if r["gap"]:
                s += f"; {name} - {partner} gap {r['gap'][r['smaller']]:.3g} -> {r['gap'][r['larger']]:.3g}"
            parts.append(s)
        out.append(Finding(
            "overfitting", "warning", name, "Larger models overfit the smaller data scales",
            "; ".join(parts) + ".",
            "An overfitting run sits above the law; fitted naively it bends the exponents and hides that more data, not more "
            "parameters, is what that size needs.",
            "Train the large models on more data (or regularise them); read the law only where data is sufficient for the size.",
            {"pairs": rows, "train_metric": partner, "noise": ctx.sigma[name],
             "runs_plotted": sorted({r["larger"] for r in rows} | {r["smaller"] for r in rows})[:4], "also_plot": partner}))
    return out


# --- batch-level checks -----------------------------------------------------------------
def _refit_without(ctx: Context, ma, drop: set[str], n_boot: int):
    from .fit import fit_curve

    fit = ma.fit
    keep = ~np.isin(fit.groups, list(drop | set(ctx.flagged)))
    if keep.sum() < fit.nfree + 3 or np.unique(fit.x[keep, 0]).size < 3 or np.unique(fit.x[keep, 1]).size < 2:
        return None
    return fit_curve(fit.x[keep], fit.y[keep], form=fit.form, metric=fit.metric, direction=fit.direction, bound=fit.bound,
                     groups=fit.groups[keep], n_boot=n_boot, seed=0, loss=fit.method["loss"], delta=fit.method["delta"] or 1e-3)


def check_extrapolation(ctx: Context, **o: Any) -> list[Finding]:
    b = ctx.batch
    out = []
    fin = b.finals()
    fin = fin[~fin["run"].isin(list(ctx.flagged))]
    if len(fin) < 8:
        return []
    for ma in _fits(ctx):
        results = {}
        k = max(2, int(round(o["holdout_fraction"] * len(fin))))
        by_c = set(fin.sort_values("C")["run"].iloc[-k:].astype(str))
        by_n = set(fin.loc[np.isclose(fin["N"], fin["N"].max(), rtol=0.02), "run"].astype(str))
        for label, held in (("largest compute", by_c), ("largest model", by_n)):
            if len(held) >= len(fin) - 5:
                continue
            refit = _refit_without(ctx, ma, held, o["n_boot_checks"])
            if refit is None:
                continue
            h = fin[fin["run"].isin(held)]
            pr = refit.predict(h["N"].to_numpy(), h["D"].to_numpy(), interval="prediction")
            obs = h[ma.name].to_numpy()
            rel = (pr.value - obs) / obs
            inside = (obs >= pr.lo) & (obs <= pr.hi) if pr.lo is not None else np.ones_like(obs, dtype=bool)
            results[label] = {"runs": list(map(str, h["run"])), "relative_error": rel.tolist(), "mean_abs_error": float(np.mean(np.abs(rel))),
                              "inside_interval": inside.tolist(), "coverage": float(inside.mean())}
        bad = {k_: v for k_, v in results.items()
               if v["mean_abs_error"] > max(o["noise_k"] * ctx.sigma[ma.name], 0.01) and v["coverage"] < 0.5}
        if not bad:
            continue
        worst = max(v["mean_abs_error"] for v in bad.values())
        out.append(Finding(
            "extrapolation", "critical" if worst > 0.1 else "warning", ma.name, "The law does not extrapolate to held-out larger runs",
            "; ".join(f"refitted without the {k_} runs ({', '.join(v['runs'][:4])}), it misses them by {v['mean_abs_error']:.1%} on average, "
                      f"{sum(v['inside_interval'])} of {len(v['runs'])} inside the 95% prediction interval" for k_, v in bad.items()) + ".",
            "Scaling laws are used to extrapolate; a law that cannot predict the runs it already has beyond its fitting range will not predict the next size.",
            "Fit a form that bends (see broken_law), narrow the claim to the range fitted, or add runs between the largest ones.",
            {"backtests": results, "noise": ctx.sigma[ma.name], "excluded_as_explained": sorted(ctx.flagged)}))
    return out


def check_extreme_bias(ctx: Context, **o: Any) -> list[Finding]:
    from .analysis import _best_run

    b = ctx.batch
    out = []
    for ma in ctx.an.metrics.values():
        env = ma.optimal.get("envelope")
        fin = b.finals()
        fin = fin[np.isfinite(fin[ma.name]) & ~fin["run"].isin(list(ctx.flagged))]  # flagged runs mislead both ways
        if env is None or not env.ok or len(fin) < 4:
            continue
        best = _best_run(b, ma.spec, exclude=ctx.flagged)
        e_best = float(_err(ma.spec, best["value"]))
        cand = []
        for _, r in fin.iterrows():
            if r["run"] == best["run"]:
                continue
            e = float(_err(ma.spec, r[ma.name]))
            smaller = r["N"] <= best["N"] / o["extreme_factor"]
            cheaper = r["C"] <= best["C"] / o["extreme_factor"]
            if e <= e_best * (1 + o["envelope_tol"]) and (smaller or cheaper):
                cand.append({"run": str(r["run"]), "value": float(r[ma.name]), "N": float(r["N"]), "C": float(r["C"]),
                             "worse_by": e / e_best - 1, "N_ratio": best["N"] / float(r["N"]), "C_ratio": best["C"] / float(r["C"])})
        if not cand:
            continue
        cand.sort(key=lambda c: c["C"])
        both = [c for c in cand if c["N_ratio"] >= o["extreme_factor"] and c["C_ratio"] >= o["extreme_factor"]]
        out.append(Finding(
            "extreme_bias", "warning" if both else "info", ma.name, "Cheaper models nearly as good as the envelope's choice",
            f"The best run {best['run']} (N={best['N']:.3g}, C={best['C']:.3g}) is matched within {o['envelope_tol']:.0%} by "
            + "; ".join(f"{c['run']} ({c['N_ratio']:.1f}x smaller, {c['C_ratio']:.1f}x less compute, {c['worse_by']:+.2%})" for c in cand[:5]) + ".",
            "The envelope keeps only the extreme model at each budget, so a law fitted to it recommends sizes that cost more than a "
            "nearly-as-good alternative already trained.",
            "Weigh these runs against the law's recommendation where inference cost or latency matters.",
            {"best": best, "candidates": cand, "tolerance": o["envelope_tol"]}))
    return out


def check_transfer(ctx: Context, **o: Any) -> list[Finding]:
    fits = [ma for ma in _fits(ctx) if ma.fit.ci]
    if len(fits) < 2:
        return []
    pairs = []
    for i in range(len(fits)):
        for j in range(i + 1, len(fits)):
            a, c = fits[i], fits[j]
            for k in ("alpha", "beta"):
                (l1, h1), (l2, h2) = a.fit.ci[k], c.fit.ci[k]
                v1, v2 = a.fit.params[k], c.fit.params[k]
                if max(l1, l2) > min(h1, h2) and abs(v1 - v2) / max(abs(v1), abs(v2)) > o["transfer_min_diff"]:
                    pairs.append({"metrics": [a.name, c.name], "param": k, "values": [v1, v2], "ci": [[l1, h1], [l2, h2]]})
            pa, pc = a.optimal.get("parametric"), c.optimal.get("parametric")
            if pa is not None and pc is not None and pa.ok and pc.ok:
                C = float(ctx.batch.frame["C"].max())
                ratio = float(pa.N_opt(C) / pc.N_opt(C))
                if pa.a_ci and pc.a_ci and max(pa.a_ci[0], pc.a_ci[0]) > min(pa.a_ci[1], pc.a_ci[1]) and (ratio > 2 or ratio < 0.5):
                    pairs.append({"metrics": [a.name, c.name], "param": "N_opt", "values": [float(pa.N_opt(C)), float(pc.N_opt(C))],
                                  "ci": [pa.a_ci, pc.a_ci], "C": C})
    if not pairs:
        return []
    return [Finding(
        "transfer", "warning", None, "The law does not transfer across metrics or eval sets",
        "; ".join(f"{p['param']}: {p['metrics'][0]} {p['values'][0]:.3g} vs {p['metrics'][1]} {p['values'][1]:.3g}" for p in pairs[:6])
        + " (95% intervals do not overlap).",
        "A law fitted on one eval set or metric is often used to choose sizes for another; here the exponents or optimal sizes differ.",
        "Choose sizes with the law of the metric that matters for the decision, or report each metric's law.",
        {"disagreements": pairs})]


def check_diminishing_returns(ctx: Context, **o: Any) -> list[Finding]:
    from .profiles import flops_factor, frontier_value

    out = []
    k = flops_factor(ctx.batch)
    for ma in _fits(ctx):
        if ma.target is None:
            continue
        C0 = ma.best["C"]
        e = [float(frontier_value(ma.fit.params, C0 * m, k)) for m in (1, 2, 10)]
        v = [float(ma.spec.from_error(x)) for x in e]
        g2, g10 = abs(v[1] - v[0]) / abs(v[0]), abs(v[2] - v[0]) / abs(v[0])
        mult = ma.target.compute_multiple
        if ma.target.reachable and mult is not None and mult <= o["marginal_compute_multiple"]:
            continue
        msg = (f"At the frontier (C={C0:.3g}) the law predicts {g2:.2%} better per 2x compute and {g10:.2%} per 10x; "
               + (f"{ma.target.improvement:.0%} better than the best run costs {mult:.3g}x its compute." if ma.target.reachable and mult else
                  f"{ma.target.improvement:.0%} better than the best run is beyond the law's floor ({ma.target.note})."))
        out.append(Finding(
            "diminishing_returns", "warning", ma.name, "Gains are marginal against their cost", msg,
            "Near the irreducible term each improvement multiplies the cost; the law makes that explicit before the compute is spent.",
            "Check whether the target is worth the compute, or look for gains elsewhere (data quality, architecture).",
            {"gain_per_2x": g2, "gain_per_10x": g10, "compute_multiple_for_target": mult, "target": ma.target.summary()}))
    return out


def check_identifiability(ctx: Context, **o: Any) -> list[Finding]:
    out = []
    for ma in _fits(ctx):
        f = ma.fit
        problems, ev = [], {}
        nN, nD = _levels(f.x[:, 0]).size, _levels(f.x[:, 1]).size
        rngD = float(f.x[:, 1].max() / f.x[:, 1].min())
        ev.update({"distinct_N": nN, "distinct_D": nD, "D_range": rngD})
        if nN < o["min_sizes"]:
            problems.append(f"only {nN} distinct model sizes")
        if nD < o["min_data_scales"]:
            problems.append(f"only {nD} distinct data scales")
        if rngD < o["min_data_range"]:
            problems.append(f"data spans only {rngD:.1f}x")
        for k in ("alpha", "beta", "E"):
            if f.ci and f.ci[k][1] - f.ci[k][0] > abs(f.params[k]):
                problems.append(f"the 95% interval of {k} ({f.ci[k][0]:.3g} to {f.ci[k][1]:.3g}) is wider than the estimate {f.params[k]:.3g}")
        for k in ("alpha", "beta"):
            if f.params[k] < 0.02 or f.params[k] > 2.5:
                problems.append(f"{k} = {f.params[k]:.3g} is at the edge of plausible values")
        if f.params["E"] < 1e-3 * float(np.min(_err(ma.spec, f.y))):
            problems.append(f"E = {f.params['E']:.3g} is at its bound (zero)")
        d = f.param_draws()
        if d is not None and len(d) > 10:
            names = list(f.form.param_names)
            sub = np.log(np.abs(d[:, [names.index("E"), names.index("alpha"), names.index("beta")]]) + 1e-300)
            sub = sub[np.all(np.isfinite(sub), axis=1)]
            with np.errstate(all="ignore"):
                corr = np.nan_to_num(np.corrcoef(sub, rowvar=False))
            ev["correlation_E_alpha_beta"] = corr.tolist()
            for (i, j), lab in (((0, 1), "E and alpha"), ((0, 2), "E and beta"), ((1, 2), "alpha and beta")):
                if abs(corr[i, j]) > o["max_corr"]:
                    problems.append(f"{lab} are correlated {corr[i, j]:+.3f} across resamples")
        if problems:
            ev["problems"] = problems
            out.append(Finding(
                "identifiability", "warning", ma.name, "Exponents poorly identified",
                "; ".join(problems) + ".",
                "With too few sizes or too narrow a data range, many parameter sets fit equally well and the exponents (and every "
                "optimum derived from them) are not pinned down.",
                "Add model sizes and data scales spanning at least 10x each; quote the intervals, not the point estimates.", ev))
    return out


def check_non_monotonic(ctx: Context, **o: Any) -> list[Finding]:
    b = ctx.batch
    out = []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        inv = [r for r in _inversions(ctx, name, o) if r["larger"] not in ctx.flagged]
        rising = []
        if b.has_checkpoints:
            for run in b.frame["run"].unique():
                if run in ctx.flagged:
                    continue
                r = _turns_up(ctx, name, str(run), o)
                if r is not None:
                    rising.append({"run": str(run), "rise_from_best": r})
        data_inv = _inversions(ctx, name, o, along="D", skip_flagged=True)  # more data hurting at a fixed size
        if not (inv or rising or data_inv):
            continue
        parts = [f"{r['larger']} (N={r['N_larger']:.3g}) is {r['worse_by']:.1%} worse than the smaller {r['smaller']} at D={r['D']:.3g}" for r in inv[:3]]
        parts += [f"{r['run']} gets {r['rise_from_best']:.1%} worse late in training" for r in rising[:3]]
        parts += [f"{r['larger']} is {r['worse_by']:.1%} worse than {r['smaller']} with more data at N={r['N']:.3g}" for r in data_inv[:3]]
        out.append(Finding(
            "non_monotonic", "warning", name, "Scaling is not monotonic",
            "; ".join(parts) + ".",
            "A power law assumes more parameters, data or compute always help; inverse or U-shaped scaling breaks every extrapolation made from it.",
            "Look at these runs (overfitting, instability, a broken eval); fit the law only on the monotonic range.",
            {"model_size_inversions": inv, "late_rises": rising, "data_inversions": data_inv, "noise": ctx.sigma[name],
             "runs_plotted": ([r["larger"] for r in inv] + [r["run"] for r in rising] + [r["larger"] for r in data_inv])[:4]}))
    return out


def _bnsl(c, a, b, c0, d1, c1, f1):
    """One-break broken power law (Caballero et al. 2022), in log-compute units for stability."""
    with np.errstate(over="ignore", invalid="ignore"):
        return a + b * np.exp(-c0 * c) * (1 + np.exp((c - d1) / f1)) ** (-c1 * f1)


def check_broken_law(ctx: Context, **o: Any) -> list[Finding]:
    from scipy.optimize import least_squares

    from .optimal import pareto_front

    b = ctx.batch
    out = []
    if not b.has_checkpoints:  # a grid of final points has a jagged frontier, not a curve to break
        return []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        f = b.frame[np.isfinite(b.frame[name]) & ~b.frame["run"].isin(list(ctx.flagged))]
        e = _err(spec, f[name])
        ok = e > 0
        x, y = np.log(f["C"].to_numpy()[ok]), e[ok]
        idx = pareto_front(x, np.log(y))
        if idx.size < 10:
            continue
        xs, ys = x[idx] - x[idx].min(), np.log(y[idx])
        folds = np.arange(idx.size) % 3
        err_single, err_broken = [], []
        for k in range(3):
            tr, te = folds != k, folds == k
            ym = float(np.exp(ys[tr]).min())

            def single(p, xx):
                return np.log(np.abs(p[0]) + np.exp(p[1] - p[2] * xx))

            r1 = least_squares(lambda p: single(p, xs[tr]) - ys[tr], [0.5 * ym, np.log(ym), 0.1])
            err_single.append(single(r1.x, xs[te]) - ys[te])
            best = None
            for d1 in np.quantile(xs, [0.35, 0.65]):
                p0 = [0.5 * ym, ym, 0.05, d1, 0.2, 0.5]

                def res(p):
                    v = _bnsl(xs[tr], abs(p[0]), abs(p[1]), p[2], p[3], p[4], abs(p[5]) + 1e-3)
                    return np.log(np.maximum(v, 1e-300)) - ys[tr]

                r = least_squares(res, p0, max_nfev=600)
                if best is None or r.cost < best.cost:
                    best = r
            p = best.x
            vb = _bnsl(xs[te], abs(p[0]), abs(p[1]), p[2], p[3], p[4], abs(p[5]) + 1e-3)
            err_broken.append(np.log(np.maximum(vb, 1e-300)) - ys[te])
        rs = float(np.sqrt(np.mean(np.concatenate(err_single) ** 2)))
        rb = float(np.sqrt(np.mean(np.concatenate(err_broken) ** 2)))
        if rb < o["broken_gain"] * rs and rs > max(o["noise_k"] * ctx.sigma[name], 0.005):
            out.append(Finding(
                "broken_law", "warning", name, "A broken power law fits the frontier clearly better",
                f"On held-out frontier points a one-break broken power law errs {rb:.2%} (RMS, log) against {rs:.2%} for the single law in compute.",
                "A break means the exponent changes with scale; a single law fitted across it is wrong on both sides, worst where it extrapolates.",
                "Fit the law on the range after the break, or use a broken power law (Caballero et al. 2022) for extrapolation.",
                {"rmse_single": rs, "rmse_broken": rb, "points": int(idx.size), "noise": ctx.sigma[name]}))
    return out


def check_residual_structure(ctx: Context, **o: Any) -> list[Finding]:
    from scipy.special import fdtrc  # the F survival function, without importing scipy.stats (0.6 s)

    out = []
    for ma in _fits(ctx):
        f = ma.fit
        keep = ~np.isin(f.groups, list(ctx.flagged))
        r = f.residuals[keep]
        if r.size < 12:
            continue
        trends = {}
        cols = {"N": f.x[keep, 0], "D": f.x[keep, 1]}
        cols["C"] = 6.0 * cols["N"] * cols["D"]
        for v, xv in cols.items():
            x = np.log(xv)
            x = (x - x.mean()) / (x.std() or 1)
            X = np.column_stack([np.ones_like(x), x, x ** 2])
            beta, *_ = np.linalg.lstsq(X, r, rcond=None)
            fitted = X @ beta
            rss1, rss0 = np.sum((r - fitted) ** 2), np.sum((r - r.mean()) ** 2)
            n = r.size
            F = ((rss0 - rss1) / 2) / (rss1 / (n - 3)) if rss1 > 0 else np.inf
            pval = float(fdtrc(2, n - 3, F))
            amp = float(np.max(np.abs(fitted - r.mean())))
            if pval < 1e-4 and amp > o["residual_trend"]:
                trends[v] = {"p_value": pval, "amplitude": amp, "linear": float(beta[1]), "quadratic": float(beta[2])}
        if trends:
            out.append(Finding(
                "residual_structure", "warning", ma.name, "Residuals trend with scale",
                "; ".join(f"log residuals trend with {v} by up to {t['amplitude']:.1%} (p={t['p_value']:.1g})" for v, t in trends.items()) + ".",
                "Residuals that trend with N, D or C mean the functional form is wrong where it matters most: at the ends, where it extrapolates.",
                "Try another form (a broken law, a different irreducible term), or restrict the fit to the range where residuals are flat.",
                {"trends": trends, "points": int(r.size), "excluded_as_explained": sorted(ctx.flagged)}))
    return out


def check_excluded(ctx: Context, **_: Any) -> list[Finding]:
    b = ctx.batch
    if not b.excluded:
        return []
    runs = [e.run for e in b.excluded]
    sev = "warning" if len(runs) > 0.2 * (b.runs + len(runs)) else "info"
    return [Finding(
        "excluded_runs", sev, None, "Runs excluded from every analysis",
        f"{len(runs)} run(s) were left out: " + "; ".join(f"{e.run}: {e.reason}" for e in b.excluded[:5])
        + (" ..." if len(runs) > 5 else ""),
        "Diverged runs often cluster at large sizes or high learning rates; leaving them out silently biases the law toward what trained well.",
        "Check the listed runs' training logs; rerun them or keep them out knowingly.",
        {"runs": runs, "reasons": [e.reason for e in b.excluded]},
    )]


# Order matters: run-level checks first, so the batch-level ones can leave their runs out.
CHECKS.update({
    "overfitting": check_overfitting,
    "not_converged": check_not_converged,
    "extrapolation": check_extrapolation,
    "extreme_bias": check_extreme_bias,
    "transfer": check_transfer,
    "diminishing_returns": check_diminishing_returns,
    "identifiability": check_identifiability,
    "non_monotonic": check_non_monotonic,
    "broken_law": check_broken_law,
    "residual_structure": check_residual_structure,
    "excluded_runs": check_excluded,
})


def run_checks(an: "BatchAnalysis", *, only: list[str] | None = None, **options: Any) -> list[Finding]:
    """Run the catalog (or ``only`` some codes) and return the findings, most severe first.

    Keyword arguments override the thresholds in :data:`DEFAULTS`.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        from .exceptions import ConfigError

        raise ConfigError(f"unknown check option(s) {sorted(unknown)}; expected some of {sorted(DEFAULTS)}", key="check_options")
    o = {**DEFAULTS, **options}
    sigma = {}
    for name in an.batch.metrics:
        ma = an.metrics.get(name)
        if ma is not None:
            sigma[name] = noise_level(an.batch, name, ma.fit)
    ctx = Context(an, sigma)
    out: list[Finding] = []
    for code, fn in CHECKS.items():
        if only and code not in only:
            continue
        out.extend(fn(ctx, **o))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: rank[f.severity])
