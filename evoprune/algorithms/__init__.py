"""Search algorithms, registered by name so runners and configs can use plain strings.

Adding one: a module with an `Algorithm` subclass (its `Settings` and `State` beside it; its hooks
use the run only as a `Run`, see `contract.py`) and a line below (or `register(cls)` for your own).
Its settings then work as `--set KEY=VALUE` (and `--KEY`) on `prune` and `compare`.
"""
from __future__ import annotations

import importlib
import typing
from dataclasses import asdict, fields

from ..errors import ConfigError
from .base import Algorithm
from .contract import Run

# One line per algorithm: "module.Class" under evoprune.algorithms.
REGISTERED = (
    "sa.SimulatedAnnealing",
    "ga.GeneticAlgorithm",
    "hc.HillClimbing",
    "nsga2.NSGA2",
    "oneshot.Magnitude",
    "oneshot.MagnitudeLayer",
    "oneshot.Saliency",
    "oneshot.Reconstruction",
    "oneshot.Refitted",
    "oneshot.Obs",
    "oneshot.Random",
    "random_search.RandomSearch",
    "one_plus_one.OnePlusOneEA",
)

ALGORITHMS: dict[str, type[Algorithm]] = {}


def register(cls: type[Algorithm]) -> type[Algorithm]:
    """Add an algorithm to the registry (a user's own too); a duplicate name is an error."""
    if cls.name in ALGORITHMS:
        raise ValueError(f"an algorithm named {cls.name!r} is already registered")
    ALGORITHMS[cls.name] = cls
    return cls


for _path in REGISTERED:
    _module, _cls = _path.rsplit(".", 1)
    register(getattr(importlib.import_module(f".{_module}", __name__), _cls))


def algorithm_class(name: str) -> type[Algorithm]:
    """The algorithm registered under `name`; an unknown name is a ConfigError listing the choices."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})") from None


def setting_types() -> dict[str, tuple[type, str]]:
    """Every algorithm setting by name: (its type, its help line), from the first algorithm declaring it."""
    out: dict[str, tuple[type, str]] = {}
    for cls in ALGORITHMS.values():
        hints = typing.get_type_hints(cls.Settings)
        for f in fields(cls.Settings):
            out.setdefault(f.name, (typing.get_origin(hints[f.name]) or hints[f.name], f.metadata.get("help", "")))
    return out


def make_algorithm(name: str, config, strict: bool = False) -> Algorithm:
    """The algorithm `name` with its settings taken from `config.settings` and checked.

    A setting no registered algorithm declares is an error; one that only other algorithms
    declare is ignored (a config shared by a comparison), or an error with `strict`.
    """
    cls = algorithm_class(name)
    known = setting_types()
    own = {f.name for f in fields(cls.Settings)}
    for key in config.settings:
        if key not in known:
            raise ConfigError(f"no setting {key!r} (algorithm settings: {', '.join(sorted(known))})")
        if strict and key not in own:
            raise ConfigError(f"{name} has no setting {key!r} (its settings: {', '.join(sorted(own)) or 'none'})")
    settings = cls.Settings(**{k: v for k, v in config.settings.items() if k in own})
    cls.check(settings)
    return cls(settings)


def check_budget(algorithm: Algorithm, config, units: int) -> None:
    """Refuse a budget too small for one pass of `algorithm` over `units` genomes, in one line."""
    needed, what = algorithm.min_budget(units)
    if config.budget < needed:
        raise ConfigError(f"--budget {config.budget} is too small for {algorithm.name}: it needs at least {needed} "
                          f"evaluations ({what}; {units} genome{'s' if units != 1 else ''} to search)")


def units(algorithm: Algorithm, config, n_layers: int) -> int:
    """How many genomes `algorithm` searches one after another: one per layer, or one of the whole model."""
    return n_layers if (algorithm.scope or config.scope) == "layers" else 1


def config_record(algorithm: Algorithm, config) -> dict:
    """What run.json records of a search's settings: the shared ones, then the algorithm's own."""
    return {**config.shared(), **{k: list(v) if isinstance(v, tuple) else v
                                  for k, v in asdict(algorithm.settings).items()}}


def importance_for(algorithm: Algorithm, config) -> str | None:
    """Which importance scores `algorithm` needs with `config` ("magnitude", "saliency", …) or None."""
    kind = algorithm.importance if algorithm.importance is not None else config.importance
    return None if kind in ("", "none") else kind


__all__ = ["ALGORITHMS", "Algorithm", "Run", "algorithm_class", "check_budget", "config_record", "importance_for",
           "make_algorithm", "register", "setting_types", "units"]
