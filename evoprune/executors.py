"""Executors: where evaluations run, all behind one map-shaped seam (`toolbox.map`)."""
from __future__ import annotations

from typing import Callable, Iterable

from .errors import ConfigError


class SerialExecutor:
    """Evaluates in the calling process; a batch-aware task gets the whole batch in one call."""

    name = "serial"

    def __init__(self, workers: int | None = None):
        self.events: list[dict] = []

    def start(self, problem) -> None:
        problem.install()

    def map(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        batch = getattr(fn, "batch", None)
        return list(batch(items)) if batch is not None else [fn(i) for i in items]

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


EXECUTORS: dict[str, type] = {"serial": SerialExecutor}


def make_executor(name: str, workers: int | None = None):
    """The executor registered under `name`."""
    try:
        cls = EXECUTORS[name]
    except KeyError:
        raise ConfigError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})") from None
    return cls(workers=workers)
