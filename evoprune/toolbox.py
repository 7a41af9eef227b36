"""The one place that registers DEAP aliases: individual, population, evaluate, mutate, mate, select, map."""
from __future__ import annotations

from typing import Callable

import numpy as np
from deap import base, tools

from . import operators
from .config import SearchConfig


def build_toolbox(algorithm: str, config: SearchConfig, rng: np.random.Generator, map_fn: Callable = map
                  ) -> base.Toolbox:
    """A DEAP toolbox with evoprune's operators for `algorithm` ("sa", "ga" or a one-shot baseline).

    Swap an operator the DEAP way after building, e.g. `toolbox.register("mate",
    tools.cxTwoPoint)`; the algorithms only call the aliases. Mutations are called as
    `toolbox.mutate(ind, indpb=rate)` with the adaptive rate, so DEAP's own
    `tools.mutFlipBit` fits in as it is. `toolbox.layer` tells evoprune's informed
    operators which layer is being searched.
    """
    tb = base.Toolbox()
    tb.layer = operators.LayerInfo()
    tb.register("map", map_fn)
    if config.moves == "informed":
        tb.register("mutate", operators.mut_informed, rng=rng, layer=tb.layer, restore=config.restore,
                    focus=config.focus)
    elif algorithm == "sa":
        tb.register("mutate", operators.mut_prune, rng=rng)
    else:
        tb.register("mutate", operators.mut_flip, rng=rng)
    tb.register("mate", tools.cxOnePoint)
    tb.register("select", tools.selTournament, tournsize=config.tournament)
    return tb


def bind_layer(tb: base.Toolbox, config: SearchConfig, evaluate: Callable, base_mask: np.ndarray,
               scores: np.ndarray | None, start_sparsity: float, rng: np.random.Generator) -> None:
    """Point `evaluate`, `individual` and `population` at the layer now being searched.

    With importance scores and an informed start, new individuals prune the layer's least
    important weights at about `start_sparsity` (`toolbox.individual(sparsity=…)` picks another); otherwise they are the study's: the current
    mask with a share of kept bits turned off. `toolbox.population(n=…, zero_share=…)` lets
    the study's GA re-draw with fewer zeros.
    """
    tb.layer.ranks = operators.importance_ranks(scores) if scores is not None else None
    tb.register("evaluate", evaluate)
    if config.start == "informed" and scores is not None:
        tb.register("individual", operators.init_informed, base_mask, sparsity=start_sparsity,
                    spread=config.start_spread, rng=rng, layer=tb.layer)
        tb.register("population", tools.initRepeat, list, tb.individual)
    else:
        tb.register("individual", operators.init_from_mask, base_mask, zero_share=config.init_zero_share, rng=rng)
        tb.register("population", operators.init_population, base_mask, zero_share=config.init_zero_share, rng=rng)
