"""The one place that registers DEAP aliases: individual, population, evaluate, mutate, mate, select, map."""
from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
from deap import base, tools

from . import operators


def build_toolbox(algorithm: str, rng: np.random.Generator, map_fn: Callable = map, *,
                  tournament: int = 5) -> base.Toolbox:
    """A DEAP toolbox with evoprune's operators for `algorithm` ("sa" or "ga").

    Swap an operator the DEAP way after building, e.g.
    `toolbox.register("mate", tools.cxTwoPoint)`; the algorithms only call the aliases.
    Mutations are called as `toolbox.mutate(ind, indpb=rate)` with the adaptive rate, so
    DEAP's own `tools.mutFlipBit` fits in as it is.
    """
    tb = base.Toolbox()
    tb.register("map", map_fn)
    if algorithm == "sa":
        tb.register("mutate", operators.mut_prune, rng=rng)
    else:
        tb.register("mutate", operators.mut_flip, rng=rng)
    tb.register("mate", tools.cxOnePoint)
    tb.register("select", tools.selTournament, tournsize=tournament)
    return tb


def bind_layer(tb: base.Toolbox, evaluate: Callable, base_mask: np.ndarray, zero_share: float,
               rng: np.random.Generator) -> None:
    """Point `individual`, `population` and `evaluate` at the layer now being searched.

    `toolbox.population(n=…, zero_share=…)` lets the GA re-draw with fewer zeros.
    """
    tb.register("evaluate", evaluate)
    tb.register("individual", operators.init_from_mask, base_mask, zero_share=zero_share, rng=rng)
    tb.register("population", operators.init_population, base_mask, zero_share=zero_share, rng=rng)
