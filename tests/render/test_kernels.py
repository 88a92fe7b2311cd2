"""Kernels started for reports: their environment."""

from __future__ import annotations

import os

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_core.utils import run_sync

from scalekit.render.kernels import BLAS_THREAD_VARIABLES, start_kernel


def _kernel_env(tmp_path, names):
    km = start_kernel(tmp_path)
    try:
        kc = BlockingKernelClient(parent=km)
        kc.load_connection_info(km.get_connection_info())
        kc.start_channels()
        out: list[str] = []
        try:
            kc.execute_interactive(f"import os; print([os.environ.get(n) for n in {list(names)!r}])", timeout=60,
                                   output_hook=lambda m: out.append(m["content"].get("text", "")))
        finally:
            kc.stop_channels()
        return "".join(out).strip()
    finally:
        run_sync(km.shutdown_kernel)(now=True)


def test_kernels_get_one_blas_thread_unless_the_caller_chose(tmp_path, monkeypatch):
    for v in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = _kernel_env(tmp_path, [*BLAS_THREAD_VARIABLES, "MPLBACKEND"])
    assert env.startswith("['1', '1', '1', ") and "'Agg'" not in env, env  # the caller's Agg is dropped too
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert _kernel_env(tmp_path, ["OPENBLAS_NUM_THREADS"]) == "['2']"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"  # the caller's own environment is left alone
