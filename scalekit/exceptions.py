"""One exception family for everything scalekit raises on purpose.

Every error a user can cause derives from :class:`ScalekitError`, so callers can catch
one type. Subclasses carry structured fields (file, rows, column, expected) and build a
readable message from them, in the manner of papermill's exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BatchValidationError",
    "ConfigError",
    "ExtrapolationWarning",
    "FitError",
    "FormulaError",
    "RenderError",
    "ScalekitError",
]


def _describe_rows(rows: Sequence[int], limit: int = 5) -> str:
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        shown += f", ... ({len(rows)} rows in all)"
    elif len(rows) > 1:
        shown += f" ({len(rows)} rows)"
    return shown


class ScalekitError(Exception):
    """Base class of every error scalekit raises deliberately."""


class BatchValidationError(ScalekitError, ValueError):
    """A batch table failed validation at load time.

    Attributes
    ----------
    source : str
        The file (or ``"<DataFrame>"``) the table came from.
    problem : str
        What is wrong, in one phrase.
    column : str or None
        The offending column, if one.
    rows : list of int
        Offending data rows, numbered as in the file (1 = first data row after the header).
    expected : str or None
        What was expected instead.
    """

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        column: str | None = None,
        rows: Sequence[int] = (),
        expected: str | None = None,
    ) -> None:
        self.source = source
        self.problem = problem
        self.column = column
        self.rows = [int(r) for r in rows]
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{self.source}: {self.problem}"]
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.rows:
            parts.append(f"row(s) {_describe_rows(self.rows)}")
        msg = "; ".join(parts)
        if self.expected:
            msg += f". Expected {self.expected}."
        return msg


class ConfigError(ScalekitError, ValueError):
    """A batch config (YAML or keyword arguments) or a notebook parameter is invalid."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "config"
        if self.key:
            where += f" [{self.key}]"
        return f"{where}: {self.message}"


class FormulaError(ConfigError):
    """A law formula that cannot be read: one line with the position and what was expected there."""

    def __init__(self, formula: str, position: int, problem: str) -> None:
        self.formula = formula
        self.position = position
        self.problem = problem
        snippet = formula[max(0, position - 20):position + 20].replace("\n", " ")
        super().__init__(f"{problem} at position {position + 1}: {snippet!r}", source="law formula", key=None)


class FitError(ScalekitError, RuntimeError):
    """A law could not be fitted (too few points, degenerate data)."""

    def __init__(self, message: str, *, metric: str | None = None, form: str | None = None) -> None:
        self.metric = metric
        self.form = form
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        ctx = ", ".join(x for x in (f"metric {self.metric!r}" if self.metric else "", self.form or "") if x)
        return f"{self.message}" + (f" ({ctx})" if ctx else "")


class RenderError(ScalekitError, RuntimeError):
    """Executing or converting a report notebook failed."""

    def __init__(self, message: str, *, batch: str | None = None, notebook: str | None = None) -> None:
        self.batch = batch
        self.notebook = notebook
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        s = self.message
        if self.batch:
            s = f"batch {self.batch!r}: {s}"
        if self.notebook:
            s += f" (executed notebook: {self.notebook})"
        return s


class ExtrapolationWarning(UserWarning):
    """A prediction lies further beyond the range a law was fitted on than the threshold allows."""
