"""Stage 2, laws: the forms, the fitting engine, fit_law/fit_curve and FitResult."""

from .fit import fit_curve, fit_law
from .forms import FORMS, LawForm, forms, get_form
from .result import FitResult, Prediction

__all__ = ["FORMS", "FitResult", "LawForm", "Prediction", "fit_curve", "fit_law", "forms", "get_form"]
