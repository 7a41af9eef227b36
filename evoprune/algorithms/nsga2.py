"""NSGA-II over whole-model masks: accuracy on the search data and global sparsity, the Pareto front kept."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from deap import base, tools
from deap.benchmarks.tools import hypervolume

from ..errors import ConfigError
from ..problem import operators
from .base import STUDY_COLUMNS, Algorithm, setting, unit_interval
from .contract import Run


@dataclass(frozen=True)
class Settings:
    population: int = setting(12, "NSGA-II population (a multiple of 4)")
    crossover: float = setting(0.9, "NSGA-II crossover probability", unit_interval)
    # The initial population's global sparsities, evenly spread over this range, so the first
    # generation already spans the trade-off instead of crowding around one sparsity.
    init_sparsities: tuple[float, float] = setting((0.3, 0.95), "NSGA-II: the first population's global "
                                                                "sparsities are evenly spread over LOW,HIGH")


@dataclass
class State:
    population: list
    front: tools.ParetoFront  # every mask scored that nothing dominates


class NSGA2(Algorithm[State]):
    """NSGA-II (DEAP's `selNSGA2`) on whole-model genomes, fitness (search accuracy, global sparsity).

    The first population is the importance masks at global sparsities evenly spread over
    `init_sparsities` (random masks at those sparsities with importance "none"). Each
    generation breeds `population` offspring (`toolbox.parents`: DEAP's dominance/crowding
    tournament, then `toolbox.mate` and `toolbox.mutate`) and keeps `population` of parents
    and offspring by `toolbox.select` (selNSGA2). Every scored mask enters a Pareto archive,
    the front the run reports; the run's own masks are the front point the objective prefers
    on the search data (floor: the sparsest whose accuracy holds).
    """

    name = "nsga2"
    Settings = Settings
    scope = "model"
    fitness = "front"
    history_columns = STUDY_COLUMNS  # its temperature stays empty: one layout for every built-in

    @classmethod
    def check_more(cls, s: Settings) -> None:
        # DEAP's dominance/crowding tournament draws a whole population in groups of four.
        if s.population < 4 or s.population % 4:
            raise ConfigError(f"nsga2 needs a population that is a multiple of 4, got {s.population}")
        lo, hi = s.init_sparsities
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"init_sparsities must be two sparsities 0 ≤ low ≤ high ≤ 1, got {lo}, {hi}")

    def min_budget(self, units: int) -> tuple[int, str]:
        return self.settings.population + 1, f"the unpruned model, then a first population of {self.settings.population}"

    def configure(self, toolbox: base.Toolbox, search: Run) -> None:
        # Individuals at an exact sparsity: the global-threshold importance mask at s (random masks
        # with no scores), whatever the informed-start settings say.
        toolbox.register("individual", operators.init_informed, toolbox.genome, rng=search.rng, spread=0.0)
        toolbox.register("select", tools.selNSGA2)
        toolbox.register("parents", tools.selTournamentDCD)

    def setup(self, search: Run, previous: State | None) -> State:
        s, tb = self.settings, search.toolbox
        front = tools.ParetoFront()
        baseline = search.current_individual()
        search.evaluate([baseline])  # a cache hit: the unpruned model is a point of the front
        front.update([baseline])
        pop = [tb.individual(sparsity=float(x)) for x in np.linspace(*s.init_sparsities, s.population)]
        search.evaluate(pop)
        pop = [ind for ind in pop if ind.fitness.valid]
        front.update(pop)
        state = State(tb.select(pop, len(pop)), front)  # selNSGA2 sets the crowding distances
        self._record(search, state, search.config.rate0)
        return state

    def done(self, search: Run, state: State) -> bool:
        return len(state.population) != self.settings.population

    def step(self, search: Run, state: State) -> None:
        s, tb = self.settings, search.toolbox
        rate = search.rate
        pop = state.population
        offspring = [tb.clone(ind) for ind in tb.parents(pop, len(pop))]
        for p1, p2 in zip(offspring[::2], offspring[1::2]):
            if search.rng.random() < s.crossover:
                tb.mate(p1, p2)
            for child in (p1, p2):
                tb.mutate(child, indpb=rate)
                del child.fitness.values
        search.evaluate(offspring)
        scored = [ind for ind in offspring if ind.fitness.valid]
        state.front.update(scored)
        state.population = tb.select(pop + scored, s.population)
        self._record(search, state, rate)

    def _record(self, search: Run, state: State, rate: float) -> None:
        # Hypervolume dominated by the front above (accuracy 0, sparsity 0), in accuracy × sparsity.
        hv = hypervolume(state.front, ref=[0.0, 0.0])
        search.record(self.best(search, state), mutation_rate=rate,
                      event=f"front {len(state.front)} points, hypervolume {hv:.6f}")

    def best(self, search: Run, state: State):
        feasible = [ind for ind in state.front if ind.score.feasible]
        return min(feasible, key=lambda ind: ind.score.cost) if feasible else None

    def front(self, state: State) -> list:
        return sorted(state.front, key=lambda ind: -ind.fitness.values[1])
