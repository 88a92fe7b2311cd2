"""summary.json's ``hyperparameters`` block: every number of the "Hyperparameters at scale" section.

Per metric: the laws of the three estimates (power laws ``coef * N^N_exp * D^D_exp`` with 95% intervals), the
bowls per cell, the answers where the user will train, and the critical batch. Every interval comes from one
bootstrap count (``n_boot``), the one the report page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses.hparam_laws import Answer, PowerLaw
from ..analyses.hparams_at_scale import HparamsAtScale
from ..jsonsafe import jsonable

__all__ = ["hyperparameters_block"]


def _ci(v: tuple[float, float] | None) -> list[float] | None:
    return None if v is None else [float(v[0]), float(v[1])]


def _power(law: PowerLaw | None) -> dict[str, Any] | None:
    if law is None:
        return None
    p, ci = law.fit.params, law.ci
    names = {"c": "coef", "a": "N_exp", "b": "D_exp"}
    return {**{names[k]: p[k] for k in p}, "ci": {names[k]: _ci(ci.get(k)) for k in p}}


def _surface_law(h: HparamsAtScale, which: str) -> dict[str, Any] | None:
    s = h.laws.surface
    if s is None or f"c_{which}" not in s.fit.params:
        return None
    p, ci = s.fit.params, s.fit.ci or {}
    keys = {f"c_{which}": "coef", f"a_{which}": "N_exp", f"b_{which}": "D_exp"}
    return {**{v: p[k] for k, v in keys.items() if k in p}, "ci": {v: _ci(ci.get(k)) for k, v in keys.items() if k in p}}


def _pairs(d: Mapping[str, tuple[float, tuple[float, float]]]) -> dict[str, Any]:
    return {k: {"value": v, "ci": _ci(ci)} for k, (v, ci) in d.items()}


def _answer(a: Answer) -> dict[str, Any]:
    return {"label": a.label, "N": a.N, "D": a.D, "extrapolation": a.extrapolation, "lr": _pairs(a.lr),
            "batch_tokens": _pairs(a.B), "batch_sequences": _pairs(a.B_seq) if a.B_seq else None,
            "penalty_2x": _pairs(a.penalty_2x), "within": {k: _ci(v) for k, v in a.within.items()},
            "tolerance": a.tolerance}


def _one(h: HparamsAtScale) -> dict[str, Any]:
    laws = h.laws
    s = laws.surface
    surface = None
    if s is not None:
        surface = {"form": s.form.name, "formula": s.form.formula, "params": s.fit.params,
                   "ci": {k: _ci(v) for k, v in (s.fit.ci or {}).items()}, "lr": _surface_law(h, "lr"),
                   "batch": _surface_law(h, "B"), "success": s.fit.success, "message": s.fit.message}
    crit = None
    if h.critical is not None:
        c = h.critical
        crit = {"cells": [{"N": x.N, "D": x.D, "target": x.target, "B_crit": x.B_crit, "B_crit_ci": _ci(x.B_crit_ci),
                           "S_min": x.S_min, "E_min": x.E_min} for x in c.cells],
                "trend": None if c.trend is None else {"coef": c.trend.params["k"], "N_exp": c.trend.params["a"],
                                                      "D_exp": c.trend.params["b"],
                                                      "ci": {n: _ci((c.trend.ci or {}).get(k)) for k, n in
                                                             (("k", "coef"), ("a", "N_exp"), ("b", "D_exp"))}},
                "skipped": list(c.skipped)}
    return {
        "metric": h.metric, "lr_column": h.lr_column, "batch_column": h.batch_column, "seq_len": h.seq_len,
        "runs": h.runs, "cells": len(laws.bowls), "n_boot": laws.n_boot, "tolerance": laws.tolerance,
        "laws": {"bowls": {"lr": _power(laws.lr), "batch": _power(laws.B)},
                 "near_optimal": {"lr": _power(laws.lr_near), "batch": _power(laws.B_near)},
                 "surface": surface},
        "bowls": [{"N": b.N, "D": b.D, "runs": b.runs, "lr_opt": b.lr_opt, "batch_opt": b.B_opt, "loss_opt": b.loss_opt,
                   "best_run": b.best_run, "best_value": b.best_value, "best_lr": b.best_lr, "best_batch": b.best_B,
                   "bracketed": b.bracketed, "note": b.note, "penalty_2x": b.penalty(2.0)} for b in laws.bowls],
        "answers": [_answer(a) for a in h.answers],
        "unbracketed": list(laws.unbracketed), "notes": list(laws.notes),
        "critical_batch": crit, "critical_note": h.critical_note,
    }


def hyperparameters_block(analyses: Mapping[str, HparamsAtScale]) -> dict[str, Any]:
    """metric -> the section's numbers (plain JSON: NaN as null)."""
    out: dict[str, Any] = jsonable({k: _one(h) for k, h in analyses.items()})
    return out
