"""Stage 5, pipeline: ``analyze`` (every analysis and check of a batch), summary.json, comparisons."""

from .analyze import BatchAnalysis, analyze
from .compare import MetricComparison, compare_summaries, comparison_rows
from .summary import SCHEMA_VERSION, Summary, load_summary

__all__ = [
           "SCHEMA_VERSION",
           "BatchAnalysis",
           "MetricComparison",
           "Summary",
           "analyze",
           "compare_summaries",
           "comparison_rows",
           "load_summary",
]
