"""The summary.json contract: writing it from an analysis, and reading it back as typed records.

Dashboards, CI, the index page and the comparison read summaries; they go through
:func:`load_summary` / :meth:`Summary.from_dict` rather than raw dict keys, so a change of the
contract is one change here. ``schema_version`` is raised on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import __version__
from ..analyses.metric import budgets_for
from ..analyses.profiles import flops_factor
from ..analyses.versions import versions_block
from ..exceptions import ScalekitError
from ..jsonsafe import jsonable
from .hparams_summary import hyperparameters_block
from .lawsummary import fit_entry
from .plan_summary import plan_block

if TYPE_CHECKING:
    from ..analyses.bottom_line import BottomLine
    from ..analyses.hparams_at_scale import HparamsAtScale
    from ..analyses.metric import MetricAnalysis
    from ..analyses.plan import Plan
    from ..analyses.sweeps import Sweep
    from ..analyses.transfer import Transfer
    from ..analyses.versions import VersionComparison
    from ..checks.base import Finding
    from ..data.batch import Batch
    from ..laws.schedule_law import ScheduleLawFit
    from ..options import Options
    from .two_step import TwoStep


class BatchAnalysis(Protocol):
    """What the writer reads of an analysis (:class:`scalekit.pipeline.analyze.BatchAnalysis`): its explicit
    fields, named here so that the contract's one writer sits below the orchestrator that calls it."""

    @property
    def batch(self) -> Batch: ...
    @property
    def metrics(self) -> dict[str, MetricAnalysis]: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def options(self) -> Options: ...
    @property
    def transfers(self) -> dict[str, Transfer]: ...
    @property
    def sweeps(self) -> dict[str, Sweep]: ...
    @property
    def schedule_laws(self) -> dict[str, ScheduleLawFit]: ...
    @property
    def bottom_lines(self) -> dict[str, BottomLine]: ...
    @property
    def two_step(self) -> dict[str, TwoStep]: ...
    @property
    def versions(self) -> dict[str, VersionComparison | str]: ...
    @property
    def hyperparameters(self) -> dict[str, HparamsAtScale]: ...
    @property
    def plans(self) -> dict[str, Plan]: ...

__all__ = ["BLOCKS", "SCHEMA_VERSION", "FitSummary", "Summary", "SummaryError", "batch_summary", "load_summary", "schema"]

SCHEMA_VERSION = 1


