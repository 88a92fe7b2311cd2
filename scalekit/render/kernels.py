"""Kernels: quiet ones (no log lines on our terminal), and one warm kernel per worker process."""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import RenderError
from .lifetime import die_with_parent_preexec

if TYPE_CHECKING:
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_client.manager import AsyncKernelManager

__all__ = ["BLAS_THREAD_VARIABLES", "is_kernel_start_failure", "quiet_kernel_manager", "reset_kernel", "shutdown_warm", "start_kernel", "warm_kernel"]


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@functools.cache
def quiet_kernel_manager() -> type[AsyncKernelManager]:
    """A kernel manager whose kernel does not write its own log lines onto our terminal.

    Errors in cells reach papermill as messages (and the executed notebook), not through the
    kernel's stderr; without this every render prints ipykernel's transport warnings.
    """
    import subprocess

    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw.setdefault("stderr", subprocess.DEVNULL)
            kw.setdefault("stdout", subprocess.DEVNULL)
            preexec = die_with_parent_preexec()  # kill -9 of the renderer takes its kernels with it
            if preexec is not None:
                kw.setdefault("preexec_fn", preexec)
            if isinstance(kw.get("env"), dict):
                # The caller's MPLBACKEND=Agg (common on servers and in CI) would make the kernel's
                # figures display as text: the kernel keeps IPython's inline backend.
                kw["env"] = {k: v for k, v in kw["env"].items() if k != "MPLBACKEND"}
                # One BLAS thread per kernel unless the caller chose: the analysis multiplies small
                # matrices, where a second thread only adds synchronisation, and `--jobs N` runs N
                # kernels on N cores; two threads per kernel then fight for them (a 100 x 480 x 121
                # product took 22 ms with two threads beside another busy process, 0.3 ms with one).
                for var in BLAS_THREAD_VARIABLES:
                    kw["env"].setdefault(var, "1")
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


# One warm kernel per worker process: starting a kernel and importing scalekit's stack costs
# about 2 s, half of a small batch's render. Before each notebook the kernel's namespace is
# reset (%reset -f) and its working directory set, so batches share only imported modules.
_WARM: dict[str, Any] = {}


def shutdown_warm() -> None:
    km = _WARM.pop("km", None)
    if km is not None:
        from jupyter_core.utils import run_sync  # what jupyter_client.utils re-exports

        with contextlib.suppress(Exception):  # the kernel is gone already
            run_sync(km.shutdown_kernel)(now=True)


def warm_kernel(cwd: Path) -> AsyncKernelManager:
    from jupyter_core.utils import run_sync  # what jupyter_client.utils re-exports

    km: AsyncKernelManager | None = _WARM.get("km")
    if km is not None and run_sync(km.is_alive)():
        return km
    shutdown_warm()
    km = start_kernel(cwd)
    _WARM["km"] = km
    if not _WARM.get("finalizer"):
        import atexit
        from multiprocessing import util

        util.Finalize(None, shutdown_warm, exitpriority=10)  # pool workers skip atexit
        atexit.register(shutdown_warm)
        _WARM["finalizer"] = True
    return km


KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info", "Kernel didn't respond to kernel_info_request",
                         "Kernel didn't respond in", "kernel died")


def is_kernel_start_failure(exc: BaseException) -> bool:
    """A kernel that died or hung while starting (not an error in a cell): worth one more try."""
    return not getattr(exc, "ename", None) and any(s.lower() in str(exc).lower() for s in KERNEL_START_FAILURES)


def wait_ready(km: AsyncKernelManager, kc: BlockingKernelClient, timeout: float = 60) -> None:
    """Wait until the kernel answers kernel_info; a kernel is dead only if its process is.

    ``BlockingKernelClient.wait_for_ready`` on a client without a manager judges liveness by the
    heartbeat, which a kernel still importing on a busy machine has not started: it reported
    "Kernel died before replying to kernel_info" for live kernels, now and then, when two
    kernels started at once. The manager polls the process instead.
    """
    import queue

    from jupyter_core.utils import run_sync  # what jupyter_client.utils re-exports

    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                reply = kc.get_shell_msg(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return
        if not run_sync(km.is_alive)():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond to kernel_info_request in {timeout:.0f} s")


def start_kernel(cwd: Path, attempts: int = 2) -> AsyncKernelManager:
    """A started kernel that has answered kernel_info; a kernel that dies on start is replaced once.

    Two kernels starting at the same moment in two worker processes can pick the same free port
    (each process checks ports on its own); the loser dies before replying to kernel_info. A fresh
    kernel manager picks fresh ports.
    """
    from jupyter_client.blocking.client import BlockingKernelClient
    from jupyter_core.utils import run_sync  # what jupyter_client.utils re-exports

    last: BaseException | None = None
    for _ in range(attempts):
        km = quiet_kernel_manager()(kernel_name="python3")
        try:
            run_sync(km.start_kernel)(cwd=str(cwd))
            kc = BlockingKernelClient()
            kc.load_connection_info(km.get_connection_info())
            kc.start_channels()
            try:
                wait_ready(km, kc)
            finally:
                kc.stop_channels()
            return km
        except RuntimeError as exc:
            last = exc
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
    raise RenderError(f"the notebook kernel would not start ({last}); is ipykernel installed for this Python?")


def reset_kernel(km: AsyncKernelManager, cwd: Path) -> None:
    from jupyter_client.blocking.client import BlockingKernelClient

    # parent=km: "is the kernel alive" asks the process, not the heartbeat, which a loaded machine misses
    # (then every warm render failed with "Kernel died before replying to kernel_info")
    kc = BlockingKernelClient(parent=km)
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    try:
        wait_ready(km, kc)
        reply = kc.execute_interactive(f"import os; os.chdir({str(cwd)!r})\n%reset -f\n", store_history=False, timeout=60,
                                       output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RenderError(f"could not reset the kernel: {reply['content']}")
    finally:
        kc.stop_channels()


