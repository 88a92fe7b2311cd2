"""The index page: each batch's status and headline numbers, and batches compared."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..iorw import atomic_write_json, atomic_write_text
from ..pipeline.compare import compare_summaries, comparison_rows
from ..report.format import compute, data, factor, fmt, fmt_ci, law_cell, params, pct, prose
from ..report.html import csv_link
from .jobs import BatchResult
from .resources import templates_dir


def _iv(v: Any, ci: Any) -> str:
    return "–" if v is None else fmt_ci(v, ci)


def _floor(row: dict[str, Any]) -> str:
    """E on the metric's own scale: a floor for a loss, the ceiling bound − E for a higher-is-better metric."""
    if row["direction"] != "max" or row["E"] is None:
        return _iv(row["E"], row["E_ci"])
    b = 1.0 if row["bound"] is None else float(row["bound"])
    ci = row["E_ci"]
    return f"{row['metric']} ≤ {fmt(b)} − E = " + fmt_ci(b - row["E"], [b - ci[1], b - ci[0]] if ci else None)


def _beyond(dist: dict[str, Any] | None, limit: float) -> tuple[str, str]:
    """The label of a distance beyond the trained range and its kind: inside, near or extrap."""
    far = {k: v for k, v in (dist or {}).items() if v is not None and v > 1.02}
    if not far:
        return "inside the trained range", "inside"
    what = ", ".join(f"{factor(v)} {k}" for k, v in sorted(far.items(), key=lambda kv: -kv[1]))
    return (f"extrapolation: {what} beyond", "extrap") if max(far.values()) > limit else (f"slightly beyond: {what}", "near")


def bottom_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The bottom line of each metric of a summary.json, as the index shows it (formatted like the reports)."""
    out = []
    for metric, bl in (raw.get("bottom_line") or {}).items():
        unit = str(bl.get("data_unit") or "tokens").split(" (")[0]
        limit = float(bl.get("extrapolation_factor") or 2.0)
        optima = []
        for op in bl.get("optimum") or []:
            label, far = ((f"withheld: {op['withheld']}", "extrap") if op.get("withheld")
                          else _beyond(op.get("extrapolation"), limit))
            optima.append({"C": compute(op["C"]), "N": params(op["N"]), "D": data(op["D"], unit), "approach": bl.get("approach"),
                           "spread": factor(op.get("spread")), "label": label, "extrapolation": far})
        cost = next((c for c in bl.get("costs") or [] if c.get("reachable") and not c.get("withheld")), None)
        cost_text = ""
        if cost is not None:
            label, _ = _beyond(cost.get("extrapolation"), limit)
            cost_text = (f"{pct(cost['improvement'])} better: N {params(cost['N'])}, D {data(cost['D'], unit)}, "
                         f"{factor(cost.get('compute_multiple'))} the best run's compute ({label})")
        law = bl.get("law") or {}
        # a law without answers in N and D (a batch without a data size): its form and variables, and why
        law_text = (f"the {law['form']} law in {', '.join(law.get('variables') or [])}"
                    + (f"; {bl['skipped'].split(', so ')[0]}" if bl.get("skipped") else "")
                    if not optima and law.get("form") else "")
        out.append({"metric": metric, "anchor": "bottom-line-" + _slug(metric), "optima": optima, "cost": cost_text,
                    "law": law_text, "caveat": prose(bl.get("caveat") or "")})
    return out


def _slug(text: str) -> str:
    from ..report.html import slug

    return slug(text)


def index_context(results: list[BatchResult], compare: BatchResult | None) -> dict[str, Any]:
    batches = []
    summaries = []
    for r in results:
        s = r.summary
        entry: dict[str, Any] = {"name": r.name, "slug": r.slug, "status": r.status,
                                 "message": r.message.splitlines()[0] if r.message else "",
                                 "error_link": r.error_link, "seconds": f"{r.seconds:.1f}", "metrics": [], "runs": None,
                                 "counts": None, "has_report": s is not None, "bottom": []}
        if s is not None:
            summaries.append(s)
            entry["bottom"] = bottom_rows(s.raw)
            entry["runs"] = s.runs
            entry["counts"] = s.severity_counts()
            for row in comparison_rows([s]):
                entry["metrics"].append({"metric": row["metric"], "law": law_cell(row["form"], row["params"], row["ci"]),
                                         "alpha": _iv(row["alpha"], row["alpha_ci"]), "beta": _iv(row["beta"], row["beta_ci"]), "E": _floor(row),
                                         "a": _iv(row["a"], row["a_ci"]), "best": fmt(row["best"])})
            for m, err in s.errors.items():
                entry["metrics"].append({"metric": m, "law": "", "alpha": "fit failed", "beta": err, "E": "", "a": "", "best": ""})
        batches.append(entry)
    comparisons = []
    for mc in compare_summaries(summaries):
        comparisons.append({"metric": mc.metric, "sentence": prose(mc.sentence),
                            "rows": [{"batch": r["batch"], "slug": r["slug"], "alpha": _iv(r["alpha"], r["alpha_ci"]),
                                      "beta": _iv(r["beta"], r["beta_ci"]), "E": _iv(r["E"], r["E_ci"]),
                                      "a": _iv(r["a"], r["a_ci"]), "gain": pct(mc.gain_10x.get(r["batch"]), signed=True)}
                                     for r in mc.rows]})
    table_rows = [[b["name"], b["status"], b["runs"], m["metric"], m["alpha"], m["beta"], m["E"], m["a"], m["best"]]
                  for b in batches for m in b["metrics"]]
    return {
        "csv": csv_link(["batch", "status", "runs", "metric", "alpha", "beta", "E", "a", "best run"], table_rows, "batches"),
        "version": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "batches": batches,
        "failed": sum(1 for b in batches if b["status"] == "failed"),
        "comparisons": comparisons,
        "compare": (None if compare is None else
                    {"status": compare.status, "message": compare.message, "link": compare.error_link}),
    }


def write_index(out: Path, results: list[BatchResult], compare: BatchResult | None,
                inputs: dict[str, str] | None = None) -> Path:
    """index.html and site.json (``inputs``: input id -> slug, so the next run gives each input the same folder)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("index.html.j2").render(**index_context(results, compare))
    path = out / "index.html"
    atomic_write_text(path, html)
    atomic_write_json(out / "site.json", {"scalekit_version": __version__,
                                          "batches": [{k: v for k, v in asdict(r).items() if k != "summary"} for r in results],
                                          "inputs": dict(inputs or {})})
    return path
