"""Stage 3, analyses: compute-optimal allocation (Approaches 1-3), targets and profiles, the grid."""

from .grid import Grid, improvement_grid
from .optimal import Comparison, OptimalLaw, compare, envelope, isoflop, parametric
from .profiles import Allocation, Cap, Target, capped_allocation, cheapest_for_target, optimal_allocation, profile_curve

__all__ = ["Allocation", "Cap", "Comparison", "Grid", "OptimalLaw", "Target", "capped_allocation", "cheapest_for_target",
           "compare", "envelope", "improvement_grid", "isoflop", "optimal_allocation", "parametric", "profile_curve"]
