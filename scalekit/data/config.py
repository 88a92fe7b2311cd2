"""Batch configuration: metrics, column mapping, targets, budgets and analysis options.

A config comes from a YAML file beside the data (same stem, ``.yaml`` or ``.yml``), from
keyword arguments to :func:`scalekit.load_batch`, or both (keywords win).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import ConfigError
from ..options import FIELDS, Options, load_yaml, resolve_options
from .metric import MetricSpec, infer_direction
from .schedule import Schedule, parse_schedule

__all__ = ["BatchConfig", "MetricSpec", "find_config_file", "infer_direction", "read_config", "read_config_mapping"]

_TOP_OPTIONS = ("target", "targets", "budgets", "max_params")  # run options also accepted at the top level
_KNOWN_KEYS = {"name", "columns", "metrics", "ignore", "compute", "baseline", "options", "description", "source", "missing",
               "long", "hparams", "schedule", "two_step", "variables", "law", "laws", *_TOP_OPTIONS}
# Variables a law may use, by role (DESIGN.md, "laws in any variables"): N, D and U are the canonical columns; the
# others are read as they are, checked at load (bounds in VARIABLE_BOUNDS).
ROLE_COLUMNS = {"N": "params", "D": "tokens", "U": "unique_tokens"}
VARIABLE_ROLES = ("N", "D", "U", "E", "V", "lr", "B", "P", "bits", "S", "G", "T", "r")
# role -> (lowest allowed, inclusive, highest allowed or None, what it is)
VARIABLE_BOUNDS: dict[str, tuple[float, bool, float | None, str]] = {
    "E": (1.0, True, None, "experts (>= 1)"), "V": (1.0, True, None, "a vocabulary size or vocabulary parameters (>= 1)"),
    "lr": (0.0, False, None, "a learning rate (> 0)"), "B": (0.0, False, None, "a batch size (> 0)"),
    "P": (1.0, True, None, "parallel streams (>= 1)"), "bits": (0.0, False, None, "bits of precision (> 0)"),
    "S": (0.0, True, 1.0, "a sparsity in [0, 1)"), "G": (0.0, False, None, "a granularity (> 0)"),
    "T": (0.0, False, None, "a teacher's loss (> 0)"), "r": (0.0, True, 1.0, "a mixture proportion in [0, 1]"),
}
# Options of the tracker readers (scalekit.data.sources), under `source:`.
_SOURCE_KEYS = {"experiment", "kind", "run_pattern", "runs", "run_column", "step_key"}


@dataclass(frozen=True)
class BatchConfig:
    """Parsed, validated batch configuration. Construct with :meth:`from_mapping`.

    ``options`` is this config's layer of run options (see :mod:`scalekit.options`): the
    ``options:`` mapping plus the top-level ``target``, ``targets``, ``budgets`` and
    ``max_params``, already validated; explicit arguments override it.
    """

    name: str | None = None
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    metrics: tuple[dict[str, Any], ...] | None = None  # raw declarations, resolved at load
    ignore: tuple[str, ...] = ()
    compute: str = "auto"  # "auto" (flops column if present, else 6ND) | "6ND" | "flops"
    missing: str = "error"  # rows missing N, D or C: "error" (name them) | "drop" (leave them out, noted)
    long: dict[str, Any] | None = None  # a long table's {names: [...], value: col}, pivoted at load
    baseline: dict[str, float] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source_options: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    hparams: tuple[str, ...] = ()  # columns that vary within (N, D): a sweep, reduced to the best run per cell
    schedule: Schedule | None = None  # the learning-rate schedule every run follows
    two_step: tuple[dict[str, Any], ...] = ()  # declared two-step predictions (intermediate -> target)
    variables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> column(s), beyond N, D and U
    law: str | None = None  # a law written as a formula (scalekit.Law), fitted by fit_law unless a form is given
    # every formula law declared (`law:` first, then `laws:`), each {"name", "formula"}: `auto` candidates beside the forms
    laws: tuple[dict[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None, *, source: str | None = None) -> BatchConfig:
        raw = dict(raw or {})
        unknown = set(raw) - _KNOWN_KEYS
        if unknown:
            raise ConfigError(
                f"unknown key(s) {sorted(unknown)}; expected some of {sorted(_KNOWN_KEYS)}", source=source
            )
        kw: dict[str, Any] = {"source": source}
        if raw.get("name") is not None:
            if isinstance(raw["name"], (dict, list)):
                raise ConfigError(f"got {type(raw['name']).__name__}; expected a text name", source=source, key="name")
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
            if isinstance(ign, str):
                ign = [ign]
            if not isinstance(ign, (list, tuple)):
                raise ConfigError(f"got {ign!r}; expected a column name or a list of them", source=source, key="ignore")
            kw["ignore"] = tuple(str(x) for x in ign)
        comp = str(raw.get("compute", "auto"))
        if comp.upper() == "6ND":
            comp = "6ND"
        if comp not in ("auto", "6ND", "flops"):
            raise ConfigError(f"{comp!r} is not a compute rule; expected 'auto', '6ND' or 'flops'", source=source, key="compute")
        kw["compute"] = comp
        missing = str(raw.get("missing", "error"))
        if missing not in ("error", "drop"):
            raise ConfigError(f"got {missing!r}; expected 'error' (rows missing N, D or C are an error) or 'drop'",
                              source=source, key="missing")
        kw["missing"] = missing
        if raw.get("long") is not None:
            kw["long"] = _parse_long(raw["long"], source)
        if raw.get("baseline") is not None:
            b = raw["baseline"]
            if not isinstance(b, dict) or not set(b) <= {"N", "D", "params", "tokens", "samples"}:
                raise ConfigError("expected a mapping like {N: 1e8, D: 2e9}", source=source, key="baseline")
            kw["baseline"] = {("N" if k in ("N", "params") else "D"): _positive(v, "baseline", source) for k, v in b.items()}
        if raw.get("source") is not None:
            src_opts = raw["source"]
            if not isinstance(src_opts, dict) or set(src_opts) - _SOURCE_KEYS:
                raise ConfigError(f"got {src_opts!r}; expected a mapping with some of {sorted(_SOURCE_KEYS)} "
                                  "(options of the tracker readers)", source=source, key="source")
            kw["source_options"] = dict(src_opts)
        if raw.get("hparams"):
            hp = raw["hparams"]
            if isinstance(hp, str):
                hp = [hp]
            if not isinstance(hp, (list, tuple)) or not all(isinstance(x, str) and x for x in hp):
                raise ConfigError(f"got {hp!r}; expected a column name or a list of them, e.g. [lr, batch_size]",
                                  source=source, key="hparams")
            if len(set(hp)) < len(hp):
                raise ConfigError(f"got {hp!r}; a column is named twice", source=source, key="hparams")
            kw["hparams"] = tuple(hp)
        if raw.get("variables") is not None:
            kw["variables"] = _parse_variables(raw["variables"], kw["columns"], source)
        laws = [_parse_law(raw["law"], source, "law")] if raw.get("law") is not None else []
        if raw.get("laws") is not None:
            if not isinstance(raw["laws"], (list, tuple)) or not raw["laws"]:
                raise ConfigError(f"got {raw['laws']!r}; expected a list of formulas or of {{name, formula}} mappings",
                                  source=source, key="laws")
            laws += [_parse_law(x, source, f"laws[{i}]") for i, x in enumerate(raw["laws"])]
        if laws:
            unique = list({d["formula"]: d for d in reversed(laws)}.values())[::-1]  # a law given twice counts once
            names_ = [d["name"] for d in unique]
            if len(set(names_)) < len(names_):
                raise ConfigError(f"two laws share the name {next(n for n in names_ if names_.count(n) > 1)!r}; "
                                  "give each its own `name:`", source=source, key="laws")
            kw["laws"] = tuple(unique)
            kw["law"] = unique[0]["formula"]
        if raw.get("schedule") is not None:
            kw["schedule"] = parse_schedule(raw["schedule"], source)
        if raw.get("two_step") is not None:
            kw["two_step"] = _parse_two_step(raw["two_step"], source)
        layer: dict[str, Any] = {}
        if raw.get("options") is not None:
            if not isinstance(raw["options"], dict):
                raise ConfigError("expected a mapping", source=source, key="options")
            layer.update(raw["options"])
            if isinstance(layer.get("checks"), dict):  # the 0.1 spelling of the thresholds
                layer["thresholds"] = {**layer.pop("checks"), **(layer.get("thresholds") or {})}
        layer.update({k: raw[k] for k in _TOP_OPTIONS if k in raw})
        resolve_options(layer, source=source)  # validated here, at the door
        kw["options"] = layer
        return cls(**kw)

    @property
    def run_options(self) -> Options:
        """This config's run options over the defaults."""
        return resolve_options(self.options, source=self.source)

    def merged(self, other: dict[str, Any]) -> BatchConfig:
        """This config overridden by the non-None keys of ``other`` (keyword arguments)."""
        raw: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("source", "options", "source_options") or v is None or v == () or v == {} or (f.name == "compute" and v == "auto") \
                    or (f.name == "missing" and v == "error"):
                continue
            if f.name == "law" and self.laws:
                continue  # `laws` holds it, with its name
            raw[f.name] = [dict(x) for x in v] if f.name == "laws" else list(v) if isinstance(v, tuple) else v
        opts = dict(self.options)
        for k, v in other.items():
            if v is None:
                continue
            if k in FIELDS or k == "thresholds":
                opts[k] = v
            elif k == "source":
                raw["source"] = {**self.source_options, **(v if isinstance(v, dict) else {"_": v})}
            elif k == "options":
                if not isinstance(v, dict):
                    raise ConfigError("expected a mapping", source=self.source, key="options")
                opts.update(v)
            else:
                raw[k] = v
        raw["options"] = opts
        if self.source_options and "source" not in raw:
            raw["source"] = dict(self.source_options)
        return BatchConfig.from_mapping(raw, source=self.source)


