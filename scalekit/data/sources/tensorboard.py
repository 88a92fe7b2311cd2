"""TensorBoard event folders: one subfolder per run, scalars as metric columns, the event step as step.

Layout: ``ROOT/<run>/events.out.tfevents.*`` (any depth below the run folder). A run is a first-level
subfolder of ``ROOT``; when ``ROOT`` itself holds event files, ``ROOT`` is a single run. Event files in
a deeper folder (Keras writes ``<run>/train`` and ``<run>/validation``) give metrics prefixed with that
folder: ``validation/epoch_loss``.

Records are read here (the TFRecord framing: length, its checksum, the event, its checksum) and passed
through TensorBoard's own read-time compat layers, which need no TensorFlow; every point is read
(TensorBoard's ``EventAccumulator`` would subsample scalars to 1000 per tag). TensorBoard's loader
stops quietly at the first damaged record; here a record whose checksum fails is skipped, the reader
finds the next intact record, and the run's notes say what was lost. A run whose last records are
damaged is left out, said in a note: its last readable point is not its end, and a data size from
``run_pattern`` or ``runs`` (the run's final D) would be paired with it. Scalars written as TF1/tensorboardX ``simple_value`` or as TF2 scalar
tensors read the same. When the same tag is written twice at a step (a resumed run), the point with
the later wall time is kept.

N and D come from, in this order of precedence:

1. ``runs``: a run table (run name -> {params, tokens, ...}), a DataFrame or a CSV/Parquet file;
2. ``run_pattern``: run folder names parsed by a pattern such as ``"{params}-{tokens}"`` or
   ``"n{params}_d{tokens}"`` (``125M``, ``1.3B``, ``2e9`` understood);
3. hparams logged with the TensorBoard hparams plugin (tensorboardX or torch ``add_hparams``,
   Lightning's ``log_hyperparams``, ``tensorboard.plugins.hparams``).

The copies of final metrics that ``add_hparams`` writes to a subfolder of its own, and single-point
metrics registered with the hparams beside the series (Lightning's ``hp_metric``), are left out. Needs ``pip install "scalekit[tensorboard]"``.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ._runs import RunData, apply_run_options, assemble, options_key, restore_infinities
from ._table import SourceTable, digest, file_state
from .errors import MissingExtraError, SourceError

__all__ = ["event_files", "is_tensorboard_folder", "read_tensorboard"]

_MARK = "tfevents"


def event_files(root: Path) -> list[Path]:
    """Every TensorBoard event file under ``root``, sorted."""
    return sorted(p for p in root.rglob(f"*{_MARK}*") if p.is_file())


def is_tensorboard_folder(path: Path) -> bool:
    """Whether ``path`` is a folder with event files in it (at any depth)."""
    return path.is_dir() and any(p.is_file() for p in path.rglob(f"*{_MARK}*"))


@dataclass
class _Damage:
    """What reading one event file could not read."""

    path: Path
    size: int
    skipped_bytes: int = 0  # damaged records (and garbage) skipped between intact ones
    skipped_records: int = 0
    lost_tail: int | None = None  # offset of a damaged end: nothing intact after it
    incomplete_tail: int | None = None  # offset of a last record cut short (a run still writing, or a cut copy)
    last_step: int | None = None


_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MAX_RECORD = 1 << 31  # a length beyond this is damage, not an event


def _records(fh: BinaryIO, damage: _Damage) -> Iterator[bytes]:
    """The intact records of an event file; damaged ones are skipped (the next one found by its header checksum)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    size = os.fstat(fh.fileno()).st_size
    if size == 0:
        return
    # mapped, not read: files with images or histograms can be large; the resync scan needs random access
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield from _framed(data, size, damage, masked_crc32c)


def _framed(data: Any, size: int, damage: _Damage, masked_crc32c: Any) -> Iterator[bytes]:
    """The TFRecord framing: an 8-byte length and its 4-byte checksum, the event, the event's 4-byte checksum."""
    pos = 0
    while pos < size:
        if size - pos < _HEADER.size:
            damage.incomplete_tail = pos
            return
        length, crc = _HEADER.unpack_from(data, pos)
        if masked_crc32c(data[pos:pos + 8]) != crc or length > _MAX_RECORD:
            nxt = _resync(data, pos + 1, masked_crc32c)
            if nxt is None:
                damage.lost_tail = pos
                return
            damage.skipped_bytes += nxt - pos
            damage.skipped_records += 1
            pos = nxt
            continue
        end = pos + _HEADER.size + length + _CRC.size
        if end > size:
            damage.incomplete_tail = pos
            return
        payload = data[pos + _HEADER.size:end - _CRC.size]
        if masked_crc32c(payload) != _CRC.unpack_from(data, end - _CRC.size)[0]:
            damage.skipped_bytes += end - pos
            damage.skipped_records += 1
        else:
            yield payload
        pos = end


