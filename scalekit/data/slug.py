"""Names that become paths: one safe path component per batch name."""

from __future__ import annotations

import re

__all__ = ["slugify"]


def slugify(name: str) -> str:
    """A safe single path component for a batch name (never '..', never empty).

    >>> slugify("../../x"), slugify("Behavior v2 (final)")
    ('x', 'behavior-v2-final')
    """
    s = re.sub(r"[^a-z0-9._-]+", "-", str(name).lower())
    s = re.sub(r"-{2,}", "-", s).strip("-.")
    s = re.sub(r"\.{2,}", ".", s)
    return s[:80] or "batch"
