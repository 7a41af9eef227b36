"""Search algorithms, registered by name so runners and configs can use plain strings."""
from __future__ import annotations

from ..errors import ConfigError
from .base import HISTORY_FIELDS, Callback, LayerwiseSearch, SearchState
from .ga import GeneticAlgorithm
from .nsga2 import NSGA2
from .oneshot import Magnitude, MagnitudeLayer, Random, Reconstruction, Saliency
from .sa import SimulatedAnnealing

ALGORITHMS: dict[str, type[LayerwiseSearch]] = {
    cls.name: cls for cls in (SimulatedAnnealing, GeneticAlgorithm, Magnitude, MagnitudeLayer, Saliency,
                             Reconstruction, Random, NSGA2)
}


def importance_for(name: str, config) -> str | None:
    """Which importance scores `name` needs with `config`: "magnitude", "saliency" or None."""
    needs = getattr(ALGORITHMS[name], "needs", None)
    if needs is not None:
        return None if needs == "random" else needs
    return None if config.importance == "none" else config.importance


def algorithm_class(name: str) -> type[LayerwiseSearch]:
    """The algorithm registered under `name`, or a ConfigError listing the choices."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})") from None


__all__ = ["ALGORITHMS", "importance_for", "HISTORY_FIELDS", "Callback", "GeneticAlgorithm", "LayerwiseSearch", "NSGA2",
           "SearchState", "SimulatedAnnealing", "algorithm_class"]
