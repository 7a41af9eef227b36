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


def executor_name(name: str | None, workers: int | None) -> str:
    """The executor to run: `name`; without one, a process pool when `workers` are asked for, else serial."""
    if name is None:
        return "serial" if workers is None else "process"
    if name == "serial" and workers is not None and workers > 1:
        raise ConfigError(f"the serial executor runs in this process and takes no workers (got {workers}): "
                          "use the process executor, or drop the workers")
    return name


def make_executor(name: str | None, workers: int | None = None, **options):
    """The executor registered under `name` (see `executor_name`; options: task_timeout, max_retries, address
    for Ray)."""
    import importlib

    name = executor_name(name, workers)
    try:
        module, cls = EXECUTORS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown executor {name!r} (choose from {', '.join(EXECUTORS)})") from None
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return getattr(importlib.import_module(module), cls)(workers=workers, **options)


__all__ = ["EXECUTORS", "SerialExecutor", "executor_name", "make_executor"]
