"""What the report notebooks call besides the sections: parameters, loading, figures, summary.json.

The notebook's parameters are the job's (which batch, where the summary goes) plus every field
of :class:`scalekit.options.Options`, declared once in the notebook's ``parameters`` cell with
``None`` meaning "from the batch config, else the default". :func:`validate_parameters` reads
them from the notebook's namespace and checks them against the one options schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.batch import Batch
from ..data.load import load_batch
from ..data.sources import detect_source
from ..examples import EXAMPLES, example_source
from ..exceptions import ConfigError
from ..iorw import atomic_write_json
from ..options import FIELDS, resolve_options
from ..pipeline.analyze import BatchAnalysis, analyze
from ..pipeline.compare import example_summaries
from ..pipeline.summary import Summary, load_summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "JOB_PARAMETERS",
    "PARAMETERS",
    "Parameters",
    "check_injected",
    "input_hash",
    "load",
    "load_summaries",
    "show",
    "validate_parameters",
    "write_summary",
]

_SOURCE = "notebook parameters"

# The job's own parameters: name -> (default, help). The run options follow them (FIELDS).
JOB_PARAMETERS: dict[str, tuple[str, str]] = {
    "batch_path": ("", "data file (CSV, Parquet, JSON Lines; a YAML config beside it is read); empty: an embedded example"),
    "example": ("behavior", "embedded example used when batch_path is empty: " + " or ".join(map(repr, EXAMPLES))),
    "version": ("", "report only this value of the batch's `version` column (empty: every row)"),
    "experiment": ("", "the MLflow experiment when batch_path is a tracking store (empty: its only one)"),
    "batch_name": ("", "display name (empty: the config's name or the file name)"),
    "config_json": ("{}", "extra batch config as a JSON object, overriding the YAML (metrics, baseline, columns, ...)"),
    "summary_path": ("", "where to write summary.json (empty: do not write)"),
}
PARAMETERS: tuple[str, ...] = (*JOB_PARAMETERS, *FIELDS, "thresholds")


@dataclass(frozen=True)
class Parameters:
    """Validated notebook parameters: the job's, the batch config from ``config_json``, and the options set."""

    job: dict[str, str]
    config: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


def validate_parameters(namespace: Mapping[str, Any]) -> Parameters:
    """Check the parameters found in ``namespace`` (the notebook's globals) right after papermill injects them.

    Papermill's ``-p`` guesses types, so ``-p batch_name 007`` arrives as the int 7: a string
    parameter that arrives as a number is refused with the fix (``-r`` passes it raw).
    """
    check_injected(namespace, PARAMETERS)
    job: dict[str, str] = {}
    for name, (default, _) in JOB_PARAMETERS.items():
        value = namespace.get(name, default)
        if value is None:
            value = default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ConfigError(
                f"expected a string but got the number {value!r}: papermill's -p converts number-looking values "
                f"(007 becomes 7); pass it with -r {name} VALUE to keep it as text", source=_SOURCE, key=name)
        if not isinstance(value, str):
            raise ConfigError(f"option {name!r}: got {value!r}; allowed: text", source=_SOURCE, key=name)
        job[name] = value
    if not job["batch_path"] and job["example"] not in EXAMPLES:
        raise ConfigError(f"option 'example': got {job['example']!r}; allowed: one of {list(EXAMPLES)}",
                          source=_SOURCE, key="example")
    options = {k: namespace[k] for k in (*FIELDS, "thresholds") if namespace.get(k) is not None}
    for key in ("only_metrics", "targets", "budgets"):  # papermill passes a one-item list as the item
        if isinstance(options.get(key), (str, int, float)):
            options[key] = [options[key]]
    resolve_options(options, source=_SOURCE)  # one schema, one message form
    try:
        cfg = json.loads(job["config_json"] or "{}")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", source=_SOURCE, key="config_json") from None
    if not isinstance(cfg, dict):
        raise ConfigError("must be a JSON object", source=_SOURCE, key="config_json")
    return Parameters(job, cfg, options)


