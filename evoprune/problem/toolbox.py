"""The one place that registers DEAP aliases: individual, population, evaluate, mutate, mate, select, map.

Each alias is registered once. What changes as a search moves from layer to layer (the genome
being searched, its fixed masks, the objective) lives in two holders the registered functions
read at call time, `toolbox.genome` (operators) and `toolbox.target` (evaluation), so any alias
a user registers stays in force for the whole run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from deap import base, tools

from ..network.masks import Masks, layer_sparsity
from . import operators
from .genome import FITNESS_FORMS
from .importance import global_threshold_masks
from .layout import Layout
from .operators import Genome
from .target import Evaluate, Target

MOVES = ("informed", "layer", "study")
STARTS = ("informed", "study")


@dataclass(frozen=True)
class Moves:
    """How evoprune's operators make candidates: `kind` of move (one of MOVES), the initial mutation `rate`, the bits
    informed moves `restore` per bit pruned and how strongly they `focus` on the importance ranking, the relative
    spread of informed initial sparsities (`start_spread`) and the study start's `zero_share`."""

    kind: str = "informed"
    rate: float = 0.02
    restore: float = 0.5
    focus: float = 4.0
    start_spread: float = 0.3
    zero_share: float = 0.1


def build_toolbox(token: str, layout: Layout, rng: np.random.Generator, moves: Moves = Moves(), *,
                  informed_start: bool, fitness: str = "single", map_fn: Callable = map) -> base.Toolbox:
    """A DEAP toolbox with evoprune's operators (`moves`), its holders not yet bound to masks (see `bind`).

    - `individual` / `population`: importance masks near the start sparsity (`informed_start`), or
      the study's: the current masks with a `zero_share` of kept bits turned off
      (`population(n=…, zero_share=…)` re-draws with fewer);
    - `mutate(ind, indpb=rate)`: informed prune-and-restore moves over the whole genome, or in one
      layer at a time (kind "layer"), or bit flips (kind "study"); `indpb` defaults to `rate`,
      so DEAP's `varAnd` can call `mutate(ind)`;
    - `mate`: one-point crossover; `select`: tournament of 3;
    - `evaluate(ind)`: the fitness tuple of the problem's form (see `target.Evaluate`); `map`: `map_fn`.
    """
    if moves.kind not in MOVES:
        raise ValueError(f"moves must be one of {', '.join(MOVES)}, got {moves.kind!r}")
    tb = base.Toolbox()
    tb.rng = rng  # evoprune's operators draw from it; swapped-in ones may too (experiments.operators)
    tb.genome = Genome(np.ones(layout.size, np.uint8), cls=FITNESS_FORMS[fitness])
    tb.target = Target.make(token, layout, {s.name: np.ones(s.shape, bool) for s in layout.specs},
                            front=fitness == "front")
    tb.register("map", map_fn)
    tb.register("evaluate", Evaluate(tb.target))
    if informed_start:
        tb.register("individual", operators.init_informed, tb.genome, rng=rng, spread=moves.start_spread)
        tb.register("population", tools.initRepeat, list, tb.individual)
    else:
        tb.register("individual", operators.init_from_mask, tb.genome, zero_share=moves.zero_share, rng=rng)
        tb.register("population", operators.init_population, tb.genome, zero_share=moves.zero_share, rng=rng)
    if moves.kind in ("informed", "layer"):
        move = operators.mut_informed if moves.kind == "informed" else operators.mut_informed_layer
        tb.register("mutate", move, indpb=moves.rate, rng=rng, genome=tb.genome, restore=moves.restore,
                    focus=moves.focus)
    else:
        tb.register("mutate", operators.mut_flip, indpb=moves.rate, rng=rng)
    tb.register("mate", tools.cxOnePoint)
    tb.register("select", tools.selTournament, tournsize=3)
    return tb


def start_sparsity(layout: Layout, scores: Mapping[str, np.ndarray] | None, sparsity: float) -> float:
    """The informed start's sparsity of a genome: `sparsity` for a whole model, a layer's share of the
    global importance mask at `sparsity` for one layer (0 without scores)."""
    if scores is None:
        return 0.0
    if layout.whole:
        return sparsity
    return layer_sparsity(global_threshold_masks(scores, sparsity)[layout.layer])


def bind(tb: base.Toolbox, layout: Layout, masks: Masks, objective, scores: Mapping[str, np.ndarray] | None,
         sparsity: float) -> None:
    """Point the toolbox's holders at searching `layout` while every other layer keeps its mask in `masks`."""
    g = tb.genome
    g.base = layout.genome(masks).astype(np.uint8)
    g.ranks = operators.importance_ranks(layout.genome(scores)) if scores is not None else None
    g.start_sparsity = start_sparsity(layout, scores, sparsity)
    g.bounds = tuple(int(b) for b in np.cumsum([0] + [s.size for s in layout.covered]))
    fresh = Target.make(tb.target.token, layout, masks, objective, tb.target.front)
    vars(tb.target).update(vars(fresh))
