from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .helpers import LAW, synthetic_frame

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCALEKIT_DATA") or ROOT.parent / "shared" / "data")


def shared_file(*parts: str) -> Path:
    """A file of the real datasets ($SCALEKIT_DATA, default ../shared/data).

    Absent, the test skips saying why; in CI (``CI`` set) it fails instead, so the accuracy claims of
    README are always tested there.
    """
    p = SHARED.joinpath(*parts)
    if not p.exists():
        msg = f"real-data fixture {p} is absent (set SCALEKIT_DATA or put shared/data beside this checkout)"
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI must run the real-data tests")
        pytest.skip(msg)
    return p


_REAL_FIXTURES = {"chinchilla", "chin_fit"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reads the real datasets ``realdata`` (select with -m realdata)."""
    for item in items:
        fn = getattr(item, "function", None)
        try:
            src = inspect.getsource(fn) if fn is not None else ""
        except (OSError, TypeError):
            src = ""
        if "shared_file(" in src or _REAL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture
def synthetic_law() -> tuple[dict[str, float], pd.DataFrame]:
    """The one synthetic law the tests share (Hoffmann et al.'s constants) and a noiseless 6 x 6 batch from it."""
    return dict(LAW), synthetic_frame()


@pytest.fixture(scope="session")
def chinchilla() -> pd.DataFrame:
    """Besiroglu et al.'s 240 points: the 5 highest losses excluded, as in their notebook."""
    df = pd.read_csv(shared_file("chinchilla_besiroglu", "svg_extracted_data.csv"))
    cutoff = np.sort(df["loss"].to_numpy())[-5]
    return df[df["loss"] < cutoff].reset_index(drop=True)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """The main job exactly as README runs it (examples, default bootstrap), once per session."""
    from .helpers import scalekit_cli

    out = tmp_path_factory.mktemp("site")
    p = scalekit_cli("report", "--out", str(out), "--jobs", "2")
    assert "rendered" in p.stdout
    return out
