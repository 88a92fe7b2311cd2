"""What the index page shows: each batch's status and headline numbers, and batches compared."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import __version__
from ._html import fmt, fmt_ci
from .checks import severity_counts
from .compare import compare_summaries, comparison_rows

if TYPE_CHECKING:
    from .render import BatchResult


def _iv(v, ci) -> str:
    return "–" if v is None else fmt_ci(v, ci)


def index_context(results: list["BatchResult"], compare: "BatchResult | None") -> dict[str, Any]:
    batches = []
    summaries = []
    for r in results:
        s = r.summary
        entry: dict[str, Any] = {"name": r.name, "slug": r.slug, "status": r.status, "message": r.message.splitlines()[0] if r.message else "",
                                 "error_link": r.error_link, "seconds": f"{r.seconds:.1f}", "metrics": [], "runs": None,
                                 "counts": None, "has_report": s is not None}
        if s is not None:
            summaries.append(s)
            entry["runs"] = s["batch"]["runs"]
            entry["counts"] = severity_counts(s.get("findings", []))
            for row in comparison_rows([s]):
                entry["metrics"].append({"metric": row["metric"], "alpha": _iv(row["alpha"], row["alpha_ci"]),
                                         "beta": _iv(row["beta"], row["beta_ci"]), "E": _iv(row["E"], row["E_ci"]),
                                         "a": _iv(row["a"], row["a_ci"]), "best": fmt(row["best"])})
            for m, err in s.get("errors", {}).items():
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
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "batches": batches,
        "failed": sum(1 for b in batches if b["status"] == "failed"),
        "comparisons": comparisons,
        "compare": None if compare is None else {"status": compare.status, "message": compare.message, "link": compare.error_link},
    }
