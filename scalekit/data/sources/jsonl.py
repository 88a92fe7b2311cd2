"""JSON Lines metrics written beside checkpoints: one JSON object per line (per eval), several runs in a folder.

Layouts (both may mix in one folder):

- ``ROOT/<run>.jsonl``: one file per run, the stem is the run;
- ``ROOT/<run>/metrics.jsonl`` (or any ``*.jsonl`` at any depth below ``<run>``, as training codebases
  write them beside their checkpoints): the first-level folder is the run; its files merge.

Each non-blank line must be a JSON object, e.g. ``{"step": 2000, "tokens": 4.1e9, "eval/c4/loss": 3.1}``;
anything else is an error naming the file and the line number. Nested objects flatten with ``/``
(``{"eval": {"loss": 3.1}}`` gives ``eval/loss``); arrays are left out. The step is the first of
``step``, ``_step``, ``global_step``, ``trainer/global_step``, ``iteration``, ``iter`` present (or
``step_key=``); a file without any is numbered by line order. A ``run`` key in the lines names the
run instead of the file. Lines of one (run, step) merge (one line per eval set is common). Keys
constant within each run (``params``, ``lr``) become run attributes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ._runs import MAX_STEP, STEP_KEYS, apply_run_options, options_key, restore_infinities, tidy_history
from ._table import SourceTable, digest, file_state
from .errors import SourceError

__all__ = ["jsonl_files", "read_jsonl"]

_SUFFIXES = (".jsonl", ".ndjson")
_JSON_TYPE = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def jsonl_files(root: Path) -> list[Path]:
    """The JSON Lines files under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)


def _flatten(obj: dict[str, Any], out: dict[str, Any], dropped: set[str]) -> None:
    """Nested objects as ``a/b`` keys; a loop, not recursion, so no nesting depth can overflow the stack."""
    stack: list[tuple[str, dict[str, Any]]] = [("", obj)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                stack.append((name + "/", value))
            elif isinstance(value, list):
                dropped.add(name)
            else:
                out[name] = value


class _KeepPairs:
    """``object_pairs_hook`` that builds the dict as json does (last value wins) and records repeated keys."""

    def __init__(self) -> None:
        self.repeated: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) < len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    self.repeated.append(k)
                seen.add(k)
        return out


