"""The serial executor: evaluations run in the calling process."""
from __future__ import annotations

import functools
from typing import Callable, Iterable

from ..evaluation import registry


def run_batch(fn: Callable, items: list) -> list:
    """Call a batch-aware task once for all items, or a plain function item by item.

    A task registered in a DEAP toolbox arrives wrapped in a bare `functools.partial`.
    """
    task = fn.func if isinstance(fn, functools.partial) and not fn.args and not fn.keywords else fn
    batch = getattr(task, "batch", None)
    return list(batch(items)) if batch is not None else [fn(i) for i in items]


class SerialExecutor:
    """Evaluates in the calling process; a batch-aware task gets the whole batch in one call."""

    name = "serial"

    def __init__(self, workers: int | None = None, **options):
        self.events: list[dict] = []

    def start(self, problem) -> None:
        registry.install(problem.token, problem.build_evaluator)

    def map(self, fn: Callable, items: Iterable) -> list:
        return run_batch(fn, list(items))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
