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
from ..analyses.hparams_at_scale import HparamsAtScale, hparams_at_scale
from ..analyses.metric import MetricAnalysis, analyze_metric
from ..analyses.plan import Plan
from ..analyses.sweeps import Sweep
from ..analyses.transfer import Transfer, transfer_maps
from ..analyses.versions import VersionComparison, compare_every_metric
from ..checks.base import Finding, severity_counts
from ..checks.registry import run_checks
from ..data.batch import Batch
from ..laws.schedule_law import ScheduleLawFit
from ..options import Options, resolve_options
from .bottom import bottom_lines, with_caveats
from .planning import plans
from .summary import batch_summary
from .training import schedule_laws, sweeps
from .two_step import TwoStep, two_steps

__all__ = ["BatchAnalysis", "analyze"]


@dataclass(frozen=True, eq=False)
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
    # metric -> the shared-exponent fit across every version of the batch this one is a version of (or why it failed)
    versions: dict[str, VersionComparison | str] = field(default_factory=dict)
    hyperparameters: dict[str, HparamsAtScale] = field(default_factory=dict)  # per metric, for a learning-rate sweep
    plans: dict[str, Plan] = field(default_factory=dict)  # metric -> what to train next (option plan_allowance)

    @property
    def primary(self) -> MetricAnalysis:
        return next(iter(self.metrics.values()))

    def summary(self) -> dict[str, Any]:
        """The summary.json contract (see ``DESIGN.md``): every fitted number and finding, JSON-safe."""
        return batch_summary(self)

    def report(self) -> str:
        """Text summary: the law per metric, the optimum by approach, and the findings."""
        return display.text(self)

    def _repr_html_(self) -> str:
        return display.html(self)

    def counts(self) -> dict[str, int]:
        return severity_counts(self.findings)


def analyze(batch: Batch, *, options: Options | None = None, versions: Batch | None = None,
            **overrides: Any) -> BatchAnalysis:
    """Run every analysis on ``batch`` (see the module docstring).

    Options resolve as defaults < the batch config < ``options`` < keyword ``overrides``
    (any field of :class:`scalekit.options.Options`, e.g. ``n_boot=200``, ``targets=[0.01]``,
    ``thresholds={"noise_k": 4}``). ``versions``: when ``batch`` is one version of a batch
    (:meth:`Batch.select_version`), the whole batch, to compare the versions in one shared-exponent fit
    (summary.json's ``versions`` section).

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
    sw = sweeps(batch, list(metrics), opts)
    # without a data size only the checks about the law itself apply (the others read D or compute along the runs)
    only = None if batch.has_data_size else ["identifiability", "excluded_runs"]
    findings = (tuple(run_checks(batch, metrics, opts.thresholds, only=only, transfers=transfers, bottom_lines=lines, sweeps=sw))
                if opts.checks else ())
    across: dict[str, VersionComparison | str] = {}
    if versions is not None:
        laws = {m: law.form.name for m, ma in metrics.items() if (law := ma.law or ma.fit) is not None}
        across = compare_every_metric(versions, laws, n_boot=min(opts.n_boot, 100), seed=opts.seed)
    return BatchAnalysis(batch, metrics, findings, opts, transfers, sw,
                         schedule_laws(batch, list(metrics), opts), with_caveats(lines, findings),
                         two_steps(batch, opts, lines), across,
                         {k: h for k, ma in metrics.items() if (h := hparams_at_scale(batch, ma, opts)) is not None},
                         plans(batch, metrics, opts))
