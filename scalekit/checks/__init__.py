"""Stage 4, checks: where the fitted laws cannot be trusted, with the evidence."""

from .base import SEVERITIES, Context, Finding, noise_level, severity_counts
from .registry import CHECKS, run_checks

__all__ = ["CHECKS", "SEVERITIES", "Context", "Finding", "noise_level", "run_checks", "severity_counts"]