def _resync(data: Any, start: int, crc: Any) -> int | None:
    """The offset of the next intact record header at or after ``start`` (its length's checksum matches), if any."""
    for pos in range(start, len(data) - _HEADER.size + 1):
        length, want = _HEADER.unpack_from(data, pos)
        if length <= _MAX_RECORD and pos + _HEADER.size + length + _CRC.size <= len(data) and crc(data[pos:pos + 8]) == want:
            return pos
    return None


def _events(path: Path, damage: _Damage) -> Iterator[Any]:
    """The events of one file, through TensorBoard's read-time compat layers (legacy scalars become tensors)."""
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.compat.proto import event_pb2

    initial: dict[str, Any] = {}
    with path.open("rb") as fh:
        for record in _records(fh, damage):
            try:
                event = event_pb2.Event.FromString(record)
            except Exception:  # protobuf's DecodeError (no stubs to name it by): an intact frame around bytes that are no event
                damage.skipped_records += 1
                continue
            yield from dataclass_compat.migrate_event(data_compat.migrate_event(event), initial)


class _EventFolder:
    """The scalars and hparams of the event files of one folder."""

    def __init__(self) -> None:
        self.scalars: dict[tuple[str, int], tuple[float, float]] = {}  # (tag, step) -> (wall time, value)
        self.hparams: dict[str, Any] = {}
        self.hparam_metrics: set[str] = set()
        self.has_session = False
        self.relogged = 0
        self.unreadable: list[Path] = []
        self.damaged: list[_Damage] = []


def _load_folder(files: Iterable[Path], out: _EventFolder) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util

    for path in files:
        plugin_of: dict[str, str] = {}  # TF2 writes a tag's plugin metadata only with its first point
        events = 0
        damage = _Damage(path, path.stat().st_size)
        try:
            for event in _events(path, damage):
                events += 1
                if event.step or event.HasField("summary"):
                    damage.last_step = int(event.step)
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    plugin = value.metadata.plugin_data.plugin_name or plugin_of.get(value.tag, "")
                    if value.metadata.plugin_data.plugin_name:
                        plugin_of[value.tag] = plugin
                    if plugin == "hparams":
                        _read_hparams(plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content), out)
                    elif plugin == "scalars" and value.HasField("tensor"):
                        arr = tensor_util.make_ndarray(value.tensor)
                        if arr.size != 1:
                            continue
                        key = (value.tag, int(event.step))
                        prev = out.scalars.get(key)
                        if prev is not None:
                            out.relogged += 1
                            if prev[0] > event.wall_time:
                                continue
                        out.scalars[key] = (float(event.wall_time), float(arr.reshape(-1)[0]))
        except Exception as exc:  # a corrupt record surfaces as whatever protobuf or the loader raises
            if isinstance(exc, (ImportError, SourceError)):
                raise
            raise SourceError(str(path), f"not a readable TensorBoard event file ({type(exc).__name__}: {exc})") from None
        # a file with bytes but no event at all is not an event file, and a user should hear of it
        if events == 0 and damage.size > 0:
            out.unreadable.append(path)
        elif damage.skipped_records or damage.lost_tail is not None or damage.incomplete_tail is not None:
            out.damaged.append(damage)


def _damage_note(d: _Damage, root: Path) -> str:
    where = d.path.relative_to(root) if d.path != root else d.path.name
    after = f" (last step read: {d.last_step})" if d.last_step is not None else ""
    parts = []
    if d.skipped_records:
        parts.append(f"{d.skipped_records} damaged record(s) ({d.skipped_bytes} bytes) failed their checksum and were skipped; "
                     "the records around them were read")
    if d.lost_tail is not None:
        parts.append(f"damaged from byte {d.lost_tail} of {d.size} to its end: nothing after it could be read{after}")
    if d.incomplete_tail is not None:
        parts.append(f"its last record is cut short at byte {d.incomplete_tail} of {d.size} (a run still writing, or a cut copy){after}")
    return f"{where}: " + "; ".join(parts)


def _read_hparams(data: Any, out: _EventFolder) -> None:
    kind = data.WhichOneof("data")
    if kind == "session_start_info":
        out.has_session = True
        for name, v in data.session_start_info.hparams.items():
            which = v.WhichOneof("kind")
            out.hparams[name] = (v.number_value if which == "number_value" else v.string_value if which == "string_value"
                                 else v.bool_value if which == "bool_value" else None)
    elif kind == "experiment":
        out.hparam_metrics.update(m.name.tag for m in data.experiment.metric_infos)


def _group_runs(root: Path, files: list[Path]) -> dict[str, dict[str, list[Path]]]:
    """run name -> (folder below the run, '' for the run's own) -> event files."""
    runs: dict[str, dict[str, list[Path]]] = {}
    own = any(f.parent == root for f in files)
    for f in files:
        rel = f.relative_to(root).parts
        if own:  # ROOT is itself one run; every subfolder belongs to it
            run, sub = root.name, "/".join(rel[:-1])
        else:
            run, sub = rel[0], "/".join(rel[1:-1])
        runs.setdefault(run, {}).setdefault(sub, []).append(f)
    return runs


