"""The index page: each batch's status and headline numbers, and batches compared."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..iorw import atomic_write_json, atomic_write_text
from ..pipeline.compare import compare_summaries, comparison_rows
from ..report.format import fmt, fmt_ci
from .jobs import BatchResult
from .resources import templates_dir


def _iv(v: Any, ci: Any) -> str:
    return "–" if v is None else fmt_ci(v, ci)


def index_context(results: list[BatchResult], compare: BatchResult | None) -> dict[str, Any]:
    batches = []
    summaries = []
    for r in results:
        s = r.summary
        entry: dict[str, Any] = {"name": r.name, "slug": r.slug, "status": r.status,
                                 "message": r.message.splitlines()[0] if r.message else "",
                                 "error_link": r.error_link, "seconds": f"{r.seconds:.1f}", "metrics": [], "runs": None,
                                 "counts": None, "has_report": s is not None}
        if s is not None:
            summaries.append(s)
            entry["runs"] = s.runs
            entry["counts"] = s.severity_counts()
            for row in comparison_rows([s]):
                entry["metrics"].append({"metric": row["metric"], "alpha": _iv(row["alpha"], row["alpha_ci"]),
                                         "beta": _iv(row["beta"], row["beta_ci"]), "E": _iv(row["E"], row["E_ci"]),
                                         "a": _iv(row["a"], row["a_ci"]), "best": fmt(row["best"])})
            for m, err in s.errors.items():
                entry["metrics"].append({"metric": m, "alpha": "fit failed", "beta": err, "E": "", "a": "", "best": ""})
        batches.append(entry)
    comparisons = []
    for mc in compare_summaries(summaries):
        comparisons.append({"metric": mc.metric, "sentence": mc.sentence,
                            "rows": [{"batch": r["batch"], "slug": r["slug"], "alpha": _iv(r["alpha"], r["alpha_ci"]),
                                      "beta": _iv(r["beta"], r["beta_ci"]), "E": _iv(r["E"], r["E_ci"]),
                                      "a": _iv(r["a"], r["a_ci"]), "gain": f"{mc.gain_10x[r['batch']]:+.2%}"} for r in mc.rows]})
    return {
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
