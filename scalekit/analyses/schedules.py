"""What a batch's learning-rate schedules change in the analyses: which rows Approach 1 may use."""

from __future__ import annotations

from typing import Any

from ..data.batch import Batch
from ..data.schedule import run_status

__all__ = ["envelope_rows"]


def envelope_rows(batch: Batch) -> dict[str, Any]:
    """Keyword arguments for :func:`scalekit.analyses.optimal.envelope`: endpoints only when runs decay to their own end.

    A checkpoint in the middle of a decaying schedule has not been annealed: it sits above the loss a
    run of that length would reach, so only each run's endpoint is a point of the envelope
    (Chinchilla's own caveat; the OLMo ladder). Constant-LR runs keep every checkpoint.
    """
    if not batch.has_schedule:
        return {}
    status = run_status(batch.frame, batch.schedule)
    decaying = [s.run for s in status.values() if s.state in ("finished", "mid_decay")]
    if not decaying:
        return {}
    return {"rows": "final",
            "why": f"{len(decaying)} of {len(status)} runs decay their learning rate to their own end: the envelope uses "
                   "each run's endpoint only (intermediate checkpoints are not annealed)"}
