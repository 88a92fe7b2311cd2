"""The summary.json contract: writing it from an analysis, and reading it back as typed records.

Dashboards, CI, the index page and the comparison read summaries; they go through
:func:`load_summary` / :meth:`Summary.from_dict` rather than raw dict keys, so a change of the
contract is one change here. ``schema_version`` is raised on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..analyses.metric import MetricAnalysis, budgets_for
from ..analyses.profiles import flops_factor
from ..analyses.transfer import Transfer
from ..checks.base import Finding
from ..data.batch import Batch
from ..exceptions import ScalekitError
from ..jsonsafe import jsonable
from ..options import Options
from .lawsummary import fit_entry

__all__ = ["SCHEMA_VERSION", "FitSummary", "Summary", "SummaryError", "batch_summary", "load_summary", "schema"]

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


def _options_block(batch: Batch, opts: Options) -> dict[str, Any]:
    return {"n_boot": opts.n_boot, "seed": opts.seed, "loss": opts.loss, "delta": opts.delta, "points": opts.points,
            "target": opts.target, "targets": list(opts.all_targets), "budgets": list(budgets_for(batch, opts)),
            "max_params": opts.max_params, "flops_per_ND": flops_factor(batch), "n_boot_optimal": opts.n_boot_optimal}


def batch_summary(batch: Batch, metrics: Mapping[str, MetricAnalysis], findings: tuple[Finding, ...],
                  opts: Options, transfers: Mapping[str, Transfer] | None = None) -> dict[str, Any]:
    """The summary.json object of one analysed batch (plain JSON: no NaN, null instead)."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "scalekit_version": __version__,
        "batch": batch.summary(),
        "fits": {}, "optimal": {}, "optimal_comparison": {}, "targets": {}, "predictions": {}, "cap": {},
        "grid": {}, "best": {}, "errors": {},
        "findings": [f.summary() for f in findings],
        "options": _options_block(batch, opts),
    }
    for name, m in metrics.items():
        out["best"][name] = m.best
        entry = fit_entry(m)
        if m.fit_error is not None:
            out["errors"][name] = m.fit_error
        if entry is not None:
            out["fits"][name] = entry
        if m.fit is not None:
            out["targets"][name] = [t.summary() for t in m.targets]
            out["predictions"][name] = [a.summary() for a in m.allocations]
            if m.cap is not None:
                out["cap"][name] = m.cap.summary()
        # only the approaches this batch supports; why the others do not apply goes with the comparison
        out["optimal"][name] = {k: v.summary() for k, v in m.optimal.items() if v.ok}
        if m.comparison is not None:
            out["optimal_comparison"][name] = m.comparison.summary()
        if m.grid is not None:
            out["grid"][name] = m.grid.summary()
        if m.inference or m.inference_note:
            out.setdefault("inference", {})[name] = {
                "inference_tokens": list(opts.inference_tokens), "inference_flops_per_token": opts.inference_flops_per_token,
                "at_target": [r.summary() for r in m.inference if r.budget is None],
                "at_budgets": [r.summary() for r in m.inference if r.budget is not None],
                "cost_curve": None if m.cost_curve is None else m.cost_curve.summary(), "note": m.inference_note}
    if transfers:
        out["transfer"] = {target: t.summary() for target, t in transfers.items()}
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