def read_tensorboard(spec: str | Path, *, run_pattern: str | None = None, runs: Any = None,
                     name: str | None = None) -> SourceTable:
    """Read a folder of TensorBoard runs as one batch.

    Parameters
    ----------
    spec : str or Path
        The folder (a ``tensorboard:`` prefix is allowed).
    run_pattern : str, optional
        Pattern for run folder names, e.g. ``"{params}-{tokens}"``: fields become columns.
    runs : mapping, DataFrame or path, optional
        Run table: run name -> {column: value}; wins over the pattern and logged hparams.
    name : str, optional
        Batch name (default: the folder name).

    Returns
    -------
    SourceTable

    Raises
    ------
    MissingExtraError
        When TensorBoard is not installed.
    SourceError
        When the folder holds no event files or no scalars, or a file is corrupt.
    """
    text = str(spec)
    root = Path(text.removeprefix("tensorboard:"))
    if not root.is_dir():
        raise SourceError(str(root), "no such folder", hint="Give the folder that holds one subfolder per run")
    files = event_files(root)
    if not files:
        raise SourceError(str(root), "no TensorBoard event files (events.out.tfevents.*) in this folder")
    source = f"tensorboard {root}"
    notes: list[str] = []
    data: list[RunData] = []
    relogged = 0
    skipped_summaries: set[str] = set()
    try:
        for run, folders in sorted(_group_runs(root, files).items()):
            loaded = {}
            for sub, sub_files in sorted(folders.items()):
                loaded[sub] = ev = _EventFolder()
                _load_folder(sub_files, ev)
                relogged += ev.relogged
            hparams: dict[str, Any] = {}
            summary_tags: set[str] = set()
            for ev in loaded.values():
                notes += [f"{p.relative_to(root)} holds no readable event (corrupt?) and was skipped" for p in ev.unreadable]
                hparams.update(ev.hparams)
                summary_tags |= ev.hparam_metrics
            by_step: dict[int, dict[str, float]] = {}
            for sub, ev in loaded.items():
                # torch/tensorboardX add_hparams write a subfolder of their own holding the session and a
                # copy of the final metrics: its scalars are not series
                if sub and ev.has_session:
                    skipped_summaries.update(tag for tag, _ in ev.scalars)
                    continue
                # Lightning logs the hparams' metrics (hp_metric) beside the series, once: leave those single
                # points out, but never a series that shares their tag
                counts: dict[str, int] = {}
                for tag, _ in ev.scalars:
                    counts[tag] = counts.get(tag, 0) + 1
                single = {t for t in summary_tags if counts.get(t) == 1} if ev.has_session else set()
                skipped_summaries |= single
                for (tag, step), (_, value) in ev.scalars.items():
                    if tag not in single:
                        by_step.setdefault(step, {})[f"{sub}/{tag}" if sub else tag] = value
            if not by_step:
                notes.append(f"run {run!r} has no scalars and was left out")
                continue
            damages = [d for ev in loaded.values() for d in ev.damaged]
            notes += [_damage_note(d, root) for d in damages]
            last = max(by_step)
            cut = [d for d in damages if d.lost_tail is not None and (d.last_step is None or d.last_step >= last)]
            if cut:
                notes.append(f"run {run!r} was left out: its events end in damage after step {last}, so that is not the end of "
                             "the run, and its final data size (from run_pattern, runs or hparams) would be paired with it")
                continue
            data.append(RunData.from_steps(run, by_step, {"hparams": hparams}))
    except ImportError as exc:
        raise MissingExtraError(str(root), "TensorBoard event files", "tensorboard", missing=exc.name) from None
    if skipped_summaries:
        notes.append(f"summary metrics logged with the hparams ({sorted(skipped_summaries)[:5]}) were left out; the series were read")
    if relogged:
        notes.append(f"{relogged} scalar point(s) were written twice at one step (resumed runs?); the latest was kept")
    if not data:
        raise SourceError(str(root), "no scalars in any run")
    frame, logged, metrics, run_columns = assemble(data, source)
    restore_infinities(frame, metrics, notes)
    frame = apply_run_options(frame, metrics, run_columns, source, notes, run_pattern=run_pattern, runs=runs)
    fingerprint = digest("tensorboard", str(root.resolve()), file_state(files, root), options_key(run_pattern=run_pattern, runs=runs))
    return SourceTable(frame=frame.reset_index(drop=True), name=name or root.resolve().name, source=source, fingerprint=fingerprint,
                       notes=tuple(notes), kind="tensorboard", metrics=tuple(metrics), run_columns=tuple(run_columns),
                       logged=logged.loc[frame.index, metrics].reset_index(drop=True))
