"""Random search: independent random masks at sparsities drawn uniformly from a range, the best one kept."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..problem.genome import bits
from .base import STUDY_COLUMNS, Algorithm, better, setting
from .contract import Run


def sparsity_pair(v) -> str | None:
    """What is wrong with a LOW,HIGH sparsity range (None when 0 ≤ low ≤ high ≤ 1)."""
    ok = len(v) == 2 and 0.0 <= v[0] <= v[1] <= 1.0
    return None if ok else "must be LOW,HIGH with 0 ≤ low ≤ high ≤ 1"


def prune_at_random(individual, sparsity: float, rng: np.random.Generator):
    """Turn off kept bits of `individual`, chosen uniformly at random, until `sparsity` of its bits are off.

    Bits already off stay off (with scope layers, or masks pruned before the run), so a genome
    already sparser than `sparsity` is left as it is. Returns the individual, changed in place.
    """
    b = bits(individual)
    kept = np.flatnonzero(b)
    # An exact count rather than a coin per bit: the mask's sparsity is the one drawn, not near it.
    off = max(0, round(sparsity * b.size) - (b.size - kept.size))
    b[rng.choice(kept, size=off, replace=False)] = 0
    return individual


@dataclass(frozen=True)
class Settings:
    sparsity_range: tuple[float, float] = setting(
        (0.0, 1.0), "random-search: each mask's sparsity (of the genome: the model, or the layer with scope layers) "
                    "is drawn uniformly from LOW,HIGH", sparsity_pair)


@dataclass
class State:
    best: object | None  # the best feasible mask drawn so far


class RandomSearch(Algorithm[State]):
    """Random search, the baseline a search must beat: every step draws an independent random mask and keeps the best.

    Each step draws a sparsity s uniformly from `sparsity_range`, turns off that share of the
    genome's bits chosen uniformly at random (within the bits the masks held now keep), and
    evaluates it; the best feasible mask drawn (DEAP's order: feasible first, then lower cost)
    is the result. No draw depends on an earlier one: no start, no importance, no moves. Unlike
    the one-shot `random`, which prunes one random mask at a fixed `--sparsity`, it spends the
    whole budget, over a range of sparsities. Its history rows are the masks drawn, in order;
    the event column says "new best" where one beats every draw before it.
    """

    name = "random-search"
    Settings = Settings
    history_columns = STUDY_COLUMNS  # both empty: one layout for every built-in

    def setup(self, search: Run, previous: State | None) -> State:
        # No evaluation: with no feasible draw, `best` is None and the genome keeps the masks it had.
        return State(None)

    def step(self, search: Run, state: State) -> None:
        low, high = self.settings.sparsity_range
        draw = prune_at_random(search.current_individual(), search.rng.uniform(low, high), search.rng)
        search.evaluate([draw])
        if not draw.fitness.valid:  # the budget ended before it
            return
        new_best = draw.score.feasible and better(draw, state.best)
        if new_best:
            state.best = draw
        search.record(draw, event="new best" if new_best else "")

    def best(self, search: Run, state: State):
        return state.best
