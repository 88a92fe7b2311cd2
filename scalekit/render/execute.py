"""Executing a parameterized notebook with papermill (fresh or warm kernel)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from .kernels import is_kernel_start_failure, quiet_kernel_manager, reset_kernel, shutdown_warm, warm_kernel

__all__ = ["check_parameters", "error_text", "execute"]


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


def check_parameters(parameters: dict[str, Any], known: tuple[str, ...], notebook: Path) -> None:
    """Refuse parameters the notebook does not declare before any kernel starts.

    papermill injects an unknown name as one more variable, which the notebook never reads: a
    misspelt option would be ignored in silence.
    """
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(f"got unknown parameter(s) {unknown}; allowed: {sorted(known)}", source=notebook.name)


def execute(notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path, *, warm_cwd: Path | None = None,
            known: tuple[str, ...] | None = None) -> None:
    """Run ``notebook`` with ``parameters`` into ``output`` (``known``: the parameter names it declares)."""
    import papermill as pm

    if known is not None:
        check_parameters(parameters, known, notebook)
    for attempt in (1, 2):
        extra: dict[str, Any] = {"kernel_manager_class": quiet_kernel_manager()}
        if warm_cwd is not None:
            km = warm_kernel(warm_cwd)
            reset_kernel(km, cwd)
            extra = {"km": km}
        try:
            pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3", progress_bar=False,
                                log_output=False, request_save_on_cell_execute=False, cwd=str(cwd),
                                shutdown_kernel="immediate", **extra)  # the notebook is saved; a graceful shutdown only waits
        except Exception as exc:
            if warm_cwd is not None and output.is_file():
                with contextlib.suppress(Exception):  # a half-written notebook (full disk) must not hide the real error
                    _renumber(output)
            # A kernel that died while starting ran no cell: start another once (see kernels.start_kernel).
            if attempt == 2 or not is_kernel_start_failure(exc):
                raise
            if warm_cwd is not None:
                shutdown_warm()
        else:
            if warm_cwd is not None and output.is_file():
                _renumber(output)
            return


def error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    return f"{type(exc).__name__}: {exc}"


