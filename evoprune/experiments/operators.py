"""Operator swaps by name: registered names or dotted paths, registered on a search's toolbox the DEAP way."""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from ..problem.calls import misfit

# The aliases a variant may give another operator.
ALIASES = ("mate", "mutate", "select", "individual", "population", "parents")

# Short names for the operators people swap most; anything else by dotted path.
NAMED = {
    "cxOnePoint": "deap.tools.cxOnePoint",
    "cxTwoPoint": "deap.tools.cxTwoPoint",
    "cxUniform": "deap.tools.cxUniform",
    "mutFlipBit": "deap.tools.mutFlipBit",
    "selTournament": "deap.tools.selTournament",
    "selBest": "deap.tools.selBest",
    "informed": "evoprune.problem.operators.mut_informed",
    "flip": "evoprune.problem.operators.mut_flip",
    "prune": "evoprune.problem.operators.mut_prune",
}


def resolve(name: str) -> Callable:
    """The function a registered name or a dotted path (`package.module.function`) names."""
    path = NAMED.get(name, name)
    module, _, attr = path.rpartition(".")
    if not module:
        raise ConfigError(f"{name!r} is neither a registered operator ({', '.join(NAMED)}) nor a dotted path")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise ConfigError(f"{name!r}: cannot import {module} ({e})") from None
    except AttributeError:
        raise ConfigError(f"{name!r}: {module} has no {attr!r}") from None
    if not callable(fn):
        raise ConfigError(f"{name!r} is not callable")
    return fn


def check_entry(alias: str, entry: Mapping[str, Any]) -> None:
    """Refuse an entry whose function cannot be imported, or cannot be called, with its arguments, as evoprune
    calls `alias` (a crossover with two individuals, a mutation with one, a selection with individuals and k)."""
    fn = resolve(entry["function"])
    why = misfit(alias, fn, _arguments(fn, entry, rng=None, genome=None))
    if why:
        raise ConfigError(f"{entry['function']!r} {why}")


def apply(toolbox, operators: Mapping[str, Mapping[str, Any]]) -> None:
    """Register each alias's function with its arguments (see `_arguments`)."""
    for alias, entry in operators.items():
        fn = resolve(entry["function"])
        toolbox.register(alias, fn, **_arguments(fn, entry, toolbox.rng, toolbox.genome))


def _arguments(fn: Callable, entry: Mapping[str, Any], rng, genome) -> dict:
    """The entry's arguments; a function taking `rng` or `genome` gets the toolbox's (its seeded generator, its
    genome holder) unless the entry gives them."""
    kwargs = {k: v for k, v in entry.items() if k != "function"}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a published signature takes neither
        params = {}
    for name, value in (("rng", rng), ("genome", genome)):
        if name in params and name not in kwargs:
            kwargs[name] = value
    return kwargs


class Customize:
    """A picklable `customize` hook applying a variant's operator swaps."""

    def __init__(self, operators: Mapping[str, Mapping[str, Any]]):
        self.operators = {a: dict(o) for a, o in operators.items()}

    def __call__(self, toolbox) -> None:
        apply(toolbox, self.operators)
