"""Simulated Annealing over one layer's mask: logarithmic cooling, Metropolis acceptance, best feasible kept."""
from __future__ import annotations

import math

import numpy as np

from ..operators import adaptive_rate
from .base import LayerwiseSearch


def temperature(t0: float, t: int) -> float:
    """The study's logarithmic cooling `T0 / (1 + ln(1 + t))`."""
    return t0 / (1.0 + math.log(1.0 + t))


def metropolis(delta: float, temp: float, rng: np.random.Generator) -> bool:
    """Accept an improvement always, a worsening by `delta` with probability `exp(−delta / temp)`."""
    if delta < 0:
        return True
    return bool(rng.random() < math.exp(-delta / temp))


class SimulatedAnnealing(LayerwiseSearch):
    """SA run layer by layer (the study's with `--preset study`); the neighbour move is `toolbox.mutate`."""

    name = "sa"

    def begin_layer(self) -> None:
        current = self.current_individual()
        self.evaluate([current])  # a cache hit: the previous layer's result
        start = current
        if self.informed_start():
            # The importance mask at the start sparsity, stepped down (at most three times)
            # while it breaks the constraint; the current mask if none holds.
            for scale in (1.0, 0.5, 0.25):
                informed = self.toolbox.individual(sparsity=scale * self.start_sparsity(), spread=0.0)
                self.evaluate([informed])
                if informed.fitness.valid and informed.score.feasible:
                    start = informed if self.better(informed, current) else current
                    break
        self.state.algo = {"current": start, "best": start if start.score.feasible else None}

    def can_step(self) -> bool:
        return any(self.state.algo["current"])  # an all-pruned layer has no neighbour

    def step(self) -> None:
        st, a, c = self.state, self.state.algo, self.config
        t = st.layer_evals
        temp = temperature(c.t0, t)
        rate = adaptive_rate(c.rate0, t, st.layer_budget)
        cand = self.toolbox.clone(a["current"])
        (cand,) = self.toolbox.mutate(cand, indpb=rate)
        del cand.fitness.values
        self.evaluate([cand])
        if metropolis(cand.score.cost - a["current"].score.cost, temp, st.rng):
            a["current"] = cand
        if cand.score.feasible and self.better(cand, a["best"]):
            a["best"] = cand
        self.record(a["current"], temperature=temp, rate=rate)

    def chosen(self):
        return self.state.algo["best"]
