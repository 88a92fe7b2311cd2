"""Reading a table from a file: CSV, TSV, Parquet, JSON Lines."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import BatchValidationError

__all__ = ["DATA_SUFFIXES", "read_table"]

DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")

# Row numbers a user sees: an offset from the 0-based row position, or one number per row
# (JSON Lines, where blank lines are skipped).
RowNumbers = int | npt.NDArray[np.int64]


def read_table(path: Path) -> tuple[pd.DataFrame, RowNumbers]:
    """The table and how its 0-based row positions map to the row (line) numbers a user sees."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            sep = "\t" if suffix == ".tsv" else ","
            _refuse_duplicate_header(path, sep)
            df = pd.read_csv(path, sep=sep)
            return df.reset_index(drop=True), 2  # line 1 is the header
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True), 1
        if suffix in (".jsonl", ".ndjson"):
            return _read_json_lines(path)
        if suffix == ".json":
            return pd.read_json(path).reset_index(drop=True), 1
    except BatchValidationError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BatchValidationError(str(path), f"could not be read ({exc})") from None
    raise BatchValidationError(str(path), f"unsupported file type {suffix!r}",
                               expected="one of .csv, .tsv, .parquet, .jsonl")


def _refuse_duplicate_header(path: Path, sep: str) -> None:
    """pandas renames a repeated column to ``loss.1`` without a word: read the header line ourselves."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    dup = [c for c, k in Counter(h.strip() for h in header).items() if k > 1 and c]
    if dup:
        raise BatchValidationError(str(path), f"the header names column {dup[0]!r} more than once", column=dup[0], rows=[1],
                                   expected="each column name once in the header line")


def _read_json_lines(path: Path) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """One JSON object per line; a bad line is reported by its line number (pandas gives a character position)."""
    records: list[dict[str, object]] = []
    lines: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, object_pairs_hook=_unique_keys)
            except _RepeatedKey as exc:  # json keeps the last value silently; a CSV header naming a column twice is refused too
                raise BatchValidationError(str(path), f"line {no} names the key {exc.key!r} more than once", column=exc.key,
                                           rows=[no], expected="each key once in an object") from None
            except json.JSONDecodeError as exc:
                raise BatchValidationError(str(path), f"line {no} is not valid JSON ({exc.msg})",
                                           rows=[no], expected="one JSON object per line") from None
            except RecursionError:
                raise BatchValidationError(str(path), f"line {no} is JSON nested too deeply to read (hundreds of levels)",
                                           rows=[no], expected="one flat JSON object per line") from None
            if not isinstance(obj, dict):
                raise BatchValidationError(str(path), f"line {no} is a JSON {_json_kind(obj)}, not an object", rows=[no],
                                           expected='one JSON object per line, like {"params": 1e8, "tokens": 2e9, "loss": 3.1}')
            records.append(obj)
            lines.append(no)
    return pd.DataFrame.from_records(records), np.asarray(lines, dtype=np.int64)


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) < len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _RepeatedKey(k)
            seen.add(k)
    return out


def _json_kind(obj: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(obj), "number")
