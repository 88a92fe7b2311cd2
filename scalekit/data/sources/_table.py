"""The table every source reader returns, and the hashing behind its fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads lazily, as in the rest of scalekit
    import pandas as pd

__all__ = ["SourceTable", "digest", "file_state"]


@dataclass(frozen=True, eq=False)  # identity equality: comparing frames field by field is ambiguous
class SourceTable:
    """One experiment batch read from a tracker, as the table :func:`scalekit.load_batch` takes.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per (run, step): a ``run`` column (str), a ``step`` column (int), one column per
        logged scalar metric (NaN where a metric was not logged at that step), and one column per
        run attribute (params, tags, hparams, fields parsed from run names), repeated on every row
        of the run. Attribute values that all read as numbers (``1e8``, ``125M``, ``1.3B``) are floats.
    name : str
        Batch name: the experiment name, or the folder name.
    source : str
        Human-readable origin, e.g. ``mlflow sqlite:///x/mlflow.db experiment 'E'``.
    fingerprint : str
        Hash of the store's state (runs, their metric counts and last updates, or file sizes and
        mtimes) and of the reader options: it changes when a run or a metric point is added.
    notes : tuple of str
        What the reader did that a user should know (skipped files, merged duplicates, ...).
    kind : str
        ``"mlflow"``, ``"tensorboard"``, ``"wandb"`` or ``"jsonl"``.
    metrics : tuple of str
        The columns that hold logged series (candidate metrics), in the order first seen.
    run_columns : tuple of str
        The per-run attribute columns (never metrics).
    logged : pandas.DataFrame or None
        Booleans, indexed like ``frame``, one column per metric: True where a point was logged, a
        logged NaN included. It tells "not logged at this step" (eval every 1000 steps, train loss
        every 10) from "logged as NaN" (a diverged run), which ``frame`` alone cannot: see :meth:`select`.
    """

    frame: pd.DataFrame
    name: str
    source: str
    fingerprint: str
    notes: tuple[str, ...] = ()
    kind: str = ""
    metrics: tuple[str, ...] = ()
    run_columns: tuple[str, ...] = ()
    logged: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def runs(self) -> int:
        """Number of distinct runs."""
        return int(self.frame["run"].nunique())

    def batch_config(self) -> dict[str, Any]:
        """Config defaults for :func:`scalekit.load_batch` on :attr:`frame`.

        The batch name, and ``ignore`` listing every column that is not one of :attr:`metrics`: run
        attributes (a learning rate, a seed) and the series :meth:`select` set aside are never metrics.
        ``ignore`` only keeps a column from being a metric: ``params``/``tokens`` among them are still
        found as N and D.
        """
        return {"name": self.name, "ignore": [c for c in self.frame.columns if c not in ("run", "step", *self.metrics)]}

    def select(self, metrics: str | Sequence[str]) -> SourceTable:
        """The table for an analysis of some metrics: the rows where one of them was logged.

        Trackers log metrics at different steps, so ``frame`` has NaN where a metric was not logged at a
        step; :func:`scalekit.load_batch` reads NaN in a loss as divergence. Here a row stays when any of
        the chosen metrics was logged at its step, a logged NaN included, so diverged runs are still
        excluded and listed by the batch while the gaps between evals disappear. The other series stay
        in the frame (one may be D, such as tokens seen) but are no longer :attr:`metrics`, so
        :meth:`batch_config` ignores them as metrics.

        Parameters
        ----------
        metrics : str or list of str
            Columns among :attr:`metrics`.

        Returns
        -------
        SourceTable
            Same name, source and fingerprint (the store did not change), ``metrics`` as chosen.
        """
        from dataclasses import replace

        from .errors import SourceError

        chosen = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in chosen if m not in self.metrics]
        if unknown or not chosen:
            raise SourceError(self.source, f"no metric {unknown[0]!r}" if unknown else "no metric chosen",
                              hint=f"Its metrics are {list(self.metrics)}")
        logged = self.logged if self.logged is not None else self.frame[list(self.metrics)].notna()
        keep = logged[chosen].any(axis=1).to_numpy()
        notes = self.notes
        if not keep.all():
            notes += (f"{int((~keep).sum())} of {len(keep)} rows had no logged value of {chosen} and were left out",)
        return replace(self, frame=self.frame.loc[keep].reset_index(drop=True), metrics=tuple(chosen), notes=notes,
                       logged=logged.loc[keep].reset_index(drop=True))

    def __repr__(self) -> str:
        return (f"SourceTable({self.source}: {self.runs} runs, {len(self.frame)} rows, "
                f"metrics {list(self.metrics)}, fingerprint {self.fingerprint[:12]})")


def _default(obj: object) -> object:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(map(str, obj))
    return repr(obj)


def digest(*parts: object) -> str:
    """A stable hex hash of JSON-able parts (dict keys sorted).

    >>> digest({"a": 1, "b": [2, 3]}) == digest({"b": [2, 3], "a": 1})
    True
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=_default).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def file_state(files: Iterable[Path], root: Path) -> list[tuple[str, int, int]]:
    """(path relative to root, size, mtime in ns) of each file: what a file source's fingerprint hashes.

    Size catches appended points; mtime catches a file rewritten to the same size.
    """
    out = []
    for f in sorted(files):
        st = f.stat()
        out.append((f.relative_to(root).as_posix() if f != root else f.name, st.st_size, st.st_mtime_ns))
    return out