class SummaryError(ScalekitError, ValueError):
    """A summary.json that cannot be read or does not follow the contract."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def schema() -> dict[str, Any]:
    """The JSON Schema of summary.json (draft 2020-12), as shipped in the package: what dashboards and CI may rely on."""
    from importlib import resources

    out: dict[str, Any] = json.loads(resources.files(__package__).joinpath("summary.schema.json").read_text(encoding="utf-8"))
    return out


# --- writing: one block builder per top-level key (or group of keys) of summary.json -----------------------
# Each takes the analysis and returns its keys; a section the batch does not have returns {}. A new section
# is one builder and one line in BLOCKS.
Block = Callable[["BatchAnalysis"], dict[str, Any]]


def _header(an: BatchAnalysis) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "scalekit_version": __version__, "batch": an.batch.summary()}


def _fits(an: BatchAnalysis) -> dict[str, Any]:
    entries = {name: fit_entry(m) for name, m in an.metrics.items()}
    return {"fits": {k: v for k, v in entries.items() if v is not None},
            "errors": {name: m.fit_error for name, m in an.metrics.items() if m.fit_error is not None},
            "best": {name: m.best for name, m in an.metrics.items()}}


def _optimal(an: BatchAnalysis) -> dict[str, Any]:
    # only the approaches this batch supports; why the others do not apply goes with the comparison
    return {"optimal": {name: {k: v.summary() for k, v in m.optimal.items() if v.ok} for name, m in an.metrics.items()},
            "optimal_comparison": {name: m.comparison.summary() for name, m in an.metrics.items()
                                   if m.comparison is not None}}


def _answers(an: BatchAnalysis) -> dict[str, Any]:
    """Targets, budget predictions and the capped allocation, each entry with its ``extrapolation`` distance."""
    fitted = {name: m for name, m in an.metrics.items() if m.fit is not None}
    return {"targets": {name: [t.summary() for t in m.targets] for name, m in fitted.items()},
            "predictions": {name: [a.summary() for a in m.allocations] for name, m in fitted.items()},
            "cap": {name: m.cap.summary() for name, m in fitted.items() if m.cap is not None}}


def _grid(an: BatchAnalysis) -> dict[str, Any]:
    return {"grid": {name: m.grid.summary() for name, m in an.metrics.items() if m.grid is not None}}


def _findings(an: BatchAnalysis) -> dict[str, Any]:
    return {"findings": [f.summary() for f in an.findings]}


def _options(an: BatchAnalysis) -> dict[str, Any]:
    opts, batch = an.options, an.batch
    return {"options": {"n_boot": opts.n_boot, "seed": opts.seed, "loss": opts.loss, "delta": opts.delta,
                        "points": opts.points, "target": opts.target, "targets": list(opts.all_targets),
                        "budgets": list(budgets_for(batch, opts)), "max_params": opts.max_params,
                        "flops_per_ND": flops_factor(batch), "n_boot_optimal": opts.n_boot_optimal}}


def _inference(an: BatchAnalysis) -> dict[str, Any]:
    opts = an.options
    out = {name: {"inference_tokens": list(opts.inference_tokens),
                  "inference_flops_per_token": opts.inference_flops_per_token,
                  "at_target": [r.summary() for r in m.inference if r.budget is None],
                  "at_budgets": [r.summary() for r in m.inference if r.budget is not None],
                  "cost_curve": None if m.cost_curve is None else m.cost_curve.summary(), "note": m.inference_note}
           for name, m in an.metrics.items() if m.inference or m.inference_note}
    return {"inference": out} if out else {}


def _transfer(an: BatchAnalysis) -> dict[str, Any]:
    return {"transfer": {target: t.summary() for target, t in an.transfers.items()}} if an.transfers else {}


def _bottom_line(an: BatchAnalysis) -> dict[str, Any]:
    return {"bottom_line": {k: v.summary() for k, v in an.bottom_lines.items()}}


def _hparams(an: BatchAnalysis) -> dict[str, Any]:
    return {"hparams": {k: v.summary() for k, v in an.sweeps.items()}} if an.sweeps else {}


def _schedule_law(an: BatchAnalysis) -> dict[str, Any]:
    return {"schedule_law": {k: v.summary() for k, v in an.schedule_laws.items()}} if an.schedule_laws else {}


def _two_step(an: BatchAnalysis) -> dict[str, Any]:
    return {"two_step": {k: v.summary() for k, v in an.two_step.items()}} if an.two_step else {}


def _hyperparameters(an: BatchAnalysis) -> dict[str, Any]:
    return {"hyperparameters": hyperparameters_block(an.hyperparameters)} if an.hyperparameters else {}


def _plan(an: BatchAnalysis) -> dict[str, Any]:
    return {"plan": plan_block(an.plans)}


def _versions(an: BatchAnalysis) -> dict[str, Any]:
    return {"versions": versions_block(an.versions)} if an.versions else {}


# The document, in order: sections only for batches that have them (``inference``, ``transfer``, ``hparams``,
# ``schedule_law``, ``two_step``, ``versions``, ``hyperparameters``) come after the ones every summary has.
BLOCKS: tuple[Block, ...] = (
    _header,
    _fits,
    _optimal,
    _answers,
    _grid,
    _findings,
    _options,
    _inference,
    _transfer,
    _bottom_line,
    _plan,
    _hparams,
    _schedule_law,
    _two_step,
    _versions,
    _hyperparameters,
)


def batch_summary(an: BatchAnalysis) -> dict[str, Any]:
    """The summary.json object of one analysed batch (plain JSON: no NaN, null instead): every block of
    :data:`BLOCKS` in turn, built from the analysis' explicit fields; nothing is added or patched afterwards."""
    out: dict[str, Any] = {}
    for block in BLOCKS:
        part = block(an)
        clash = set(part) & set(out)
        assert not clash, f"summary.json keys {sorted(clash)} written by two blocks"
        out.update(part)
    result: dict[str, Any] = jsonable(out)
    return result


