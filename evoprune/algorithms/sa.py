"""Simulated Annealing: logarithmic cooling, Metropolis acceptance, the best feasible mask kept."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deap import base

from ..problem.operators import mut_prune
from .base import STUDY_COLUMNS, Algorithm, at_least, better, local_start, setting
from .contract import Run


def temperature(t0: float, t: int) -> float:
    """The study's logarithmic cooling `T0 / (1 + ln(1 + t))`."""
    return t0 / (1.0 + math.log(1.0 + t))


def metropolis(delta: float, temp: float, rng: np.random.Generator) -> bool:
    """Accept an improvement always, a worsening by `delta` with probability `exp(−delta / temp)`."""
    if delta < 0:
        return True
    return bool(rng.random() < math.exp(-delta / temp))


@dataclass(frozen=True)
class Settings:
    t0: float = setting(0.002, "SA initial temperature of the cooling T0/(1 + ln(1 + t)) (the study preset: 1.0)",
                        lambda v: None if v > 0 else "(the initial temperature) must be > 0")
    proposals: int = setting(1, "SA: neighbours proposed per step and evaluated together (one toolbox.map call, "
                                "spread over the workers); in proposal order, the first that Metropolis accepts "
                                "replaces the current mask (1: classic SA)", at_least(1))


@dataclass
class State:
    current: object
    best: object | None


class SimulatedAnnealing(Algorithm[State]):
    """SA (the study's with `--preset study`): the neighbour is `toolbox.mutate` at the adaptive rate.

    With `proposals` k > 1 each step proposes k neighbours of the current mask at once, so k
    workers evaluate them in parallel. They are then taken in proposal order: each is tested by
    Metropolis against the current mask until one is accepted (the rest are dropped), and every
    one of them may become the best. The temperature and rate follow the evaluations made, as in
    classic SA; the result depends on k, never on the number of workers.
    """

    name = "sa"
    Settings = Settings
    history_columns = STUDY_COLUMNS

    def configure(self, toolbox: base.Toolbox, search: Run) -> None:
        if search.config.moves == "study":  # the study's SA move only prunes
            toolbox.register("mutate", mut_prune, indpb=search.config.rate0, rng=search.rng)

    def setup(self, search: Run, previous: State | None) -> State:
        start = local_start(search)
        return State(start, start if start.score.feasible else None)

    def done(self, search: Run, state: State) -> bool:
        return not any(state.current)  # an all-pruned genome has no neighbour

    def step(self, search: Run, state: State) -> None:
        tb = search.toolbox
        temp = temperature(self.settings.t0, search.unit_evals)
        rate = search.rate
        proposals = [tb.mutate(tb.clone(state.current), indpb=rate)[0] for _ in range(self.settings.proposals)]
        for cand in proposals:
            del cand.fitness.values
        search.evaluate(proposals)
        scored = [cand for cand in proposals if cand.fitness.valid]  # the budget may end within a batch
        for cand in scored:
            if cand.score.feasible and better(cand, state.best):
                state.best = cand
        current = state.current
        for cand in scored:
            if metropolis(cand.score.cost - current.score.cost, temp, search.rng):
                state.current = cand
                break
        search.record(state.current, temperature=temp, mutation_rate=rate)

    def best(self, search: Run, state: State):
        return state.best
