"""Atomic writes."""

from __future__ import annotations

import os
import stat

import pytest

from scalekit.iorw import atomic_write_json, atomic_write_text


def test_atomic_write_replaces_whole_file_and_is_readable(tmp_path):
    p = tmp_path / "a" / "page.html"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new")
    assert p.read_text() == "new" and [x.name for x in p.parent.iterdir()] == ["page.html"]
    assert stat.S_IMODE(os.stat(p).st_mode) & 0o044  # group/other can read a published page


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    p = tmp_path / "summary.json"
    atomic_write_json(p, {"a": 1})
    with pytest.raises(ValueError):
        atomic_write_json(p, {"a": float("nan")})  # not JSON: refused before anything is replaced
    assert p.read_text().strip().startswith("{") and '"a": 1' in p.read_text()
    assert [x.name for x in tmp_path.iterdir()] == ["summary.json"]
