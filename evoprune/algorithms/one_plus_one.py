"""The (1+1) evolutionary algorithm: standard bit mutation of one parent, the child kept when it is not worse."""
from __future__ import annotations

from dataclasses import dataclass

from deap import base

from ..problem.operators import mut_flip
from .base import STUDY_COLUMNS, Algorithm, better, local_start, positive, setting
from .contract import Run


@dataclass(frozen=True)
class Settings:
    mean_flips: float = setting(1.0, "(1+1)-EA: bits a child flips on average; each bit of an n-bit genome flips "
                                     "with probability mean_flips/n (1: the standard rate 1/n)", positive)


@dataclass
class State:
    parent: object  # never worse than any child scored, so the best feasible mask met when it is feasible


class OnePlusOneEA(Algorithm[State]):
    """The classic (1+1)-EA on bit strings, the textbook baseline for evolutionary search.

    One parent, from the informed start when the run has one (as SA and hill climbing), else
    the masks held now. Each step the child is the parent with standard bit mutation
    (`toolbox.mutate`, registered as independent bit flips): every bit flips with probability
    `mean_flips`/n, n the genome's length, so about `mean_flips` bits per step whatever the
    model's size and no bias toward pruning or restoring. The child replaces the parent when
    it is not worse (DEAP's order: feasible first, then lower cost), so equal children let it
    drift across plateaus. A child equal to its parent (no bit drawn, probability about
    e^−mean_flips) is a cache hit and costs no evaluation. Since a better child is always
    taken, the parent is the best mask scored, and the result when feasible.
    """

    name = "one-plus-one"
    Settings = Settings
    history_columns = STUDY_COLUMNS  # its temperature stays empty: one layout for every built-in

    def configure(self, toolbox: base.Toolbox, search: Run) -> None:
        # Standard bit mutation is what defines the algorithm, whatever --moves says; a user's
        # `customize` registers after this, so the move can still be swapped.
        toolbox.register("mutate", mut_flip, rng=search.rng)

    def setup(self, search: Run, previous: State | None) -> State:
        return State(local_start(search))

    def step(self, search: Run, state: State) -> None:
        tb = search.toolbox
        child = tb.clone(state.parent)
        # min: a genome shorter than mean_flips flips every bit, rather than an impossible probability.
        rate = min(1.0, self.settings.mean_flips / len(child))
        tb.mutate(child, indpb=rate)
        del child.fitness.values
        search.evaluate([child])
        if child.fitness.valid and not better(state.parent, child):
            state.parent = child
        search.record(state.parent, mutation_rate=rate)

    def best(self, search: Run, state: State):
        return state.parent if state.parent.score.feasible else None
