"""summary.json ``plan``: what to train next, per metric (see :mod:`scalekit.pipeline.planning`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analyses.plan import Plan
from ..jsonsafe import jsonable

__all__ = ["plan_block"]


def plan_block(plans: Mapping[str, Plan]) -> dict[str, Any]:
    """metric -> the plan's decision, its interval now and the runs picked, each with its expected interval after and
    the cumulative cost (plain JSON: null for what is not a finite number)."""
    out: dict[str, Any] = jsonable({name: p.summary() for name, p in plans.items()})
    return out
