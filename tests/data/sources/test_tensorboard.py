"""TensorBoard folders written by real writers (tensorboardX, TensorBoard's own event writer), read back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from scalekit.data.sources import SourceError, detect_source, read_source

from .law import STEPS, Run, assert_law_recovered, expected_frame, ladder

if not os.environ.get("CI"):  # CI installs scalekit[test]: there a missing package fails
    pytest.importorskip("tensorboard", reason='needs pip install "scalekit[tensorboard]"')
    pytest.importorskip("tensorboardX", reason="the tests write event files with tensorboardX (in scalekit[test])")

from tensorboardX import SummaryWriter


def write_tbx(root: Path, run: Run, *, hparams: bool) -> None:
    """A run as a tensorboardX / torch SummaryWriter user logs it, with add_hparams when asked."""
    with SummaryWriter(str(root / run.name)) as w:
        for step, seen, loss in run.points():
            w.add_scalar("eval/loss", loss, step)
            w.add_scalar("train/loss", run.train_loss(step), step)
            w.add_scalar("tokens_seen", seen, step)
        if hparams:
            w.add_hparams({"params": run.n, "tokens": run.d, "optimizer": "adamw"}, {"hparam/eval_loss": loss})


def write_tf2_style(folder: Path, points: list[tuple[int, str, float]]) -> None:
    """Scalars as TF2's tf.summary.scalar stores them: float64 tensors, plugin metadata on a tag's first point only."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    writer = EventFileWriter(str(folder))
    seen: set[str] = set()
    for step, tag, value in points:
        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
        val = summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(np.float64(value)))
        if tag not in seen:
            val.metadata.CopyFrom(meta)
            seen.add(tag)
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[val])))
    writer.close()


def check_eval_loss(frame: object, column: str, *, float32: bool) -> None:
    want = expected_frame()
    got = frame.sort_values(["run", "step"]).reset_index(drop=True)  # type: ignore[attr-defined]
    assert len(got) == len(want) and got["run"].nunique() == 12
    assert list(got["run"]) == list(want["run"]) and list(got["step"]) == list(want["step"])
    if float32:  # tensorboardX stores float32
        np.testing.assert_array_equal(got[column].to_numpy(), want["eval_loss"].to_numpy().astype(np.float32).astype(float))
    else:
        np.testing.assert_array_equal(got[column].to_numpy(), want["eval_loss"].to_numpy())


def test_hparams_plugin_gives_n_and_d(tmp_path: Path) -> None:
    for run in ladder():
        write_tbx(tmp_path, run, hparams=True)
    assert detect_source(tmp_path) == "tensorboard"
    table = read_source(tmp_path)
    assert table.kind == "tensorboard" and table.name == tmp_path.name
    assert set(table.metrics) == {"eval/loss", "train/loss", "tokens_seen"}  # not add_hparams' summary copy
    assert {"params", "tokens", "optimizer"} <= set(table.run_columns)
    check_eval_loss(table.frame, "eval/loss", float32=True)
    by_run = {r.name: r for r in ladder()}
    np.testing.assert_array_equal(table.frame["params"], [by_run[r].n for r in table.frame["run"]])
    assert (table.frame["optimizer"] == "adamw").all()
    assert any("summary metrics" in n for n in table.notes)
    # tokens_seen says nothing of its direction: name the metrics, as a batch config would
    assert_law_recovered(table.frame, "eval/loss", **table.batch_config(), metrics=["eval/loss", "train/loss"])


def test_run_pattern_gives_n_and_d(tmp_path: Path) -> None:
    for run in ladder():
        write_tbx(tmp_path, run, hparams=False)
    table = read_source(tmp_path, run_pattern="{params}-{tokens}")
    np.testing.assert_array_equal(table.frame["tokens"], [float(r.split("-")[1][:-1]) * 1e9 for r in table.frame["run"]])
    assert_law_recovered(table.frame, "eval/loss", **table.batch_config(), metrics=["eval/loss"])
    with pytest.raises(SourceError, match=r"do not match run_pattern 'n\{params\}_d\{tokens\}'"):
        read_source(tmp_path, run_pattern="n{params}_d{tokens}")


def test_runs_table_and_tf2_scalars(tmp_path: Path) -> None:
    """Float64 tensors (TF2's format) read exactly, N and D from a run table; the table wins over hparams."""
    table_rows = {}
    for i, run in enumerate(ladder()):
        name = f"run{i:02d}"
        (tmp_path / name).mkdir()
        write_tf2_style(tmp_path / name, [(s, "eval_loss", loss) for s, _, loss in run.points()])
        table_rows[name] = {"n": run.n, "d": f"{run.d / 1e9:g}B"}
    table = read_source(tmp_path, runs=table_rows)
    assert table.frame["n"].dtype == float and table.frame["d"].max() == 1e11
    want = np.array([loss for r in ladder() for _, _, loss in r.points()])
    np.testing.assert_array_equal(table.frame.sort_values(["run", "step"])["eval_loss"].to_numpy(), want)
    assert_law_recovered(table.frame, "eval_loss", **table.batch_config())
    with pytest.raises(SourceError, match=r"no row for run\(s\) \['run11'\]"):
        read_source(tmp_path, runs={k: v for k, v in table_rows.items() if k != "run11"})


