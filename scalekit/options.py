"""One schema for every run option: fitting, analyses, targets, budgets and check thresholds.

:class:`Options` is the single source for :func:`scalekit.fit_law`, :func:`scalekit.analyze`,
the command line (``--set KEY=VALUE``) and the report notebook's parameters. Each field is
declared once, with its default, its constraint and its help text, in :data:`FIELDS`; every
value passes one validator, and every rejection reads the same way::

    option 'delta': got -1; allowed: a finite number > 0

Values resolve in order: defaults, then the batch config (YAML ``options:`` and the top-level
``target``/``targets``/``budgets``/``max_params``), then explicit arguments.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Any

from .exceptions import ConfigError

__all__ = ["FIELDS", "FIT_FORM", "MAX_RESAMPLES", "THRESHOLD_FIELDS", "Options", "Rule", "Thresholds", "load_yaml",
           "parse_assignment", "report_command", "resolve_options"]

# Bootstrap resamples are held at once (a few floats per resample and parameter): 10 million is 400 MB for a
# five-parameter law; a billion was 37 GiB and a MemoryError minutes later.
MAX_RESAMPLES = 10_000_000


@dataclass(frozen=True)
class Rule:
    """The constraint on one option: its kind, bounds or choices, and a one-line help text."""

    kind: str  # int | float | str | bool | floats | strs | fraction | fractions
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None  # inclusive unless low_open
    low_open: bool = False
    high: float | None = None  # exclusive
    nullable: bool = False

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        base = {"int": "a whole number", "float": "a finite number", "bool": "true or false", "str": "text",
                "floats": "a list of finite numbers", "strs": "a list of names", "fraction": "a fraction in (0, 1)",
                "fractions": "a list of fractions in (0, 1)"}[self.kind]
        if self.low is not None:
            base += f" {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            base += f" and < {self.high:g}"
        return base + (" (or null)" if self.nullable else "")


# Thresholds of the limitation checks: name -> (default, rule).
THRESHOLD_FIELDS: dict[str, tuple[float, Rule]] = {
    "noise_k": (3.0, Rule("float", "'beyond noise' means more than this many noise standard deviations", low=0, low_open=True)),
    "min_effect": (0.005, Rule("float", "smallest relative effect a check reports", low=0)),
    "holdout_fraction": (0.15, Rule("fraction", "extrapolation backtest: share of runs (largest compute) held out")),
    "extrapolation_min_error": (0.01, Rule("float", "extrapolation: smallest mean held-out error that counts", low=0)),
    "extrapolation_min_coverage": (0.5, Rule(
        "fraction", "extrapolation: fires when fewer held-out runs than this fall in the interval")),
    "extrapolation_critical": (0.1, Rule("float", "extrapolation: held-out error that makes the finding critical", low=0)),
    "envelope_tol": (0.01, Rule("float", "extreme bias: 'nearly as good' means within this fraction of the best run", low=0)),
    "extreme_factor": (2.0, Rule("float", "extreme bias: at least this many times smaller or cheaper", low=1)),
    "transfer_min_diff": (0.05, Rule("float", "transfer: exponents must also differ by this fraction to matter", low=0)),
    "transfer_map_rmse": (0.01, Rule("float", "transfer: a loss-to-loss map fits when its relative RMSE is at most this", low=0)),
    "transfer_nopt_ratio": (2.0, Rule("float", "transfer: N_opt ratio between metrics that counts as a disagreement", low=1)),
    "marginal_compute_multiple": (10.0, Rule(
        "float", "diminishing returns: target costing more than this many times the best run's compute", low=1)),
    "tail_start": (0.6, Rule("fraction", "not converged: the tail is D >= this fraction of the run's final D")),
    "slope_excess": (0.3, Rule("float", "not converged: tail falling at least this much faster than the law", low=0)),
    "min_sizes": (4.0, Rule("float", "identifiability: fewest distinct model sizes", low=1)),
    "min_data_scales": (3.0, Rule("float", "identifiability: fewest distinct data scales", low=1)),
    "min_data_range": (10.0, Rule("float", "identifiability: smallest max/min ratio of D", low=1)),
    "max_corr": (0.99, Rule("float", "identifiability: largest |correlation| of E, alpha, beta across resamples",
                            low=0, high=1.0000001)),
    "exponent_range": (2.5, Rule("float", "identifiability: exponents outside [0.02, this] are implausible",
                                 low=0, low_open=True)),
    "broken_gain": (0.5, Rule("fraction", "broken law: held-out error at most this fraction of the single law's")),
    "broken_min_error": (0.005, Rule("float", "broken law: smallest single-law held-out error that counts", low=0)),
    "residual_trend": (0.01, Rule("float", "residual structure: smallest trend in log residual", low=0)),
    "residual_p": (1e-4, Rule("fraction", "residual structure: p-value of the trend test")),
    "excluded_warning": (0.2, Rule("fraction", "excluded runs: share of runs that makes the finding a warning")),
    "n_boot_checks": (100.0, Rule("int", "bootstrap resamples of the refits inside checks", low=0, high=MAX_RESAMPLES)),
    "extrapolation_factor": (2.0, Rule(
        "float", "a prediction this many times beyond the trained N, D or C is labelled an extrapolation", low=1)),
    "approach_ratio": (2.0, Rule("float", "approaches disagree when their N_opt at a budget asked for differ by this factor",
                                 low=1)),
    "param_ci_ratio": (10.0, Rule("float", "identifiability: a positive parameter whose 95% interval spans this factor",
                                  low=1)),
    "outlier_z": (5.0, Rule("float", "outlying runs: robust z-score (median absolute deviation) of a run's log residual",
                            low=0, low_open=True)),
    "outlier_min_error": (0.01, Rule("float", "outlying runs: smallest relative miss of the law that counts (as the backtest's)",
                                     low=0)),
}


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of the limitation checks (see :data:`THRESHOLD_FIELDS` for each one's meaning)."""

    noise_k: float = 3.0
    min_effect: float = 0.005
    holdout_fraction: float = 0.15
    extrapolation_min_error: float = 0.01
    extrapolation_min_coverage: float = 0.5
    extrapolation_critical: float = 0.1
    envelope_tol: float = 0.01
    extreme_factor: float = 2.0
    transfer_min_diff: float = 0.05
    transfer_map_rmse: float = 0.01
    transfer_nopt_ratio: float = 2.0
    marginal_compute_multiple: float = 10.0
    tail_start: float = 0.6
    slope_excess: float = 0.3
    min_sizes: float = 4.0
    min_data_scales: float = 3.0
    min_data_range: float = 10.0
    max_corr: float = 0.99
    exponent_range: float = 2.5
    broken_gain: float = 0.5
    broken_min_error: float = 0.005
    residual_trend: float = 0.01
    residual_p: float = 1e-4
    excluded_warning: float = 0.2
    n_boot_checks: int = 100
    extrapolation_factor: float = 2.0
    approach_ratio: float = 2.0
    param_ci_ratio: float = 10.0
    outlier_z: float = 5.0
    outlier_min_error: float = 0.01

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, *, source: str | None = None) -> Thresholds:
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(THRESHOLD_FIELDS))
        if unknown:
            raise ConfigError(f"got unknown threshold(s) {unknown}; allowed: {sorted(THRESHOLD_FIELDS)}",
                              source=source, key="thresholds")
        return cls(**{k: _check(f"thresholds.{k}", v, THRESHOLD_FIELDS[k][1], source) for k, v in raw.items()})


