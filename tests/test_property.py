"""Property test (issue 13): any generated table and config either loads or raises a ScalekitError;
the command line never prints a traceback for one; the input files are never modified."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import scalekit  # noqa: E402
from scalekit.cli import main  # noqa: E402

COLUMNS = ["params", "tokens", "loss", "run", "step", "map", "flops", "samples", "version", "group", "eval_loss", "width",
           "N", "loss.1", "<b>x</b>", "a$b_loss", " "]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([1e7, 1e8, 1e9, 3e9, 1e10, 2.5, 3.1, 0.5, 0.0, -1.0, 1e308, 1e-320]),
    st.integers(-10, 10**12),
    st.text(max_size=6),
    st.none(),
)
YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**9), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
CONFIG_KEYS = st.sampled_from(["name", "metrics", "ignore", "columns", "compute", "baseline", "options", "target",
                               "targets", "budgets", "max_params", "description", "other"])


@st.composite
def tables(draw):
    cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(0, 8))
    rows = [{c: draw(CELLS) for c in cols} for _ in range(n)]
    return cols, rows


@st.composite
def near_valid(draw):
    """A sound 4 x 4 grid with a few cells or names changed: exercises the paths past loading (fits, checks)."""
    cols = ["run", "params", "tokens", "loss"]
    rows = []
    for i, (N, D) in enumerate([(N, D) for N in (1e7, 3e7, 1e8, 3e8) for D in (1e9, 3e9, 1e10, 3e10)]):
        rows.append({"run": f"r{i}", "params": N, "tokens": D, "loss": 1.7 + 400 / N ** 0.34 + 410 / D ** 0.28})
    for _ in range(draw(st.integers(0, 3))):
        r = draw(st.integers(0, len(rows) - 1))
        rows[r][draw(st.sampled_from(cols))] = draw(CELLS)
    if draw(st.booleans()):
        new = draw(st.sampled_from(COLUMNS))
        old = draw(st.sampled_from(cols))
        cols = [new if c == old else c for c in cols]
        rows = [{(new if k == old else k): v for k, v in r.items()} for r in rows]
    return cols, rows


def _write(folder: Path, fmt: str, cols: list[str], rows: list[dict], stray: str | None = None) -> Path:
    import pandas as pd

    if fmt == "csv":
        p = folder / "t.csv"
        pd.DataFrame(rows, columns=cols).to_csv(p, index=False)
    else:
        p = folder / "t.jsonl"
        lines = [json.dumps(r, allow_nan=True) for r in rows]
        if stray is not None:  # a line that is not one JSON object
            lines.insert(len(lines) // 2, stray)
        p.write_text("\n".join(lines) + ("\n" if lines else ""))
    return p


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(table=st.one_of(tables(), near_valid()), fmt=st.sampled_from(["csv", "jsonl"]),
       config=st.one_of(st.none(), st.dictionaries(CONFIG_KEYS, YAML_VALUES, max_size=4), YAML_VALUES),
       stray=st.one_of(st.none(), st.sampled_from(["[1, 2]", "3", '"x"', "{bad", "null", "[]"])))
def test_any_table_and_config_loads_or_is_a_scalekit_error(table, fmt, config, stray):
    cols, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _write(folder, fmt, cols, rows, stray)
        files = [data]
        if config is not None:
            cfg = data.with_suffix(".yaml")
            cfg.write_text(yaml.safe_dump(config, allow_unicode=True))
            files.append(cfg)
        before = {f: f.read_bytes() for f in files}
        with contextlib.suppress(scalekit.ScalekitError):  # loads, or a ScalekitError; anything else fails the test
            scalekit.load_batch(data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["fit", str(data), "--n-boot", "0"])
        assert rc in (0, 2), err.getvalue()
        assert "Traceback" not in err.getvalue(), err.getvalue()
        if rc == 2:
            assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
        assert {f: f.read_bytes() for f in files} == before, "an input file was modified"
