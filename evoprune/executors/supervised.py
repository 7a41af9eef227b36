"""A pool executor that survives dead and hung workers: timeouts, restarts, capped retries, events."""
from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from typing import Callable, Iterable

from ..errors import EvopruneError
from . import worker

log = logging.getLogger("evoprune.executors")


class ExecutorError(EvopruneError):
    """A task raised, or kept failing after every retry: the run stops with this message."""


def split(items: list, parts: int) -> list[list]:
    """`items` in at most `parts` contiguous chunks of near-equal size, in order."""
    parts = max(1, min(parts, len(items)))
    q, r = divmod(len(items), parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + q + (i < r))
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


class SupervisedPool(ABC):
    """`map` over a pool of workers, each prepared once by `initializer(payload, threads, slots)`.

    The payload is the problem (each worker then holds its evaluator), or for whole runs as
    jobs, what every run needs (`experiments.jobs`). A plain `Pool.map` waits forever when a
    worker dies. Here every chunk is a task with a deadline; when a worker disappears, a task
    reports its worker lost (a Ray actor) or a deadline passes, the pool is replaced and the
    unfinished tasks are resubmitted, at most `max_retries` times each. Tasks must be
    deterministic (a mask's score) or idempotent (a run that resumes from its checkpoint), so a
    resubmitted task returns what the lost one would have. Every such event is kept in `events`.
    An error the task itself raised would only repeat: it stops the map at once (`ExecutorError`).
    """

    name = "pool"

    def __init__(self, workers: int | None = None, task_timeout: float = 600.0, max_retries: int = 3,
                 initializer: Callable = worker.initialize, threads: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.threads = threads  # TensorFlow threads per worker (default: its share of the cores)
        self.task_timeout = task_timeout
        self.max_retries = max_retries
        self.initializer = initializer
        self.events: list[dict] = []
        self._pool = None
        self._problem = None

    # ----- backend hooks -----
    @abstractmethod
    def _new_pool(self, problem, threads: int):
        """A pool whose workers ran `self.initializer(problem, threads, …)`."""

    def _alive(self) -> bool:
        """Whether every worker the pool started is still the one running (no silent replacement)."""
        return True

    def _lost_worker(self, error: Exception) -> bool:
        """Whether `error`, raised by a task's `get`, says its worker was lost rather than that the task raised."""
        return False

    # ----- lifecycle -----
    def start(self, problem) -> None:
        self._problem = problem
        self._pool = self._new_pool(problem, self._threads())

    def _threads(self) -> int:
        # One TensorFlow thread pool per worker, sized to its share of the cores.
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    def _restart(self) -> None:
        self._terminate()
        self._pool = self._new_pool(self._problem, self._threads())

    def _terminate(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        # On an error or Ctrl-C do not wait for the workers' queued tasks.
        if exc_type is not None:
            self._terminate()
        self.close()

    # ----- the seam -----
    def map(self, fn: Callable, items: Iterable, chunk_size: int | None = None) -> list:
        """`[fn(item) for item in items]` across the workers: in one contiguous chunk per worker (a batch-aware
        `fn` scores each chunk in one call), or in chunks of `chunk_size` taken by whichever worker is free."""
        items = list(items)
        if not items:
            return []
        chunks = split(items, self.workers if chunk_size is None else -(-len(items) // chunk_size))
        results: list = [None] * len(chunks)
        tries = [0] * len(chunks)
        pending = self._submit(fn, chunks, range(len(chunks)))
        while pending:
            first = next(iter(pending.values()))
            first[0].wait(0.05)
            failure = None
            for i, (task, started) in list(pending.items()):
                if task.ready():
                    try:
                        results[i] = task.get()
                        del pending[i]
                    except Exception as e:
                        if not self._lost_worker(e):
                            self._terminate()
                            raise ExecutorError(f"{self.name} executor: task {_label(chunks, i)} raised "
                                                f"{_one_line(e)}; stopping the run") from e
                        failure = f"a worker was lost ({_one_line(e)})"
                elif time.monotonic() - started > self.task_timeout:
                    failure = f"a task ran over its timeout of {self.task_timeout:g} s (hung worker)"
            if failure is None and pending and not self._alive():
                failure = "a worker died while holding a task"
            if failure is not None and pending:
                pending = self._recover(fn, chunks, pending, tries, failure)
        return [r for chunk in results for r in chunk]

    def _submit(self, fn, chunks, indices) -> dict:
        now = time.monotonic()
        return {i: (self._pool.apply_async(worker.run_chunk, (fn, chunks[i])), now) for i in indices}

    def _recover(self, fn, chunks, pending: dict, tries: list, failure: str) -> dict:
        for i in pending:
            tries[i] += 1
        worst = max(tries[i] for i in pending)  # the failures of the task tried most, this one included
        if worst > self.max_retries:
            self._terminate()
            raise ExecutorError(f"{self.name} executor: a task failed {worst} times ({failure}); stopping the run")
        self.events.append({"time": time.time(), "executor": self.name, "failure": failure,
                            "tasks_resubmitted": len(pending), "retry": worst})
        log.warning("evoprune: %s; restarting the %s workers and resubmitting %d task(s) (retry %d of %d)",
                    failure, self.name, len(pending), worst, self.max_retries)
        self._restart()
        return self._submit(fn, chunks, list(pending))


def _label(chunks: list[list], i: int) -> str:
    """Chunk i by the names of its items when they have names (an experiment's runs), else by its place."""
    names = [getattr(item, "name", None) for item in chunks[i]]
    return ", ".join(names) if all(isinstance(n, str) for n in names) else f"{i + 1} of {len(chunks)}"


def _one_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