# Run options: name -> (default, rule). The order is the order of the notebook's parameters.
# fit_law and `scalekit fit` fit the additive law unless a form is asked for; reports (FIELDS["form"]) choose by backtest.
FIT_FORM = "two_var"

FIELDS: dict[str, tuple[Any, Rule]] = {
    "only_metrics": ((), Rule("strs", "metrics to analyse (empty: every metric of the batch)")),
    "form": ("auto", Rule("str", "law form fitted to each metric ('auto': the form that best predicts held-out larger runs)",
                          choices=("auto", "two_var", "kaplan", "data_constrained", "saturating", "broken", "sigmoid",
                                   "power", "two_var_tied", "routed_moe", "moe_granularity", "moe_sparsity",
                                   "vocabulary", "lr_batch_surface", "data_mixing", "finetune_rectified", "parallel",
                                   "precision", "sparsity", "distillation"))),
    "x": ("N", Rule("str", "variable of a one-variable form", choices=("N", "D", "C"))),
    "loss": ("huber", Rule("str", "loss on log residuals", choices=("huber", "squared"))),
    "residuals": ("auto", Rule("str", "scale of the residuals a law is fitted on: 'auto' is linear when "
                               "the metric has values of zero or below, else log", choices=("auto", "log", "linear"))),
    "delta": (1e-3, Rule("float", "Huber threshold on log residuals", low=0, low_open=True)),
    "n_boot": (1000, Rule("int", "bootstrap resamples over runs for every interval (0: none)", low=0, high=MAX_RESAMPLES)),
    "seed": (0, Rule("int", "seed of every bootstrap (results are reproducible)", low=0)),
    "points": ("auto", Rule("str", "rows a law is fitted to", choices=("auto", "final", "all"))),
    "starts": ("projection", Rule("str", "starting points of the optimiser", choices=("projection", "hoffmann", "both"))),
    "n_starts": (8, Rule("int", "starting points optimised", low=1)),
    "target": (0.01, Rule("fraction", "headline target: this fraction better than the best run")),
    "targets": ((0.01, 0.02, 0.05), Rule("fractions", "improvements whose cost is reported")),
    "budgets": ((), Rule("floats", "compute budgets (FLOP) of interest (empty: the largest run's and 10x it)",
                         low=0, low_open=True)),
    "max_params": (None, Rule("float", "deployment cap on model size N", low=0, low_open=True, nullable=True)),
    "n_boot_backtest": (100, Rule("int", "bootstrap resamples of each backtest fit (held-out prediction intervals)", low=0,
                                  high=MAX_RESAMPLES)),
    "backtest_coverage": ("chosen", Rule("str", "forms whose held-out 95% interval coverage the backtest measures "
                                         "('chosen': the chosen form only; 'all': every form)", choices=("chosen", "all"))),
    "n_boot_optimal": (200, Rule("int", "bootstrap resamples of the compute-optimal approaches 1 and 2", low=0,
                                 high=MAX_RESAMPLES)),
    "checks": (True, Rule("bool", "run the limitation checks")),
    "inference_tokens": ((), Rule("floats", "lifetime inference tokens: adds the inference-aware optimum (Sardana et al.)",
                                  low=0)),
    "inference_flops_per_token": (2.0, Rule("float", "inference FLOPs per token per parameter (2 N per token)", low=0,
                                            low_open=True)),
    "hparam_N": ((), Rule("floats", "model sizes N where the optimal learning rate and batch size are asked (paired with "
                          "hparam_D), beside the budgets and the target", low=0, low_open=True)),
    "hparam_D": ((), Rule("floats", "data sizes D paired with hparam_N", low=0, low_open=True)),
    "hparam_tolerance": (0.0025, Rule("fraction", "near-optimal tolerance of a sweep: runs within this fraction of their "
                                      "cell's best, and the range of settings within it of the optimum")),
    "seq_len": (None, Rule("float", "tokens per sequence, to state batch sizes in sequences (else a seq_len column)", low=0,
                           low_open=True, nullable=True)),
    "plan_allowance": (1.0, Rule("float", "what to train next: compute the plan may spend, as a multiple of the batch's "
                                 "total training compute (0: no plan)", low=0)),
}


