"""Simulated Annealing: logarithmic cooling, Metropolis acceptance, the best feasible mask kept."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..problem.operators import adaptive_rate, mut_prune
from .base import Algorithm, better, local_start, setting


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


@dataclass
class State:
    current: object
    best: object | None


class SimulatedAnnealing(Algorithm[State]):
    """SA (the study's with `--preset study`): the neighbour is `toolbox.mutate` at the adaptive rate."""

    name = "sa"
    Settings = Settings

    def configure(self, toolbox, search) -> None:
        if search.config.moves == "study":  # the study's SA move only prunes
            toolbox.register("mutate", mut_prune, indpb=search.config.rate0, rng=search.state.rng)

    def setup(self, search, previous):
        start = local_start(search)
        return State(start, start if start.score.feasible else None)

    def done(self, search, state: State) -> bool:
        return not any(state.current)  # an all-pruned genome has no neighbour

    def step(self, search, state: State) -> None:
        st, tb = search.state, search.toolbox
        t = st.unit_evals
        temp = temperature(self.settings.t0, t)
        rate = adaptive_rate(search.config.rate0, t, st.unit_budget)
        cand = tb.clone(state.current)
        (cand,) = tb.mutate(cand, indpb=rate)
        del cand.fitness.values
        search.evaluate([cand])
        if metropolis(cand.score.cost - state.current.score.cost, temp, st.rng):
            state.current = cand
        if cand.score.feasible and better(cand, state.best):
            state.best = cand
        search.record(state.current, temperature=temp, rate=rate)

    def best(self, search, state: State):
        return state.best
