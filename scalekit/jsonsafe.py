"""JSON-safety: plain floats, no NaN or inf (null instead), tuples as lists."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: dicts (string keys), lists, finite floats or None, ints, bools, str.

    Objects with a ``summary()`` method are replaced by their summary; anything else by its ``str``.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.item()) if obj.ndim == 0 else [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "summary"):
        return jsonable(obj.summary())
    return str(obj)
