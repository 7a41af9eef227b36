"""First-improvement hill climbing with the informed moves: a neighbour that beats the current mask replaces it."""
from __future__ import annotations

from dataclasses import dataclass

from ..problem.operators import adaptive_rate
from .base import Algorithm, at_least, better, local_start, setting


@dataclass(frozen=True)
class Settings:
    neighbours: int = setting(1, "hc: neighbours proposed together per step (evaluated in one toolbox.map call); "
                                 "the first one, in proposal order, that beats the current mask is taken",
                              at_least(1))


@dataclass
class State:
    current: object
    best: object | None


class HillClimbing(Algorithm[State]):
    """Hill climbing from the informed start: `neighbours` moves of `toolbox.mutate` per step, first improvement."""

    name = "hc"
    Settings = Settings

    def setup(self, search, previous):
        start = local_start(search)
        return State(start, start if start.score.feasible else None)

    def done(self, search, state: State) -> bool:
        return not any(state.current)

    def step(self, search, state: State) -> None:
        st, tb = search.state, search.toolbox
        rate = adaptive_rate(search.config.rate0, st.unit_evals, st.unit_budget)
        neighbours = [tb.mutate(tb.clone(state.current), indpb=rate)[0] for _ in range(self.settings.neighbours)]
        for n in neighbours:
            del n.fitness.values
        search.evaluate(neighbours)
        for n in (n for n in neighbours if n.fitness.valid):
            if n.score.feasible and better(n, state.best):
                state.best = n
            if better(n, state.current):
                state.current = n
                break
        search.record(state.current, rate=rate)

    def best(self, search, state: State):
        return state.best
