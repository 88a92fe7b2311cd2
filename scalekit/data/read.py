"""Reading a table from a file: CSV, TSV, Parquet, JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..exceptions import BatchValidationError

__all__ = ["DATA_SUFFIXES", "read_table"]

DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")


def read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The table and the offset from 0-based row position to the row number a user sees."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
            return df.reset_index(drop=True), 2  # line 1 is the header
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True), 1
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=suffix != ".json").reset_index(drop=True), 1
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BatchValidationError(str(path), f"could not be read ({exc})") from None
    raise BatchValidationError(str(path), f"unsupported file type {suffix!r}",
                               expected="one of .csv, .tsv, .parquet, .jsonl")