@dataclass(frozen=True)
class Options:
    """Validated run options. Build with :func:`resolve_options` (or ``Options()`` for the defaults).

    Examples
    --------
    >>> opts = resolve_options({"n_boot": 200}, {"targets": [0.01, 0.05]})
    >>> opts.n_boot, opts.targets
    (200, (0.01, 0.05))
    >>> resolve_options({"delta": -1})
    Traceback (most recent call last):
    ...
    scalekit.exceptions.ConfigError: config [delta]: option 'delta': got -1; allowed: a finite number > 0
    """

    only_metrics: tuple[str, ...] = ()
    form: str = "auto"
    x: str = "N"
    loss: str = "huber"
    residuals: str = "auto"
    delta: float = 1e-3
    n_boot: int = 1000
    seed: int = 0
    points: str = "auto"
    starts: str = "projection"
    n_starts: int = 8
    target: float = 0.01
    targets: tuple[float, ...] = (0.01, 0.02, 0.05)
    budgets: tuple[float, ...] = ()
    max_params: float | None = None
    n_boot_backtest: int = 100
    backtest_coverage: str = "chosen"
    n_boot_optimal: int = 200
    checks: bool = True
    inference_tokens: tuple[float, ...] = ()
    inference_flops_per_token: float = 2.0
    hparam_N: tuple[float, ...] = ()
    hparam_D: tuple[float, ...] = ()
    hparam_tolerance: float = 0.0025
    seq_len: float | None = None
    plan_allowance: float = 1.0
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def all_targets(self) -> tuple[float, ...]:
        """``targets`` with the headline ``target`` included, sorted."""
        return tuple(sorted(set(self.targets) | {self.target}))

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` validated and applied."""
        return resolve_options(self.as_dict(), changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples, thresholds as a mapping): JSON-safe."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Thresholds):
                v = {t.name: getattr(v, t.name) for t in fields(v)}
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


def _check(name: str, value: Any, rule: Rule, source: str | None) -> Any:
    """``value`` converted to the rule's kind, or a ConfigError in the one message form."""

    def bad() -> ConfigError:
        return ConfigError(f"option {name!r}: got {value!r}; allowed: {rule.allowed()}", source=source, key=name.split(".")[0])

    if value is None:
        if rule.nullable:
            return None
        raise bad()
    kind = rule.kind
    if kind in ("floats", "fractions", "strs"):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        one = Rule({"floats": "float", "fractions": "fraction", "strs": "str"}[kind], rule.help, rule.choices, rule.low,
                   rule.low_open, rule.high)
        try:
            return tuple(_check(name, v, one, source) for v in items)
        except ConfigError:
            raise bad() from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise bad()
    if kind == "str":
        if not isinstance(value, str) or (rule.choices and value not in rule.choices):
            raise bad()
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value_num = float(value)
            except ValueError:
                raise bad() from None
        else:
            raise bad()
    else:
        value_num = float(value)
    if not math.isfinite(value_num):
        raise bad()
    if kind == "int":
        if value_num != int(value_num):
            raise bad()
        num: float = int(value_num)
    else:
        num = value_num
    low, high = rule.low, rule.high
    if kind == "fraction":
        low, high = 0.0, 1.0
        if not (0 < num < 1):
            raise bad()
    if low is not None and (num < low or (rule.low_open and num == low)):
        raise bad()
    if high is not None and num >= high:
        raise bad()
    return num


def resolve_options(*layers: Mapping[str, Any] | None, source: str | None = None) -> Options:
    """Defaults overridden by each mapping in turn (None values mean 'unset'); validated.

    A ``thresholds`` entry may be a mapping (merged key by key across layers) or a
    :class:`Thresholds`. Unknown keys are an error naming the allowed ones.
    """
    values: dict[str, Any] = {}
    thresholds: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None and key != "max_params":
                continue
            if key == "thresholds":
                if isinstance(value, Thresholds):
                    value = {f.name: getattr(value, f.name) for f in fields(value)}
                if not isinstance(value, Mapping):
                    raise ConfigError(f"option 'thresholds': got {value!r}; allowed: a mapping of threshold names to numbers",
                                      source=source, key="thresholds")
                thresholds.update(value)
                continue
            if key not in FIELDS:
                raise ConfigError(f"got unknown option {key!r}; allowed: {sorted([*FIELDS, 'thresholds'])}",
                                  source=source, key=key)
            values[key] = _check(key, value, FIELDS[key][1], source)
    opts = Options(**values, thresholds=Thresholds.from_mapping(thresholds, source=source))
    if opts.form != "two_var" and opts.x not in ("N", "D", "C"):  # pragma: no cover - guarded by the rule
        raise ConfigError(f"option 'x': got {opts.x!r}; allowed: 'N', 'D' or 'C'", source=source, key="x")
    if len(opts.hparam_N) != len(opts.hparam_D):  # the (N, D) where a run will be trained: one D per N
        raise ConfigError(f"options 'hparam_N' and 'hparam_D' pair up: got {len(opts.hparam_N)} N and {len(opts.hparam_D)} D",
                          source=source, key="hparam_N")
    return replace(opts)


@cache
def _yaml_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type stubs here: its classes are Any
        """Safe YAML that refuses aliases (a "billion laughs" bomb expands to gigabytes from a few lines)."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise ConfigError(f"YAML aliases (*{event.anchor}) are not allowed (line {event.start_mark.line + 1}); "
                                  "write the values out")
            return super().compose_node(parent, index)

    # A date written plainly (2024-05-01) stays the text written: configs are JSON all the way to the notebook.
    Loader.yaml_implicit_resolvers = {c: [(tag, rx) for tag, rx in rs if tag != "tag:yaml.org,2002:timestamp"]
                                      for c, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    # YAML 1.1 reads 1e20 (no dot) as text; a quoted "1e20" or "007" stays text.
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                 list("-+.0123456789"))
    return Loader


def _plain(value: Any, where: str) -> Any:
    """``value`` if it is JSON (text, numbers, booleans, null, lists, mappings with text keys), else a ConfigError."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise ConfigError(f"got the key {k!r} ({type(k).__name__}); allowed: text keys", source=where)
            _plain(v, where)
    elif isinstance(value, list):
        for v in value:
            _plain(v, where)
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        kind = {"bytes": "binary data (!!binary)", "set": "a set (!!set)", "date": "a date (!!timestamp)",
                "datetime": "a date and time (!!timestamp)", "tuple": "pairs (!!pairs)"}.get(type(value).__name__,
                                                                                             type(value).__name__)
        hint = " (a date written plainly is read as text)" if "date" in kind else ""
        raise ConfigError(f"got {kind}; allowed: text, numbers, true/false, null, lists and mappings{hint}", source=where)
    return value


def load_yaml(text: str, *, source: str) -> Any:
    """Safe YAML as plain JSON values: no aliases, dates kept as the text written, no other YAML types.

    Raises ConfigError (naming ``source``) for aliases and non-JSON values; yaml.YAMLError for bad syntax.

    >>> load_yaml("{when: 2024-05-01, n: [1, 2]}", source="--set")
    {'when': '2024-05-01', 'n': [1, 2]}
    """
    import yaml

    try:
        value = yaml.load(text, Loader=_yaml_loader())  # the loader is SafeLoader's subclass
    except ConfigError as exc:
        raise ConfigError(exc.message, source=source) from None
    except RecursionError:
        raise ConfigError("nested too deeply", source=source) from None
    return _plain(value, source)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; VALUE is read as YAML (``[0.01, 0.05]``, ``1e20``, ``true``).

    >>> parse_assignment("targets=[0.01,0.05]"), parse_assignment("thresholds.noise_k=4")
    (('targets', [0.01, 0.05]), ('thresholds.noise_k', 4))
    """
    import yaml

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"got {text!r}; allowed: KEY=VALUE, e.g. n_boot=200 or targets=[0.01,0.05]", source="--set")
    try:
        return key, load_yaml(raw, source=f"--set {key}") if raw.strip() else ""
    except yaml.YAMLError:
        return key, raw  # not YAML: the text as given


def report_command(job: Mapping[str, str], options: Mapping[str, Any]) -> list[str]:
    """The ``scalekit report`` arguments that render a report again: the batch, its MLflow experiment, the batch
    config the command line gave (``config_json``: --config, --set, --metric, --ignore) and the run options.

    The inverse of the command line's reading: every value is written as JSON, which ``--set`` reads back
    as the same value.
    """
    args = ["report"]
    if job.get("batch_path"):
        args.append(job["batch_path"])
    config = dict(json.loads(job.get("config_json") or "{}"))
    if job.get("experiment"):  # this page's experiment; --experiment sets source.experiment
        args += ["--experiment", job["experiment"]]
        source = {k: v for k, v in (config.get("source") or {}).items() if k != "experiment"}
        config = {**config, "source": source} if source else {k: v for k, v in config.items() if k != "source"}
    values = {**config, **{k: v for k, v in options.items() if k != "thresholds"}}
    values.update({f"thresholds.{k}": v for k, v in (options.get("thresholds") or {}).items()})
    for k, v in sorted(values.items()):
        args.append(f"--set={k}={json.dumps(list(v) if isinstance(v, tuple) else v, sort_keys=True)}")
    return args


def split_assignments(pairs: Sequence[tuple[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--set`` pairs split into run options (with ``thresholds.X`` nested) and batch-config keys."""
    opts: dict[str, Any] = {}
    cfg: dict[str, Any] = {}
    for key, value in pairs:
        if key.startswith("thresholds."):
            opts.setdefault("thresholds", {})[key.split(".", 1)[1]] = value
        elif key in FIELDS or key == "thresholds":
            opts[key] = value
        else:
            cfg[key] = value
    return opts, cfg
