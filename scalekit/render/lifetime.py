"""Child processes that die with their parent: pool workers and the kernels they start.

``kill -9`` of ``scalekit report --jobs 2`` must not leave workers blocked on a queue that no
one will ever fill, nor kernels serving them. On Linux a child asks the kernel (the OS one) for
a signal when its parent dies, with ``prctl(PR_SET_PDEATHSIG)``: the pool's initializer asks it
for each worker, and every kernel we launch asks it in ``preexec_fn``. Elsewhere these are
no-ops (ipykernel's own parent poller still ends a kernel whose parent is gone, within a second).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable
from functools import cache

__all__ = ["die_with_parent", "die_with_parent_preexec"]

_PR_SET_PDEATHSIG = 1


@cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    fn: Callable[..., int] = libc.prctl
    return fn


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask for SIGKILL when the parent process dies (call it in the child, first thing).

    ``parent_pid`` is the parent the child was started by: if it is already gone when the
    request is made (the race the man page warns about), the child exits at once.
    """
    prctl = _prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def die_with_parent_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` making the child die with this process (None off Linux).

    The signal follows the thread that forks: kernels are started from the main thread of the
    process that runs the notebook, which lives as long as the process.
    """
    if _prctl() is None or threading.current_thread() is not threading.main_thread():
        return None  # a kernel forked from a worker thread would die with that thread, not with the process
    me = os.getpid()

    def preexec() -> None:
        die_with_parent(me)

    return preexec
