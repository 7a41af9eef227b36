"""What runs inside a pool worker: the one-off initializer and the chunk runner."""
from __future__ import annotations

import os
import signal

from ..evaluation.registry import init_worker
from .serial import run_batch

# Test hook: EVOPRUNE_FAULT="exit:K" (or "hang:K") makes the first worker that reaches its K-th
# task exit (or hang); EVOPRUNE_FAULT_MARKER names a file created at that moment so that the
# fault happens once per run, not again in the worker that replaces it.
FAULT_ENV, MARKER_ENV = "EVOPRUNE_FAULT", "EVOPRUNE_FAULT_MARKER"
_tasks_done = 0


def initialize(problem, threads: int) -> None:
    """Prepare a pool worker: Ctrl-C left to the main process, TensorFlow sized to this worker's share of the cores."""
    # Ctrl-C is the main process's to handle; workers would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(problem, threads)


def run_chunk(fn, items: list) -> list:
    """Evaluate one chunk of items in this worker."""
    global _tasks_done
    _tasks_done += 1
    _maybe_fault()
    return run_batch(fn, items)


def _maybe_fault() -> None:
    spec, marker = os.environ.get(FAULT_ENV), os.environ.get(MARKER_ENV)
    if not spec or not marker:
        return
    kind, k = spec.split(":")
    if _tasks_done != int(k):
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    if kind == "exit":
        os._exit(17)
    if kind == "hang":
        signal.pause()