# --- reading -------------------------------------------------------------------------------
Interval = tuple[float, float] | None


def _iv(v: Any) -> Interval:
    return (float(v[0]), float(v[1])) if isinstance(v, (list, tuple)) and len(v) == 2 and None not in v else None


@dataclass(frozen=True)
class FitSummary:
    """One metric's fitted law as summary.json records it."""

    metric: str
    direction: str
    bound: float | None
    form: str
    params: dict[str, float]
    ci: dict[str, Interval]
    rmse_log: float | None
    a: float | None  # N_opt ~ C^a from the fitted law (Approach 3)
    a_ci: Interval
    best: float | None


@dataclass(frozen=True)
class Summary:
    """A batch's summary.json, typed for the index page and the comparison."""

    schema_version: int
    scalekit_version: str
    name: str
    slug: str
    runs: int
    rows: int
    C_max: float
    flops_per_ND: float
    fits: dict[str, FitSummary]
    errors: dict[str, str]
    findings: tuple[dict[str, Any], ...]
    raw: dict[str, Any]

    def severity_counts(self, metric: str | None = None) -> dict[str, int]:
        """Findings per severity (for one metric and the batch-wide ones, if ``metric`` is given)."""
        c = {"critical": 0, "warning": 0, "info": 0}
        for f in self.findings:
            if metric is None or f.get("metric") in (metric, None):
                c[f["severity"]] = c.get(f["severity"], 0) + 1
        return c

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, path: str = "<summary>") -> Summary:
        """Check the contract and build the typed view; a missing or mistyped field is a SummaryError."""
        try:
            version = int(d.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                raise SummaryError(path, f"schema_version {version} is newer than this scalekit reads ({SCHEMA_VERSION})")
            b = d["batch"]
            fits = {}
            for metric, f in (d.get("fits") or {}).items():
                par = ((d.get("optimal") or {}).get(metric) or {}).get("parametric") or {}
                fits[metric] = FitSummary(
                    metric=metric, direction=str(f["direction"]), bound=f.get("bound"), form=str(f.get("form", "two_var")),
                    # the batch's law is the chosen (or pinned) form; the additive fit beside it is a comparison only
                    params={k: float(v) for k, v in f["params"].items() if v is not None},
                    ci={k: _iv(v) for k, v in (f.get("ci") or {}).items()},
                    rmse_log=f.get("rmse_log"),
                    a=par.get("a"), a_ci=_iv(par.get("a_ci")),
                    best=((d.get("best") or {}).get(metric) or {}).get("value"))
            return cls(version, str(d.get("scalekit_version", "")), str(b["name"]), str(b["slug"]), int(b["runs"]),
                       int(b["rows"]), _c_max(b["ranges"]["C"]), float((d.get("options") or {}).get("flops_per_ND", 6.0)),
                       fits, {str(k): str(v) for k, v in (d.get("errors") or {}).items()},
                       tuple(d.get("findings") or ()), dict(d))
        except SummaryError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SummaryError(path, f"does not follow the summary.json contract ({type(exc).__name__}: {exc})") from None


def _c_max(c: Any) -> float:
    """The largest trained compute; NaN for a batch without a data size (no compute is counted)."""
    return float("nan") if c[1] is None else float(c[1])


def load_summary(path: str | Path) -> Summary:
    """Read and check a summary.json; a missing, corrupt or foreign file is a SummaryError."""
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SummaryError(str(p), f"cannot be read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SummaryError(str(p), f"is not valid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise SummaryError(str(p), "is not a JSON object")
    return Summary.from_dict(d, path=str(p))
