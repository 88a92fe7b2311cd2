"""Executing a parameterized notebook with papermill (fresh or warm kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .kernels import quiet_kernel_manager, reset_kernel, warm_kernel

__all__ = ["error_text", "execute"]


def _renumber(path: Path) -> None:
    """Execution counts from 1, as in a fresh kernel (a warm kernel keeps counting)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]  # nbformat.read has no annotations
    n = 0
    for c in nb.cells:
        if c.cell_type == "code" and c.get("execution_count") is not None:
            n += 1
            c.execution_count = n
            for o in c.outputs:
                if o.get("output_type") == "execute_result":
                    o["execution_count"] = n
    nbformat.write(nb, str(path))  # type: ignore[no-untyped-call]  # nbformat.write has no annotations


def execute(notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path, *, warm_cwd: Path | None = None) -> None:
    import papermill as pm

    extra: dict[str, Any] = {"kernel_manager_class": quiet_kernel_manager()}
    if warm_cwd is not None:
        km = warm_kernel(warm_cwd)
        reset_kernel(km, cwd)
        extra = {"km": km}
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3", progress_bar=False,
                            log_output=False, request_save_on_cell_execute=False, cwd=str(cwd),
                            shutdown_kernel="immediate", **extra)  # the notebook is saved; a graceful shutdown only waits
    finally:
        if warm_cwd is not None and output.is_file():
            _renumber(output)


def error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


