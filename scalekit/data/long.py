"""Long tables (one row per run, checkpoint and metric) pivoted to the wide table a batch is.

Evaluation harnesses write one row per (model, checkpoint, task, metric) with the number in a
``value`` column (Pythia's lm-eval results, for one). Config ``long: {names: [task, metric],
value: value}`` turns each (task, metric) into a metric column named ``task/metric``.
"""

from __future__ import annotations

import pandas as pd

from ..exceptions import BatchValidationError
from .columns import resolve_columns
from .config import BatchConfig

__all__ = ["pivot_long"]


def pivot_long(raw: pd.DataFrame, cfg: BatchConfig, src: str, notes: list[str]) -> pd.DataFrame:
    """One column per combination of the ``names`` columns, indexed by the batch's key columns."""
    spec = cfg.long or {}
    names, value = spec["names"], spec["value"]
    for c in [*names, value]:
        if c not in raw.columns:
            raise BatchValidationError(src, "the `long:` config names a column that is not in the table", column=c,
                                       expected=f"one of {list(map(str, raw.columns))[:20]}")
    keys = [c for c in dict.fromkeys(resolve_columns(raw.drop(columns=[*names, value]), cfg, src).values())]
    if not keys:
        raise BatchValidationError(src, "a long table needs its key columns (params, tokens or step, run)", expected="`columns:`")
    metric = raw[names].astype(str).agg("/".join, axis=1)
    dup = pd.concat([raw[keys], metric.rename("_metric")], axis=1).duplicated(keep=False)
    if dup.any():
        rows = [int(i) + 2 for i in dup.to_numpy().nonzero()[0][:5]]
        raise BatchValidationError(src, f"several values for one (key, {'/'.join(names)}) in the long table", rows=rows,
                                   expected=f"one row per {', '.join(keys)} and {'/'.join(names)}")
    wide = (raw[keys].assign(_metric=metric.to_numpy(), _value=pd.to_numeric(raw[value], errors="coerce").to_numpy())
            .pivot_table(index=keys, columns="_metric", values="_value", aggfunc="first").reset_index())
    wide.columns = [str(c) for c in wide.columns]
    dropped = [c for c in raw.columns if c not in (*keys, *names, value)]
    notes.append(f"long table pivoted: one metric column per {'/'.join(names)} ({len(wide.columns) - len(keys)} in all)"
                 + (f"; columns {dropped[:6]} were not kept" if dropped else "") + ".")
    return wide
