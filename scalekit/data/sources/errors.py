"""Errors raised while reading a tracker source (MLflow, TensorBoard, W&B export, JSON Lines)."""

from __future__ import annotations

from ...exceptions import ScalekitError

__all__ = ["MissingExtraError", "SourceError"]


class SourceError(ScalekitError, ValueError):
    """A tracker source could not be read, or does not hold what a batch needs.

    Attributes
    ----------
    source : str
        The store, folder or file (as the user named it, or the file inside it that failed).
    message : str
        What is wrong.
    line : int or None
        1-based line number in ``source`` when the problem is on one line (JSON Lines).
    hint : str or None
        What to do about it.
    """

    def __init__(self, source: str, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        self.source = source
        self.message = message
        self.line = line
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}, line {self.line}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f". {self.hint}"
        return text


class MissingExtraError(SourceError, ImportError):
    """The optional packages a reader needs are not installed; the message names the extra to install."""

    def __init__(self, source: str, what: str, extra: str, *, missing: str | None = None) -> None:
        self.extra = extra
        self.missing = missing
        detail = f" (no module {missing!r})" if missing else ""
        super().__init__(source, f"reading {what} needs the optional packages of scalekit[{extra}]{detail}",
                         hint=f'Install them with: pip install "scalekit[{extra}]"')
