"""Search algorithms, registered by name so runners and configs can use plain strings."""
from __future__ import annotations

from ..config import SCOPED_ALGORITHMS
from ..errors import ConfigError
from .base import HISTORY_FIELDS, Callback, LayerwiseSearch, SearchState
from .ga import GeneticAlgorithm
from .nsga2 import NSGA2
from .oneshot import Magnitude, MagnitudeLayer, Random, Reconstruction, Saliency
from .sa import SimulatedAnnealing
from .whole import WholeModel, whole_model

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


def algorithm_class(name: str, config=None) -> type[LayerwiseSearch]:
    """The algorithm registered under `name` (its whole-model form under `config.scope == "model"`).

    An unknown name is a ConfigError listing the choices.
    """
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})") from None
    if config is not None and config.scope == "model" and name in SCOPED_ALGORITHMS:
        return whole_model(cls)
    return cls


__all__ = ["ALGORITHMS", "importance_for", "HISTORY_FIELDS", "Callback", "GeneticAlgorithm", "LayerwiseSearch", "NSGA2",
           "SearchState", "SimulatedAnnealing", "WholeModel", "algorithm_class", "whole_model"]
