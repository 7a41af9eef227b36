"""Fault injection for tests: `EVOPRUNE_FAULT=kind:K[,kind:K]` makes a process fail on purpose at a known point.

- `kill-after:K`: the process sends itself SIGKILL right after its K-th evaluation (counted from its start);
- `disk-full-from:K`: its K-th checkpoint write and every later one fail as a full disk would;
- `kill-before-certify:1`: the process sends itself SIGKILL when its search is done, before certification;
- `exit:K` / `hang:K`: the first pool worker that reaches its K-th task exits or hangs (once per run:
  `EVOPRUNE_FAULT_MARKER` names a file created at that moment).
Without the variable nothing here does anything.
"""
from __future__ import annotations

import errno
import os
import signal

FAULT_ENV, MARKER_ENV = "EVOPRUNE_FAULT", "EVOPRUNE_FAULT_MARKER"
_evaluations = 0


def fault(kind: str) -> int | None:
    """The K of `kind:K` in $EVOPRUNE_FAULT, or None."""
    for item in os.environ.get(FAULT_ENV, "").split(","):
        name, _, k = item.partition(":")
        if name.strip() == kind and k.strip().isdigit():
            return int(k)
    return None


def after_evaluations(n: int) -> None:
    """Called with the evaluations just made; dies by SIGKILL once the process has made `kill-after` of them."""
    global _evaluations
    _evaluations += n
    k = fault("kill-after")
    if k is not None and _evaluations >= k:
        os.kill(os.getpid(), signal.SIGKILL)


def checkpoint_write(count: int) -> None:
    """Called before the `count`-th checkpoint write of a run; raises as a full disk would from `disk-full-from`."""
    k = fault("disk-full-from")
    if k is not None and count >= k:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def worker_task(done: int) -> None:
    """Called by a pool worker before its `done`-th task: exits or hangs there, once per run (see the marker)."""
    marker = os.environ.get(MARKER_ENV)
    for kind in ("exit", "hang"):
        if fault(kind) == done and marker:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
            if kind == "exit":
                os._exit(17)
            signal.pause()


def before_certification() -> None:
    """Called when a run's search is done and its answer not yet certified; dies there by SIGKILL on request."""
    if fault("kill-before-certify") is not None:
        os.kill(os.getpid(), signal.SIGKILL)
