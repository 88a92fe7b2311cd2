"""Whether a law fitted on one metric or eval set transfers to another.

Two metrics whose own laws disagree (exponents or compute-optimal sizes beyond their intervals)
are read through the loss-to-loss map between them (:mod:`scalekit.analyses.transfer`), when the
batch has one: a map that fits says the law transfers *through the map*, with its error; a map that
does not fit says transfer fails, with the evidence.
"""

from __future__ import annotations

from typing import Any

from ..analyses.transfer import Transfer
from ..options import Thresholds
from .base import Context, Finding, fitted

__all__ = ["check_transfer"]


def _disagreements(ctx: Context, o: Thresholds) -> list[dict[str, Any]]:
    fits = [(ma, ma.fit.params, ma.fit.ci) for ma in fitted(ctx) if ma.fit is not None and ma.fit.ci]
    pairs: list[dict[str, Any]] = []
    for i in range(len(fits)):
        for j in range(i + 1, len(fits)):
            (a, a_params, a_ci), (c, c_params, c_ci) = fits[i], fits[j]
            for k in ("alpha", "beta"):
                (l1, h1), (l2, h2) = a_ci[k], c_ci[k]
                v1, v2 = a_params[k], c_params[k]
                if max(l1, l2) > min(h1, h2) and abs(v1 - v2) / max(abs(v1), abs(v2)) > o.transfer_min_diff:
                    pairs.append({"metrics": [a.name, c.name], "param": k, "values": [v1, v2], "ci": [[l1, h1], [l2, h2]]})
            pa, pc = a.optimal.get("parametric"), c.optimal.get("parametric")
            if pa is not None and pc is not None and pa.ok and pc.ok:
                C = float(ctx.batch.frame["C"].max())
                ratio = float(pa.N_opt(C) / pc.N_opt(C))
                if (pa.a_ci and pc.a_ci and max(pa.a_ci[0], pc.a_ci[0]) > min(pa.a_ci[1], pc.a_ci[1])
                        and (ratio > o.transfer_nopt_ratio or ratio < 1 / o.transfer_nopt_ratio)):
                    pairs.append({"metrics": [a.name, c.name], "param": "N_opt",
                                  "values": [float(pa.N_opt(C)), float(pc.N_opt(C))], "ci": [pa.a_ci, pc.a_ci], "C": C})
    return pairs


def _map_for(ctx: Context, metrics: list[str]) -> Transfer | None:
    """The map joining the two metrics of a disagreement, if the batch fitted one (source -> target)."""
    for target in metrics:
        t = ctx.transfers.get(target)
        if t is not None and t.source in metrics and t.map is not None:
            return t
    return None


def _describe(t: Transfer) -> str:
    assert t.map is not None
    s = f"{t.source} -> {t.target}: map RMSE {t.map.rmse:.2%}"
    if t.backtest is not None:
        s += (f", held out at N={t.backtest.heldout_N:.3g} it predicts {t.target} within {t.backtest.error_via_map:.2%} "
              f"through {t.source}'s law (its own law: {t.backtest.error_own_law:.2%})")
    return s


def _unique(ts: Any) -> list[Transfer]:
    return list({id(t): t for t in ts}.values())


def check_transfer(ctx: Context, o: Thresholds) -> list[Finding]:
    """Metrics whose laws disagree beyond their intervals, read through the loss-to-loss map between them."""
    pairs = _disagreements(ctx, o)
    if not pairs:
        return []
    through: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for p in pairs:
        t = _map_for(ctx, p["metrics"])
        p["map"] = None if t is None else t.summary()
        (unmapped if t is None else through if t.fits_well else failed).append(p)
    text = "; ".join(f"{p['param']}: {p['metrics'][0]} {p['values'][0]:.3g} vs {p['metrics'][1]} {p['values'][1]:.3g}"
                     for p in pairs[:6]) + " (95% intervals do not overlap)."
    maps = {tuple(p["metrics"]): t for p in pairs if (t := _map_for(ctx, p["metrics"])) is not None}
    out: list[Finding] = []
    if failed or unmapped:
        bad_maps = [_describe(t) for t in _unique(maps.values()) if not t.fits_well]
        out.append(Finding(
            "transfer", "warning", None, "The law does not transfer across metrics or eval sets",
            text + (" The loss-to-loss map between them does not fit either: " + "; ".join(bad_maps) + "." if bad_maps else ""),
            "A law fitted on one eval set or metric is often used to choose sizes for another; here the exponents or optimal "
            "sizes differ"
            + (", and no shifted power law L_B = K (L_A - E_A)^kappa + E_B joins the two" if bad_maps else "") + ".",
            "Choose sizes with the law of the metric that matters for the decision, or report each metric's law.",
            {"disagreements": failed + unmapped, "maps": [t.summary() for t in _unique(maps.values())]}))
    if through:
        good = [_describe(t) for t in _unique(maps.values()) if t.fits_well]
        out.append(Finding(
            "transfer", "info", None, "The laws differ, but the law transfers through a loss-to-loss map",
            text + " Yet the metrics are joined by a shifted power law L_B = K (L_A - E_A)^kappa + E_B (Brandfonbrener et al. "
            "2024): " + "; ".join(good) + ".",
            "Each metric's own law extrapolates on its own; predicting one from the other through the map carries the "
            "source law's extrapolation error plus the map's.",
            "Predict the other metric from the primary law through the map (summary.json `transfer`), or fit each law on "
            "its own, and compare.",
            {"disagreements": through, "maps": [t.summary() for t in _unique(maps.values()) if t.fits_well]}))
    return out
