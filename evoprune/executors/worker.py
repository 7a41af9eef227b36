"""What runs inside a pool worker: the one-off initializer and the chunk runner."""
from __future__ import annotations

import os
import signal

from .. import _faults
from ..evaluation.registry import init_worker
from .serial import run_batch

_tasks_done = 0


def cores() -> int:
    """The cores this process may use (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def initialize(problem, threads: int, slots=None) -> None:
    """Prepare an evaluation worker: `prepare_process`, then the problem's evaluator."""
    prepare_process(threads, slots)
    init_worker(problem, threads)


def prepare_process(threads: int, slots=None) -> None:
    """What every pool worker does first: leave Ctrl-C to the main process, die with it, and take the
    next slot of `slots` (a shared counter): its own `threads` cores, so N workers do not share cores."""
    # Ctrl-C is the main process's to handle; workers would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if slots is not None and hasattr(os, "sched_setaffinity"):
        with slots.get_lock():
            slot = slots.value
            slots.value += 1
        cores = sorted(os.sched_getaffinity(0))
        mine = {cores[(slot * threads + i) % len(cores)] for i in range(threads)}
        os.sched_setaffinity(0, mine)


def _die_with_parent() -> None:
    # A worker left running after its main process was killed would go on writing a run's files.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers end when their task queue closes


def run_chunk(fn, items: list) -> list:
    """Evaluate one chunk of items in this worker."""
    global _tasks_done
    _tasks_done += 1
    _faults.worker_task(_tasks_done)  # tests make a worker die or hang here
    return run_batch(fn, items)
