"""One call that runs every analysis of a batch: :func:`analyze` and its :class:`BatchAnalysis`.

``analyze(batch)`` fits the performance law per metric, derives the compute-optimal laws by
every approach the batch supports, targets and profiles, budget predictions, the capped
allocation, the relative-improvement grid, and the limitation checks. The report notebook
only calls this and displays the pieces; :mod:`scalekit.pipeline.summary` turns the result
into summary.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import display
from ..analyses.bottom_line import BottomLine
from ..analyses.metric import MetricAnalysis, analyze_metric
from ..analyses.sweeps import Sweep
from ..analyses.transfer import Transfer, transfer_maps
from ..checks.base import Finding, severity_counts
from ..checks.registry import run_checks
from ..data.batch import Batch
from ..jsonsafe import jsonable
from ..laws.schedule_law import ScheduleLawFit
from ..options import Options, resolve_options
from .bottom import add_extrapolation, bottom_lines, with_caveats
from .summary import batch_summary
from .training import schedule_laws, sweeps
from .two_step import TwoStep, two_steps

__all__ = ["BatchAnalysis", "analyze"]


@dataclass(frozen=True)
class BatchAnalysis:
    """All results for a batch; ``summary()`` is the summary.json contract."""

    batch: Batch
    metrics: dict[str, MetricAnalysis]
    findings: tuple[Finding, ...]
    options: Options
    transfers: dict[str, Transfer] = field(default_factory=dict)
    sweeps: dict[str, Sweep] = field(default_factory=dict)  # per metric, when the batch declares hparams
    schedule_laws: dict[str, ScheduleLawFit] = field(default_factory=dict)  # per metric, when runs carry a schedule
    bottom_lines: dict[str, BottomLine] = field(default_factory=dict)  # metric -> the top of the report
    two_step: dict[str, TwoStep] = field(default_factory=dict)  # declared two-step predictions, "intermediate->target"

    @property
    def primary(self) -> MetricAnalysis:
        return next(iter(self.metrics.values()))

    def summary(self) -> dict[str, Any]:
        """The summary.json contract (see ``DESIGN.md``): every fitted number and finding, JSON-safe."""
        out = add_extrapolation(batch_summary(self.batch, self.metrics, self.findings, self.options, self.transfers), self.batch)
        out["bottom_line"] = {k: v.summary() for k, v in self.bottom_lines.items()}
        # sections only for batches that have them (summary.json contract: `hparams`, `schedule_law`)
        if self.sweeps:
            out["hparams"] = jsonable({k: v.summary() for k, v in self.sweeps.items()})
        if self.schedule_laws:
            out["schedule_law"] = jsonable({k: v.summary() for k, v in self.schedule_laws.items()})
        if self.two_step:
            out["two_step"] = jsonable({k: v.summary() for k, v in self.two_step.items()})
        return out

    def report(self) -> str:
        """Text summary: the law per metric, the optimum by approach, and the findings."""
        return display.text(self)

    def _repr_html_(self) -> str:
        return display.html(self)

    def counts(self) -> dict[str, int]:
        return severity_counts(self.findings)


def analyze(batch: Batch, *, options: Options | None = None, **overrides: Any) -> BatchAnalysis:
    """Run every analysis on ``batch`` (see the module docstring).

    Options resolve as defaults < the batch config < ``options`` < keyword ``overrides``
    (any field of :class:`scalekit.options.Options`, e.g. ``n_boot=200``, ``targets=[0.01]``,
    ``thresholds={"noise_k": 4}``).

    Examples
    --------
    >>> import scalekit
    >>> from scalekit.examples import perception_frame
    >>> b = scalekit.load_batch(perception_frame().query("version == 'v1'"), ignore=["data_fraction"])
    >>> a = scalekit.analyze(b, n_boot=50)
    >>> sorted(a.summary()["fits"])
    ['map']
    """
    opts = resolve_options(batch.config.options, options.as_dict() if options else None, overrides)
    names = list(opts.only_metrics) or list(batch.metrics)
    metrics = {batch.metric(n).name: analyze_metric(batch, n, opts) for n in names}
    transfers = transfer_maps(batch, metrics, opts)
    lines = bottom_lines(batch, metrics, opts)
    # without a data size only the checks about the law itself apply (the others read D or compute along the runs)
    only = None if batch.has_data_size else ["identifiability", "excluded_runs"]
    findings = (tuple(run_checks(batch, metrics, opts.thresholds, only=only, transfers=transfers, bottom_lines=lines))
                if opts.checks else ())
    return BatchAnalysis(batch, metrics, findings, opts, transfers, sweeps(batch, list(metrics), opts),
                         schedule_laws(batch, list(metrics), opts), with_caveats(lines, findings),
                         two_steps(batch, opts, lines))
