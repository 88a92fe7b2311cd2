"""scalekit: scaling-law reports for families of trained models.

Public face::

    batch = scalekit.load_batch("runs.csv")
    fit = scalekit.fit_law(batch, metric="eval_loss")
    print(fit.report())

Heavy modules (pandas, plotting, rendering) load on first use, so ``import scalekit`` is fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .exceptions import BatchValidationError, ConfigError, ExtrapolationWarning, FitError, FormulaError, RenderError, ScalekitError

_LAZY = {
    "load_batch": ".data.load",
    "Batch": ".data.batch",
    "fit_law": ".laws.fit",
    "fit_curve": ".laws.fit",
    "fit_schedule_law": ".laws.schedule_law",
    "ScheduleLawFit": ".laws.schedule_law",
    "Schedule": ".data.schedule",
    "forms": ".laws.forms",
    "Law": ".laws.formula",
    "critical_batch": ".analyses.critical_batch",
    "hyperparam_laws": ".analyses.hparam_laws",
    "hparam_answers": ".analyses.hparam_laws",
    "plan": ".analyses.plan",
    "Plan": ".analyses.plan",
    "HyperparamLaws": ".analyses.hparam_laws",
    "CriticalBatch": ".analyses.critical_batch",
    "backtest": ".laws.select",
    "select_form": ".laws.select",
    "compare_versions": ".analyses.versions",
    "FitResult": ".laws.result",
    "Prediction": ".laws.result",
    "fit_two_step": ".laws.two_step",
    "TwoStepFit": ".laws.two_step",
    "analyze": ".pipeline.analyze",
    "BatchAnalysis": ".pipeline.analyze",
    "load_summary": ".pipeline.summary",
    "Finding": ".checks.base",
    "run_checks": ".checks.registry",
    "Options": ".options",
    "Thresholds": ".options",
    "inference_optimal": ".analyses.inference",
    "InferenceOptimum": ".analyses.inference",
    "total_cost_curve": ".analyses.inference",
    "fit_loss_to_loss": ".laws.loss_to_loss",
    "LossToLossFit": ".laws.loss_to_loss",
    "transfer_backtest": ".analyses.transfer_backtest",
    "TransferBacktest": ".analyses.transfer_backtest",
    "schedule_backtest": ".analyses.schedule_backtest",
    "Selection": ".laws.select",
    "BacktestRow": ".laws.select",
    "VersionComparison": ".analyses.versions",
    "CostCurve": ".analyses.inference",
    "CurveLaw": ".laws.schedule_law",
    "Summary": ".pipeline.summary",
}

__all__ = ["__version__", "ScalekitError", "BatchValidationError", "ConfigError", "ExtrapolationWarning", "FitError",
           "FormulaError", "RenderError", *_LAZY]


def _version() -> str:
    # One version number: pyproject.toml's, as the installed package's metadata carries it.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scalekit")
    except PackageNotFoundError:  # a source checkout on sys.path, never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = v = _version()
        return v
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'scalekit' has no attribute {name!r}")
    value = getattr(import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