def _parse_law(raw: Any, source: str | None, key: str) -> dict[str, str]:
    """A formula law, ``"E + A * N^-alpha"`` or ``{name: moe, formula: "..."}``, read at the door (a mistake in it
    stops here); its name is ``custom`` unless given."""
    from ..expr import parse

    example = "expected a formula, e.g. \"E + A * N^-alpha + B * D^-beta\", or {name: ..., formula: ...}"
    if isinstance(raw, dict):
        if set(raw) - {"name", "formula"} or not isinstance(raw.get("formula"), str):
            raise ConfigError(f"got {raw!r}; {example}", source=source, key=key)
        name = str(raw.get("name") or "custom")
        formula = raw["formula"]
    elif isinstance(raw, str):
        name, formula = "custom", raw
    else:
        raise ConfigError(f"got {raw!r}; {example}", source=source, key=key)
    parse(formula)
    return {"name": name, "formula": formula}


def _finite(v: Any, key: str, source: str | None) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"got {v!r}; expected a number", source=source, key=key) from None
    if not math.isfinite(x):
        raise ConfigError(f"got {v!r}; expected a finite number", source=source, key=key)
    return x


def _positive(v: Any, key: str, source: str | None) -> float:
    x = _finite(v, key, source)
    if not x > 0:
        raise ConfigError(f"{v!r} must be a positive finite number", source=source, key=key)
    return x