def test_nested_folders_prefix_their_tags_and_resumed_runs_keep_the_latest(tmp_path: Path) -> None:
    run = tmp_path / "125M-2B"
    write_tf2_style(run / "train", [(s, "epoch_loss", 3.0 - s / 1000) for s in STEPS])
    write_tf2_style(run / "validation", [(s, "epoch_loss", 3.1 - s / 1000) for s in STEPS])
    time.sleep(0.01)
    write_tf2_style(run / "validation", [(STEPS[-1], "epoch_loss", 1.5)])  # a resumed run writes the step again
    table = read_source(tmp_path, run_pattern="{params}-{tokens}")
    assert table.metrics == ("train/epoch_loss", "validation/epoch_loss")
    assert table.frame["params"].iloc[0] == 125e6 and table.frame["tokens"].iloc[0] == 2e9
    assert table.frame["validation/epoch_loss"].iloc[-1] == 1.5
    assert any("written twice" in n for n in table.notes)


def test_fingerprint_follows_new_points_and_new_runs(tmp_path: Path) -> None:
    runs = ladder()
    for run in runs[:3]:
        write_tbx(tmp_path, run, hparams=True)
    first = read_source(tmp_path).fingerprint
    assert read_source(tmp_path).fingerprint == first
    # a new point in an existing run, in a new event file (tensorboardX names files by the second: a suffix keeps both)
    with SummaryWriter(str(tmp_path / runs[0].name), filename_suffix=".resumed") as w:
        w.add_scalar("eval/loss", 2.0, 5000)
    second = read_source(tmp_path)
    assert second.fingerprint != first
    assert list(second.frame.loc[second.frame["run"] == runs[0].name, "step"]) == [*STEPS, 5000]
    write_tbx(tmp_path, runs[3], hparams=True)
    third = read_source(tmp_path)
    assert third.fingerprint != second.fingerprint and third.runs == 4


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no TensorBoard event files"):
        read_source(tmp_path, kind="tensorboard")
    with pytest.raises(SourceError, match="no such folder"):
        read_source(f"tensorboard:{tmp_path / 'nope'}")


def test_a_file_with_no_readable_event_is_reported(tmp_path: Path) -> None:
    write_tbx(tmp_path, ladder()[0], hparams=False)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "events.out.tfevents.1.host").write_bytes(b"not an event file at all")
    table = read_source(tmp_path)
    assert table.runs == 1
    assert any("broken/events.out.tfevents.1.host holds no readable event" in n for n in table.notes)
    assert any("'broken' has no scalars" in n for n in table.notes)


def record_offsets(path: Path) -> list[tuple[int, int]]:
    """(start, length of the event) of each TFRecord in an event file: 8-byte length, 4-byte crc, event, 4-byte crc."""
    import struct

    data, pos, out = path.read_bytes(), 0, []
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, length))
        pos += 12 + length + 4
    return out


def damaged_ladder(root: Path, flip: str) -> Path:
    """The ladder by run_pattern; one run's event file gets one flipped byte in its third point or in its last record's header."""
    for run in ladder():
        with SummaryWriter(str(root / run.name)) as w:
            for step, _, loss in run.points():
                w.add_scalar("eval_loss", loss, step)
    victim = next((root / ladder()[-1].name).glob("*tfevents*"))
    records = record_offsets(victim)
    assert len(records) == 1 + len(STEPS)  # the file-version event, then one per point
    data = bytearray(victim.read_bytes())
    if flip == "payload":
        start, length = records[3]  # the third point
        data[start + 12 + length // 2] ^= 0x40
    else:
        data[records[-1][0] + 1] ^= 0x40  # the last record's length: nothing after it is readable
    victim.write_bytes(bytes(data))
    return victim


def test_a_flipped_byte_skips_one_record_with_a_note(tmp_path: Path) -> None:
    import hashlib

    victim = damaged_ladder(tmp_path, "payload")
    before = hashlib.sha256(victim.read_bytes()).hexdigest()
    table = read_source(tmp_path, run_pattern="{params}-{tokens}")
    name = ladder()[-1].name
    steps = sorted(table.frame.loc[table.frame["run"] == name, "step"])
    assert steps == [s for s in STEPS if s != STEPS[2]]  # was: the points before the bad record only, silently
    assert any("1 damaged record(s)" in n and name in n for n in table.notes), table.notes
    assert table.runs == 12
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == before


def test_a_damaged_end_leaves_the_run_out_rather_than_pairing_it_with_its_final_d(tmp_path: Path) -> None:
    import scalekit

    damaged_ladder(tmp_path, "header")
    name = ladder()[-1].name
    table = read_source(tmp_path, run_pattern="{params}-{tokens}")
    assert name not in set(table.frame["run"]) and table.runs == 11
    assert any(f"run {name!r} was left out" in n and f"after step {STEPS[-2]}" in n for n in table.notes), table.notes
    assert any("damaged from byte" in n for n in table.notes)
    batch = scalekit.load_batch(tmp_path, source={"run_pattern": "{params}-{tokens}"})
    assert batch.runs == 11 and any(f"run {name!r} was left out" in n for n in batch.notes)
