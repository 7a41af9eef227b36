"""First-improvement hill climbing with the informed moves: a neighbour that beats the current mask replaces it."""
from __future__ import annotations

from dataclasses import dataclass

from .base import STUDY_COLUMNS, Algorithm, at_least, better, local_start, setting
from .contract import Run


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
    history_columns = STUDY_COLUMNS  # its temperature stays empty: one layout for every built-in

    def setup(self, search: Run, previous: State | None) -> State:
        start = local_start(search)
        return State(start, start if start.score.feasible else None)

    def done(self, search: Run, state: State) -> bool:
        return not any(state.current)

    def step(self, search: Run, state: State) -> None:
        tb = search.toolbox
        rate = search.rate
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
        search.record(state.current, mutation_rate=rate)

    def best(self, search: Run, state: State):
        return state.best
