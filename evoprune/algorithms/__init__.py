"""Search algorithms, registered by name so runners and configs can use plain strings."""
from __future__ import annotations

from ..errors import ConfigError
from .base import HISTORY_FIELDS, Callback, LayerwiseSearch, SearchState
from .ga import GeneticAlgorithm
from .sa import SimulatedAnnealing

ALGORITHMS: dict[str, type[LayerwiseSearch]] = {
    SimulatedAnnealing.name: SimulatedAnnealing,
    GeneticAlgorithm.name: GeneticAlgorithm,
}


def algorithm_class(name: str) -> type[LayerwiseSearch]:
    """The algorithm registered under `name`, or a ConfigError listing the choices."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})") from None


__all__ = ["ALGORITHMS", "HISTORY_FIELDS", "Callback", "GeneticAlgorithm", "LayerwiseSearch",
           "SearchState", "SimulatedAnnealing", "algorithm_class"]
