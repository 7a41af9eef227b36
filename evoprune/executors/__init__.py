"""Executors: where evaluations run, all behind one map-shaped seam (`toolbox.map`)."""
from __future__ import annotations

from ..errors import ConfigError
from .serial import SerialExecutor

# name -> "module:Class"; pool backends import their libraries only when chosen.
EXECUTORS: dict[str, str] = {
    "serial": "evoprune.executors.serial:SerialExecutor",
    "process": "evoprune.executors.process:ProcessExecutor",
    "ray": "evoprune.executors.ray_pool:RayExecutor",
}


def make_executor(name: str, workers: int | None = None, **options):
    """The executor registered under `name` (options: task_timeout, max_retries, address for Ray)."""
    import importlib

    try:
        module, cls = EXECUTORS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})") from None
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return getattr(importlib.import_module(module), cls)(workers=workers, **options)


__all__ = ["EXECUTORS", "SerialExecutor", "make_executor"]
