"""NSGA-II over whole-model masks: accuracy on the search data and global sparsity, the Pareto front kept."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from deap import base, creator, tools
from deap.benchmarks.tools import hypervolume

from ..masks import LayerSpec, Masks
from ..operators import LayerInfo, adaptive_rate, init_informed
from .base import LayerwiseSearch
from .whole import WholeModel

# Two objectives, both maximised: accuracy on the search data and global sparsity. The
# layer-wise searches' (feasible, cost) fitness cannot express a trade-off, so NSGA-II's
# individuals get their own DEAP classes.
if not hasattr(creator, "FrontFitness"):
    creator.create("FrontFitness", base.Fitness, weights=(1.0, 1.0))
if not hasattr(creator, "FrontIndividual"):
    creator.create("FrontIndividual", list, fitness=creator.FrontFitness)

FrontIndividual = creator.FrontIndividual


def front_individual(base_mask: np.ndarray, sparsity: float, spread: float, rng: np.random.Generator,
                     layer: LayerInfo) -> "FrontIndividual":
    """`operators.init_informed` as a two-objective individual."""
    return FrontIndividual(init_informed(base_mask, sparsity, spread, rng, layer))


class NSGA2(WholeModel, LayerwiseSearch):
    """NSGA-II (DEAP's `selNSGA2`) on whole-model genomes: all prunable layers' masks in one individual.

    The initial population is the importance masks at global
    sparsities evenly spread over `config.init_sparsities` (random masks at those sparsities
    with `importance="none"`). Each generation breeds
    `population` offspring (`toolbox.parents`: DEAP's dominance/crowding tournament, then
    `toolbox.mate` and `toolbox.mutate`) and keeps `population` of parents and offspring by
    `toolbox.select` (selNSGA2). Every scored mask enters a Pareto archive: the front the run
    reports (`front()`). The run's own masks are the front point the objective prefers on the
    search data (floor objective: the sparsest whose accuracy ≥ baseline − delta).
    """

    name = "nsga2"

    def __init__(self, specs: Sequence[LayerSpec], config, task_factory, **kwargs):
        super().__init__(specs, config, task_factory, **kwargs)
        self.toolbox.register("select", tools.selNSGA2)
        self.toolbox.register("parents", tools.selTournamentDCD)

    def _bind_layer(self) -> None:
        super()._bind_layer()
        tb = self.toolbox
        # Two-objective individuals at an exact sparsity: the global-threshold importance mask
        # at s (random masks with no scores), whatever the informed-start settings say.
        tb.register("individual", front_individual, np.ones(self.spec.size, np.uint8), spread=0.0,
                    rng=self.state.rng, layer=tb.layer)

    def current_individual(self):
        return FrontIndividual(super().current_individual())

    def evaluate(self, individuals: Sequence, limit: int | None = -1) -> list:
        """The driver's evaluation, then the two objectives as the DEAP fitness.

        `score` (feasible, cost) stays on each individual: it picks the run's reported point and
        fills the history rows.
        """
        results = super().evaluate(individuals, limit)
        for ind, res in zip(individuals, results):
            if res is not None:
                ind.fitness.values = (res.accuracy, self.sparsities(ind)[1])
        return results

    # ----- NSGA-II -----
    def begin_layer(self) -> None:
        st, c, tb = self.state, self.config, self.toolbox
        archive = tools.ParetoFront()
        baseline = self.current_individual()
        self.evaluate([baseline])  # a cache hit: the unpruned model is a point of the front
        archive.update([baseline])
        pop = [tb.individual(sparsity=float(s)) for s in np.linspace(*c.init_sparsities, c.population)]
        self.evaluate(pop)
        pop = [ind for ind in pop if ind.fitness.valid]
        archive.update(pop)
        st.algo = {"population": tb.select(pop, len(pop))}  # selNSGA2 sets the crowding distances
        st.extra["front"] = archive  # the run's, not the pass's: `front()` reads it after the run
        self._record_front(c.rate0)

    def can_step(self) -> bool:
        return len(self.state.algo["population"]) == self.config.population

    def step(self) -> None:
        st, a, c, tb = self.state, self.state.algo, self.config, self.toolbox
        rate = adaptive_rate(c.rate0, st.layer_evals, st.layer_budget)
        pop = a["population"]
        offspring = [tb.clone(ind) for ind in tb.parents(pop, len(pop))]
        for p1, p2 in zip(offspring[::2], offspring[1::2]):
            if st.rng.random() < c.crossover:
                tb.mate(p1, p2)
            for child in (p1, p2):
                tb.mutate(child, indpb=rate)
                del child.fitness.values
        self.evaluate(offspring)
        scored = [ind for ind in offspring if ind.fitness.valid]
        st.extra["front"].update(scored)
        a["population"] = tb.select(pop + scored, c.population)
        self._record_front(rate)

    def _record_front(self, rate: float) -> None:
        front = self.state.extra["front"]
        # Hypervolume dominated by the front above (accuracy 0, sparsity 0), in accuracy × sparsity.
        hv = hypervolume(front, ref=[0.0, 0.0])
        self.record(self.chosen(), rate=rate, event=f"front {len(front)} points, hypervolume {hv:.6f}")

    def chosen(self):
        feasible = [ind for ind in self.state.extra["front"] if ind.score.feasible]
        return min(feasible, key=lambda ind: ind.score.cost) if feasible else None

    def front(self) -> list[tuple[Masks, object]]:
        """The Pareto front of every mask scored (masks, search-data EvalResult), from the sparsest."""
        points = sorted(self.state.extra["front"], key=lambda ind: -ind.fitness.values[1])
        return [(self.masks_of(ind), ind.result) for ind in points]
