"""Property tests (issues 13 and 24): any generated table and config, JSON Lines folder or MLflow store either
loads or raises a ScalekitError; the command line never prints a traceback for one; the inputs are never
modified; a tracker store's diverged runs (and only those) are excluded and listed."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
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


# --- issue 24: tracker stores (JSON Lines folders, MLflow SQLite) with mixed logging steps, inf values and hostile names

RUN_NAMES = st.one_of(
    st.sampled_from(["<script>alert(1)</script>", '=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-1", "../../etc/passwd", "a/b",
                     " ", "名前", "run\nnext", "NaN", "0", "CON", ".hidden", "x" * 300, "\u202eevil", "{params}-{tokens}", "run"]),
    st.text(min_size=1, max_size=10),
)
BLOWUPS = st.sampled_from([math.inf, -math.inf, math.nan, sys.float_info.max, -sys.float_info.max])


@dataclass(frozen=True)
class TrackedRun:
    """One run as a trainer logs it: train loss every ``train_every`` steps, eval loss every ``eval_every``."""

    name: str
    n: float
    d: float
    steps: int
    train_every: int
    eval_every: int
    blowup: tuple[str, int, float] | None  # (metric, index among its logged steps, value): a diverged run

    def points(self) -> list[tuple[int, float, dict[str, float]]]:
        """(step, tokens seen, {metric: value}) at every step where a metric was logged."""
        out = []
        logged = {"train_loss": [s for s in range(1, self.steps + 1) if s % self.train_every == 0],
                  "eval_loss": [s for s in range(1, self.steps + 1) if s % self.eval_every == 0]}
        bad_step = None
        if self.blowup is not None and logged[self.blowup[0]]:
            steps = logged[self.blowup[0]]
            bad_step = steps[self.blowup[1] % len(steps)]
        for s in range(1, self.steps + 1):
            seen = self.d * s / self.steps
            loss = 1.69 + 406.4 / self.n**0.34 + 410.7 / seen**0.28
            values = {m: (1.05 * loss if m == "train_loss" else loss) for m, at in logged.items() if s in at}
            if bad_step == s and self.blowup is not None:
                values[self.blowup[0]] = self.blowup[2]
            if values:
                out.append((s, seen, values))
        return out

    @property
    def diverged(self) -> bool:
        """Whether the blow-up was logged (its metric was logged at some step): every BLOWUPS value is an infinity or NaN."""
        return self.blowup is not None and any(self.blowup[0] in v for _, _, v in self.points())


@st.composite
def tracked_runs(draw: st.DrawFn, max_runs: int = 5) -> list[TrackedRun]:
    names = draw(st.lists(RUN_NAMES, min_size=2, max_size=max_runs, unique=True))
    sizes = draw(st.permutations([1e7, 3e7, 1e8, 3e8, 1e9]))  # distinct model sizes, so a sound store always loads
    return [TrackedRun(name, sizes[i], draw(st.sampled_from([1e9, 1e10, 1e11])),
                       draw(st.integers(2, 12)), draw(st.integers(1, 3)), draw(st.integers(1, 5)),
                       draw(st.one_of(st.none(), st.tuples(st.sampled_from(["train_loss", "eval_loss"]), st.integers(0, 20), BLOWUPS))))
            for i, name in enumerate(names)]


def _state(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _check_tracker_load(spec: str, runs: list[TrackedRun], cli: list[str], **config: object) -> None:
    """Loads or raises a ScalekitError; when it loads, exactly the diverged runs are excluded and listed."""
    load_error = ""
    try:
        batch = scalekit.load_batch(spec, **config)
    except scalekit.ScalekitError as exc:
        batch, load_error = None, str(exc)
    runs = [r for r in runs if r.points()]  # a run that logged nothing (killed before its first log) is no run
    event("loaded" if batch is not None else "a ScalekitError: " + load_error.split(":")[-1][:70])
    if len({r.n for r in runs if not r.diverged}) >= 2:  # sound: two model sizes left once the diverged runs are out
        assert batch is not None, load_error
    if batch is not None:
        event(f"{len(batch.excluded)} diverged run(s) listed")
        excluded = {e.run for e in batch.excluded}
        assert excluded == {r.name for r in runs if r.diverged}, (excluded, [(r.name, r.blowup) for r in runs])
        assert batch.runs == len(runs) - len(excluded)  # a metric missing at a step is never divergence
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["fit", spec, "--n-boot", "0", *cli])
    assert rc in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue(), err.getvalue()
    if rc == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(runs=tracked_runs())
def test_any_jsonl_folder_loads_or_is_a_scalekit_error_and_lists_diverged_runs(runs: list[TrackedRun]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs"
        folder.mkdir()
        for i, r in enumerate(runs):  # hostile names go in the lines' run key; file names stay plain
            lines = [json.dumps({"run": r.name, "step": s, "params": r.n, "tokens": seen, **values}, allow_nan=True)
                     for s, seen, values in r.points()]
            (folder / f"r{i}.jsonl").write_text("\n".join(lines) + "\n")
        before = _state(folder)
        _check_tracker_load(str(folder), runs, [])
        assert _state(folder) == before, "an input file was modified"


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database with its schema and no runs: each example copies it (creating the schema takes seconds)."""
    pytest.importorskip("mlflow", reason='needs pip install "scalekit[mlflow]"')
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.function_scoped_fixture])
@given(runs=tracked_runs(max_runs=4))
def test_any_mlflow_store_loads_or_is_a_scalekit_error_and_lists_diverged_runs(empty_mlflow_db: Path, runs: list[TrackedRun]) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mlflow.db"
        shutil.copyfile(empty_mlflow_db, db)
        client = MlflowClient(tracking_uri=f"sqlite:///{db}")
        eid = client.create_experiment("E")
        for r in runs:
            run = client.create_run(eid, run_name=r.name)
            metrics = [Metric(k, v, 0, s) for s, seen, values in r.points() for k, v in {**values, "tokens": seen}.items()]
            client.log_batch(run.info.run_id, metrics=metrics, params=[Param("n_params", f"{r.n:g}")])
        before = _state(Path(tmp))
        _check_tracker_load(str(db), runs, ["--experiment", "E"], experiment="E")
        assert _state(Path(tmp)) == before, "the store was modified"
