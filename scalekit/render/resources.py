"""The notebooks and templates that ship inside the package, found with importlib.resources.

In the wheel they sit at ``scalekit/notebooks`` and ``scalekit/templates`` (setuptools maps the
repository's top-level folders there); in a source checkout run without installing, they are the
top-level folders beside ``scalekit/``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from ..exceptions import RenderError

__all__ = ["compare_notebook", "notebooks_dir", "report_notebook", "report_template_files", "templates_dir"]


def _find(folder: str) -> Path:
    installed = Path(str(resources.files("scalekit").joinpath(folder)))
    if installed.is_dir():
        return installed
    source = Path(__file__).resolve().parents[2] / folder  # a source checkout (editable install)
    if source.is_dir():
        return source
    raise RenderError(f"scalekit's {folder} folder is missing: looked in {installed} and in {source}; "
                      "reinstall scalekit (pip install scalekit)")


@cache
def notebooks_dir() -> Path:
    return _find("notebooks")


@cache
def templates_dir() -> Path:
    return _find("templates")


def _file(folder: Path, name: str) -> Path:
    p = folder / name
    if not p.is_file():
        raise RenderError(f"scalekit's {name} is missing: looked for {p}; reinstall scalekit")
    return p


def report_notebook() -> Path:
    return _file(notebooks_dir(), "batch_report.ipynb")


def compare_notebook() -> Path:
    return _file(notebooks_dir(), "compare_batches.ipynb")


def report_template_files() -> list[Path]:
    """The report template's files (part of every report's cache key)."""
    folder = templates_dir() / "scalekit_report"
    if not folder.is_dir():
        raise RenderError(f"scalekit's report template is missing: looked in {folder}; reinstall scalekit")
    return sorted(p for p in folder.iterdir() if p.is_file())