def check_injected(namespace: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """Refuse parameters papermill injected that the notebook does not declare (``papermill ... -p nboot 5``).

    papermill sets an unknown name as one more variable, which nothing reads: a misspelt option would be
    ignored in silence. The names are the assignments of papermill's ``# Parameters`` cell, read from IPython's
    input history (``In``), so a variable of the user's own in an interactive session is never taken for one.
    """
    import ast

    history = namespace.get("In")
    cell = next((c for c in reversed(history) if isinstance(c, str) and c.startswith("# Parameters\n")), None) \
        if isinstance(history, list) else None
    if cell is None:
        return
    try:
        tree = ast.parse(cell)
    except SyntaxError:  # pragma: no cover - papermill writes valid Python
        return
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    unknown = sorted(names - set(known))
    if unknown:
        raise ConfigError(f"got unknown parameter(s) {unknown}; allowed: {sorted(known)}", source=_SOURCE)


def load(params: Parameters) -> Batch:
    """The batch the parameters name (a file, or an embedded example), filtered to ``version``."""
    cfg = dict(params.config)
    if params.job["batch_name"]:
        cfg["name"] = params.job["batch_name"]
    source: Any
    if params.job["experiment"]:
        cfg["source"] = {**(cfg.get("source") or {}), "experiment": params.job["experiment"]}
    if params.job["batch_path"]:
        spec = params.job["batch_path"]
        source = spec if detect_source(spec) is not None else Path(spec)
    else:
        source, ex_cfg = example_source(params.job["example"])
        cfg = {**ex_cfg, **cfg}
    batch = load_batch(source, **cfg)
    if params.job["version"]:
        batch = batch.select_version(params.job["version"])
    return batch


def run(params: Parameters, batch: Batch) -> BatchAnalysis:
    """Every analysis of the batch with the options the parameters set; for one version of a batch, the versions
    compared too (on the whole batch the parameters name)."""
    whole = load(Parameters({**params.job, "version": ""}, params.config, params.options)) if params.job["version"] else None
    return analyze(batch, versions=whole, **params.options)


def show(fig: Figure | None) -> None:
    """Display a figure once, as inline SVG with run tooltips and alt text, and free it.

    Inline SVG (dense layers rasterized) rather than a PNG: hover tooltips on each run's marker
    work offline, text stays sharp, dark mode can restyle it, and the behavior page weighs less.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .html import HTML
    from .svg import figure_html

    if fig is not None:
        display(HTML(figure_html(fig)))  # type: ignore[no-untyped-call]  # IPython.display.display has no annotations
        plt.close(fig)


def input_hash(params: Parameters, batch: Batch) -> str:
    """sha256 of what the report was computed from: the data file and its config (or the embedded example), the
    notebook's parameters and the scalekit version."""
    import hashlib

    from .. import __version__
    from ..data.config import find_config_file

    h = hashlib.sha256(f"scalekit {__version__}\n".encode())
    h.update(json.dumps({"job": {k: v for k, v in params.job.items() if k != "summary_path"}, "options": params.options},
                        sort_keys=True, default=str).encode())
    if params.job["batch_path"]:
        path = Path(params.job["batch_path"])
        for f in (path, find_config_file(path)):
            if f is not None and f.is_file():
                h.update(f.read_bytes())
    else:
        frame, cfg = example_source(params.job["example"])
        h.update(frame.to_csv(index=False).encode())
        h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    return h.hexdigest()


def write_summary(an: BatchAnalysis, path: str) -> None:
    """summary.json, as the analysis wrote it (:func:`scalekit.pipeline.summary.batch_summary`); empty path: none."""
    if path:
        atomic_write_json(path, an.summary())


def load_summaries(summaries_json: str) -> list[Summary]:
    """Summaries for the comparison notebook; an empty list analyses the embedded examples."""
    try:
        paths = json.loads(summaries_json or "[]")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", source=_SOURCE, key="summaries_json") from None
    if not isinstance(paths, list):
        raise ConfigError("must be a JSON list of paths", source=_SOURCE, key="summaries_json")
    if paths:
        return [load_summary(p) for p in paths]
    return example_summaries()