def _read_file(path: Path, run: str, step_key: str | None, notes: list[str]) -> list[dict[str, Any]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    dropped: set[str] = set()
    pairs = _KeepPairs()
    repeated: list[tuple[int, str]] = []  # (line, key) of keys written twice in one object
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line, object_pairs_hook=pairs)
                except json.JSONDecodeError as exc:
                    raise SourceError(str(path), f"not valid JSON ({exc.msg} at column {exc.colno})", line=lineno) from None
                except RecursionError:
                    raise SourceError(str(path), "JSON nested too deeply to read (hundreds of levels)", line=lineno,
                                      hint='Each line must be one flat object, like {"step": 1000, "eval_loss": 2.9}') from None
                if not isinstance(obj, dict):
                    raise SourceError(str(path), f"not a JSON object but {_JSON_TYPE.get(type(obj), type(obj).__name__)}", line=lineno,
                                      hint='Each line must be one object, like {"step": 1000, "eval_loss": 2.9}')
                if pairs.repeated:
                    repeated += [(lineno, k) for k in pairs.repeated]
                    pairs.repeated.clear()
                flat: dict[str, Any] = {}
                _flatten(obj, flat, dropped)
                rows.append((lineno, flat))
    except UnicodeDecodeError as exc:
        raise SourceError(str(path), f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise SourceError(str(path), f"could not be read ({exc.strerror or exc})") from None
    if dropped:
        notes.append(f"{path.name}: arrays {sorted(dropped)[:5]} were left out")
    if repeated:  # json keeps the last value of a repeated key: said, not silent
        twice = sorted({k for _, k in repeated})
        notes.append(f"{path.name}: {len(repeated)} key(s) written twice in one object (first on line {repeated[0][0]}: "
                     f"{twice[:5]}); the last value of each was kept")
    if not rows:
        notes.append(f"{path.name} holds no JSON object (empty) and was skipped")
    keys = {k for _, r in rows for k in r}
    key = step_key or next((k for k in STEP_KEYS if k in keys), None)
    if step_key is not None and step_key not in keys and rows:
        raise SourceError(str(path), f"no line has the step key {step_key!r}")
    out = []
    for i, (lineno, r) in enumerate(rows):
        if key is None:
            step: Any = i
        else:
            step = r.pop(key, None)
            if (isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step < 0 or step != int(step)
                    or step > MAX_STEP):
                what = "has no" if step is None else f"has {step!r} as its"
                raise SourceError(str(path), f"this object {what} step {key!r}", line=lineno,
                                  hint=f"Every line needs a whole-number step from 0 to {MAX_STEP:.0f} (2**53)")
        for other in STEP_KEYS:  # other counters (a trainer step beside `step`) are not metrics
            r.pop(other, None)
        r["run"] = str(r.pop("run")) if "run" in r else run
        r["step"] = int(step)
        out.append(r)
    if key is None and rows:
        notes.append(f"{path.name}: no step key; lines were numbered 0, 1, 2, ... as steps")
    return out


def read_jsonl(spec: str | Path, *, run_pattern: str | None = None, runs: Any = None, name: str | None = None,
               step_key: str | None = None) -> SourceTable:
    """Read a folder of JSON Lines metrics (one file or one subfolder per run) as one batch.

    Parameters
    ----------
    spec : str or Path
        The folder, or a single ``.jsonl`` file (a ``jsonl:`` prefix is allowed).
    run_pattern : str, optional
        Pattern for run names, e.g. ``"{params}-{tokens}"``: fields become columns.
    runs : mapping, DataFrame or path, optional
        Run table: run name -> {column: value}.
    name : str, optional
        Batch name (default: the folder name).
    step_key : str, optional
        The key holding the step, when it is none of the usual ones.

    Returns
    -------
    SourceTable

    Raises
    ------
    SourceError
        Naming the file and line of a line that is not a JSON object or has no step.
    """
    import pandas as pd

    text = str(spec)
    path = Path(text.removeprefix("jsonl:"))
    if path.is_file():
        root, files = path.parent, [path]
    elif path.is_dir():
        root, files = path, jsonl_files(path)
        if not files:
            raise SourceError(str(path), "no .jsonl files in this folder")
    else:
        raise SourceError(str(path), "no such file or folder")
    source = f"jsonl {path}"
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    for f in files:
        rel = f.relative_to(root).parts
        rows += _read_file(f, rel[0] if len(rel) > 1 else f.stem, step_key, notes)
    if not rows:
        raise SourceError(str(path), "the files hold no JSON objects")
    frame = pd.DataFrame.from_records(rows)
    # a key written as null was not logged; NaN (JSON's NaN token) was: it marks a diverged run
    present = pd.DataFrame.from_records([{k: True for k, v in r.items() if v is not None} for r in rows], index=frame.index)
    frame, logged, metrics, run_columns = tidy_history(frame, notes, present)
    restore_infinities(frame, metrics, notes)
    frame = apply_run_options(frame, metrics, run_columns, source, notes, run_pattern=run_pattern, runs=runs)
    fingerprint = digest("jsonl", str(path.resolve()), file_state(files, root), options_key(run_pattern=run_pattern, runs=runs, step_key=step_key))
    return SourceTable(frame=frame.reset_index(drop=True), name=name or (path.stem if path.is_file() else path.resolve().name), source=source,
                       fingerprint=fingerprint, notes=tuple(notes), kind="jsonl", metrics=tuple(metrics), run_columns=tuple(run_columns),
                       logged=logged.loc[frame.index, metrics].reset_index(drop=True))
