"""Kernels: quiet ones (no log lines on our terminal), and one warm kernel per worker process."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import RenderError

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

__all__ = ["quiet_kernel_manager", "reset_kernel", "shutdown_warm", "warm_kernel"]


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
    km = quiet_kernel_manager()(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=str(cwd))
    _WARM["km"] = km
    if not _WARM.get("finalizer"):
        import atexit
        from multiprocessing import util

        util.Finalize(None, shutdown_warm, exitpriority=10)  # pool workers skip atexit
        atexit.register(shutdown_warm)
        _WARM["finalizer"] = True
    return km


def reset_kernel(km: AsyncKernelManager, cwd: Path) -> None:
    from jupyter_client.blocking.client import BlockingKernelClient

    # parent=km: "is the kernel alive" asks the process, not the heartbeat, which a loaded machine misses
    # (then every warm render failed with "Kernel died before replying to kernel_info")
    kc = BlockingKernelClient(parent=km)
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(f"import os; os.chdir({str(cwd)!r})\n%reset -f\n", store_history=False, timeout=60,
                                       output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RenderError(f"could not reset the kernel: {reply['content']}")
    finally:
        kc.stop_channels()