def _parse_metrics(raw: Any, source: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, dict):
        raw = [dict({"name": k}, **(v or {})) if isinstance(v, dict) or v is None else {"name": k, "direction": v}
               for k, v in raw.items()]
    if not isinstance(raw, (list, tuple)):
        raise ConfigError(f"got {raw!r}; expected a list of metric names or of {{name, direction, bound}} mappings",
                          source=source, key="metrics")
    if not raw:  # an empty declaration would leave nothing to fit (leave the key out to infer the metrics)
        raise ConfigError("got an empty list; expected at least one metric name (or leave `metrics` out to take every "
                          "metric-like column)", source=source, key="metrics")
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
                raise ConfigError(f"metric {m['name']!r}: direction {m['direction']!r} is not 'min' or 'max'",
                                  source=source, key="metrics")
        b = m.get("bound")
        items.append(
            {"name": str(m["name"]), "column": str(m.get("column", m["name"])), "direction": d,
             "bound": None if b is None else _finite(b, f"metrics.{m['name']}.bound", source)}
        )
    return items


def _parse_variables(raw: Any, columns: dict[str, str], source: str | None) -> dict[str, tuple[str, ...]]:
    """``variables: {E: num_experts, r: [web, code, books]}``; N, D and U become ``columns:`` entries (updated in place)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"got {raw!r}; expected a mapping of roles to columns, e.g. {{N: params, E: num_experts}}",
                          source=source, key="variables")
    out: dict[str, tuple[str, ...]] = {}
    for role, col in raw.items():
        role = str(role)
        if role not in VARIABLE_ROLES:
            raise ConfigError(f"{role!r} is not a variable role; expected some of {', '.join(VARIABLE_ROLES)}",
                              source=source, key="variables")
        cols = [col] if isinstance(col, str) else col
        if not isinstance(cols, (list, tuple)) or not cols or not all(isinstance(c, str) and c for c in cols):
            raise ConfigError(f"{role}: got {col!r}; expected a column name" + (" or a list of them" if role == "r" else ""),
                              source=source, key=f"variables.{role}")
        if role != "r" and len(cols) != 1:
            raise ConfigError(f"{role}: got {len(cols)} columns; one column holds this variable", source=source,
                              key=f"variables.{role}")
        if role == "r" and len(cols) < 2:
            raise ConfigError("r: a mixture needs the proportion columns of two or more domains", source=source, key="variables.r")
        if role in ROLE_COLUMNS:
            columns[ROLE_COLUMNS[role]] = cols[0]
        else:
            out[role] = tuple(cols)
    return out


_TWO_STEP_KEYS = {"intermediate", "target", "step2", "step1_form", "step1_points", "step2_points", "at"}


def _parse_two_step(raw: Any, source: str | None) -> tuple[dict[str, Any], ...]:
    """``two_step: [{intermediate: bpb, target: acc, step2: sigmoid}]``: each entry checked at the door."""
    items = [raw] if isinstance(raw, dict) else raw
    example = "expected a list like [{intermediate: task_bpb, target: task_acc, step2: sigmoid}]"
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f"got {raw!r}; {example}", source=source, key="two_step")
    out = []
    for i, e in enumerate(items):
        key = f"two_step[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(f"got {e!r}; {example}", source=source, key=key)
        unknown = set(e) - _TWO_STEP_KEYS
        if unknown:
            raise ConfigError(f"unknown key(s) {sorted(unknown)}; expected some of {sorted(_TWO_STEP_KEYS)}",
                              source=source, key=key)
        for k in ("intermediate", "target"):
            if not isinstance(e.get(k), str) or not e[k]:
                raise ConfigError(f"{k} must name a column; got {e.get(k)!r}", source=source, key=f"{key}.{k}")
        if e["intermediate"] == e["target"]:
            raise ConfigError(f"intermediate and target are the same column {e['target']!r}", source=source, key=key)
        step2 = e.get("step2", "sigmoid")
        if step2 not in ("sigmoid", "exponential"):
            raise ConfigError(f"got {step2!r}; expected 'sigmoid' or 'exponential'", source=source, key=f"{key}.step2")
        for k in ("step1_points", "step2_points"):
            if k in e and e[k] not in ("all", "final"):
                raise ConfigError(f"got {e[k]!r}; expected 'all' or 'final'", source=source, key=f"{key}.{k}")
        at = e.get("at") or []
        if not isinstance(at, list) or not all(isinstance(p, dict) and set(p) == {"N", "D"} for p in at):
            raise ConfigError(f"got {at!r}; expected a list like [{{N: 1.3e10, D: 5.0e12}}]", source=source, key=f"{key}.at")
        entry = {"intermediate": e["intermediate"], "target": e["target"], "step2": step2,
                 "step1_form": str(e.get("step1_form", "two_var")), "step1_points": e.get("step1_points", "all"),
                 "step2_points": e.get("step2_points", "all"),
                 "at": [{"N": _positive(p["N"], f"{key}.at", source), "D": _positive(p["D"], f"{key}.at", source)}
                        for p in at]}
        out.append(entry)
    return tuple(out)


def _parse_long(raw: Any, source: str | None) -> dict[str, Any]:
    """The validated ``long:`` config: ``names`` (one column or a list) and ``value``."""
    if not isinstance(raw, dict) or set(raw) - {"names", "value"} or "names" not in raw:
        raise ConfigError(f"got {raw!r}; expected a mapping like {{names: [task, metric], value: value}}", source=source, key="long")
    names = raw["names"] if isinstance(raw["names"], list) else [raw["names"]]
    return {"names": [str(n) for n in names], "value": str(raw.get("value", "value"))}


def find_config_file(data_path: Path) -> Path | None:
    for ext in (".yaml", ".yml"):
        p = data_path.with_suffix(ext)
        if p.is_file():
            return p
    return None


def read_config(path: Path) -> BatchConfig:
    """Read and validate a YAML batch config (UTF-8, no aliases, a mapping at the top)."""
    return BatchConfig.from_mapping(read_config_mapping(path), source=str(path))


def read_config_mapping(path: Path) -> dict[str, Any]:
    """The validated YAML mapping of a batch config file, as keyword arguments for :func:`scalekit.load_batch`."""
    if not path.is_file():
        raise ConfigError("no such config file", source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", source=str(path)) from None
    try:
        raw = load_yaml(text, source=str(path))  # no aliases, dates as text, JSON values only
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply to read (hundreds of levels)", source=str(path)) from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    BatchConfig.from_mapping(raw, source=str(path))  # validated here, at the door
    return dict(raw or {})
