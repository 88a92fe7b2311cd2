"""Batch configuration: metrics, column mapping, targets, budgets and analysis options.

A config comes from a YAML file beside the data (same stem, ``.yaml`` or ``.yml``), from
keyword arguments to :func:`scalekit.load_batch`, or both (keywords win).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

__all__ = ["MetricSpec", "BatchConfig", "infer_direction", "find_config_file", "read_config"]

_MIN_WORDS = ("loss", "error", "err", "ade", "fde", "ppl", "perplexity", "bpb", "nll", "wer", "cer")
_MAX_WORDS = {"map", "acc", "accuracy", "auc", "f1", "iou", "precision", "recall", "score"}


def infer_direction(name: str) -> str | None:
    """Direction implied by a metric's name: ``"min"``, ``"max"`` or None if it says nothing.

    Examples
    --------
    >>> infer_direction("eval_loss"), infer_direction("mAP"), infer_direction("width")
    ('min', 'max', None)
    """
    low = name.lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", low) if t]
    if any(w in low for w in _MIN_WORDS):
        return "min"
    if any(t in _MAX_WORDS or t.startswith("acc") for t in tokens):
        return "max"
    return None


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its column, which way is better, and its bound (for max metrics).

    ``bound`` is the best attainable value of a higher-is-better metric (1 for mAP or
    accuracy); such metrics are fitted as the error ``bound - value``.
    """

    name: str
    column: str
    direction: str  # "min" | "max"
    bound: float | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"

    def to_error(self, values):
        """Metric values to the positive quantity the laws model (lower is better)."""
        return (self.bound - values) if self.higher_is_better else values

    def from_error(self, err):
        return (self.bound - err) if self.higher_is_better else err

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "direction": self.direction, "bound": self.bound}


_KNOWN_KEYS = {
    "name", "columns", "metrics", "ignore", "compute", "baseline", "target", "targets",
    "budgets", "max_params", "options", "description",
}


@dataclass(frozen=True)
class BatchConfig:
    """Parsed, validated batch configuration. Construct with :meth:`from_mapping`."""

    name: str | None = None
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    metrics: tuple[dict[str, Any], ...] | None = None  # raw declarations, resolved at load
    ignore: tuple[str, ...] = ()
    compute: str = "auto"  # "auto" (flops column if present, else 6ND) | "6ND" | "flops"
    baseline: dict[str, float] | None = None
    target: float = 0.01
    targets: tuple[float, ...] = (0.01, 0.02, 0.05)
    budgets: tuple[float, ...] = ()
    max_params: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None, *, source: str | None = None) -> "BatchConfig":
        raw = dict(raw or {})
        unknown = set(raw) - _KNOWN_KEYS
        if unknown:
            raise ConfigError(
                f"unknown key(s) {sorted(unknown)}; expected some of {sorted(_KNOWN_KEYS)}", source=source
            )
        kw: dict[str, Any] = {"source": source}
        if raw.get("name") is not None:
            kw["name"] = str(raw["name"])
        if raw.get("description"):
            kw["description"] = str(raw["description"])
        cols = raw.get("columns") or {}
        if not isinstance(cols, dict):
            raise ConfigError("must map canonical names (params, tokens, flops, ...) to columns", source=source, key="columns")
        kw["columns"] = {str(k): str(v) for k, v in cols.items()}
        if raw.get("metrics") is not None:
            kw["metrics"] = tuple(_parse_metrics(raw["metrics"], source))
        if raw.get("ignore"):
            ign = raw["ignore"]
            kw["ignore"] = tuple([ign] if isinstance(ign, str) else [str(x) for x in ign])
        comp = str(raw.get("compute", "auto"))
        if comp.upper() == "6ND":
            comp = "6ND"
        if comp not in ("auto", "6ND", "flops"):
            raise ConfigError(f"{comp!r} is not a compute rule; expected 'auto', '6ND' or 'flops'", source=source, key="compute")
        kw["compute"] = comp
        if raw.get("baseline") is not None:
            b = raw["baseline"]
            if not isinstance(b, dict) or not set(b) <= {"N", "D", "params", "tokens", "samples"}:
                raise ConfigError("expected a mapping like {N: 1e8, D: 2e9}", source=source, key="baseline")
            kw["baseline"] = {("N" if k in ("N", "params") else "D"): _positive(v, "baseline", source) for k, v in b.items()}
        if raw.get("target") is not None:
            kw["target"] = _fraction(raw["target"], "target", source)
        if raw.get("targets") is not None:
            kw["targets"] = tuple(_fraction(t, "targets", source) for t in _as_list(raw["targets"]))
        if raw.get("budgets") is not None:
            kw["budgets"] = tuple(_positive(b, "budgets", source) for b in _as_list(raw["budgets"]))
        if raw.get("max_params") is not None:
            kw["max_params"] = _positive(raw["max_params"], "max_params", source)
        if raw.get("options") is not None:
            if not isinstance(raw["options"], dict):
                raise ConfigError("expected a mapping", source=source, key="options")
            kw["options"] = dict(raw["options"])
        return cls(**kw)

    def merged(self, other: dict[str, Any]) -> "BatchConfig":
        """This config overridden by the non-None keys of ``other`` (keyword arguments)."""
        base = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}
        raw: dict[str, Any] = {}
        for k, v in base.items():
            if v is None or v == () or v == {} or (k == "compute" and v == "auto"):
                continue
            raw[k] = list(v) if isinstance(v, tuple) and k != "metrics" else v
        if "metrics" in raw:
            raw["metrics"] = list(raw["metrics"])
        for k, v in other.items():
            if v is not None:
                raw[k] = v
        return BatchConfig.from_mapping(raw, source=self.source)


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _positive(v: Any, key: str, source: str | None) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{v!r} is not a number", source=source, key=key) from None
    if not (math.isfinite(x) and x > 0):
        raise ConfigError(f"{v!r} must be a positive finite number", source=source, key=key)
    return x


def _fraction(v: Any, key: str, source: str | None) -> float:
    x = _positive(v, key, source)
    if x >= 1:
        raise ConfigError(f"{v!r} must be a fraction in (0, 1), e.g. 0.01 for 1% better", source=source, key=key)
    return x


def _parse_metrics(raw: Any, source: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, dict):
        raw = [dict({"name": k}, **(v or {})) if isinstance(v, dict) or v is None else {"name": k, "direction": v} for k, v in raw.items()]
    for m in raw:
        if isinstance(m, str):
            m = {"name": m}
        if not isinstance(m, dict) or "name" not in m:
            raise ConfigError(f"each metric needs a name; got {m!r}", source=source, key="metrics")
        extra = set(m) - {"name", "column", "direction", "bound"}
        if extra:
            raise ConfigError(f"metric {m['name']!r}: unknown field(s) {sorted(extra)}", source=source, key="metrics")
        d = m.get("direction")
        if d is not None:
            d = {"lower": "min", "higher": "max", "minimize": "min", "maximize": "max"}.get(str(d), str(d))
            if d not in ("min", "max"):
                raise ConfigError(f"metric {m['name']!r}: direction {m['direction']!r} is not 'min' or 'max'", source=source, key="metrics")
        b = m.get("bound")
        items.append(
            {"name": str(m["name"]), "column": str(m.get("column", m["name"])), "direction": d,
             "bound": None if b is None else float(b)}
        )
    return items


def find_config_file(data_path: Path) -> Path | None:
    for ext in (".yaml", ".yml"):
        p = data_path.with_suffix(ext)
        if p.is_file():
            return p
    return None


def read_config(path: Path) -> BatchConfig:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    return BatchConfig.from_mapping(raw, source=str(path))
