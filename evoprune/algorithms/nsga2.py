"""NSGA-II over whole-model masks: accuracy on the search data and global sparsity, the Pareto front kept."""
from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

import numpy as np
from deap import base, creator, tools
from deap.benchmarks.tools import hypervolume

from ..genome import bits
from ..masks import LayerSpec, Masks
from ..operators import LayerInfo, adaptive_rate, importance_ranks, init_informed
from .base import LayerwiseSearch

# Two objectives, both maximised: accuracy on the search data and global sparsity. The
# layer-wise searches' (feasible, cost) fitness cannot express a trade-off, so NSGA-II's
# individuals get their own DEAP classes.
if not hasattr(creator, "FrontFitness"):
    creator.create("FrontFitness", base.Fitness, weights=(1.0, 1.0))
if not hasattr(creator, "FrontIndividual"):
    creator.create("FrontIndividual", list, fitness=creator.FrontFitness)

FrontIndividual = creator.FrontIndividual

WHOLE = "all"  # the `layer` of NSGA-II's history rows: one genome holds every prunable layer


def front_individual(base_mask: np.ndarray, sparsity: float, spread: float, rng: np.random.Generator,
                     layer: LayerInfo) -> "FrontIndividual":
    """`operators.init_informed` as a two-objective individual."""
    return FrontIndividual(init_informed(base_mask, sparsity, spread, rng, layer))


class NSGA2(LayerwiseSearch):
    """NSGA-II (DEAP's `selNSGA2`) on whole-model genomes: all prunable layers' masks in one individual.

    It runs as one pass of the layer-wise driver over a pseudo-layer holding every prunable
    weight (`spec`), so the budget, the cache, the history rows, the callbacks and the
    snapshots are the driver's. The initial population is the importance masks at global
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
        self._bounds = np.cumsum([0] + [s.size for s in specs])  # where each layer sits in the genome
        super().__init__(specs, config, task_factory, **kwargs)
        self.toolbox.register("select", tools.selNSGA2)
        self.toolbox.register("parents", tools.selTournamentDCD)

    # ----- the whole model as the driver's single layer -----
    @property
    def spec(self) -> LayerSpec:
        # The last layer's index: the floor objective then allows the whole delta.
        return LayerSpec(WHOLE, max(s.index for s in self.specs), (int(self._bounds[-1]),))

    def _layer_share(self) -> int:
        return self.config.budget - self.state.evaluations

    def _bind_layer(self) -> None:
        from ..evaluation.context import Context

        st, tb = self.state, self.toolbox
        tb.register("evaluate", self.task_factory(Context.make(st.masks, None)))
        # Ranks over all layers at once: an informed individual at sparsity s is then exactly
        # the global-threshold importance mask at s (the one-shot baseline the search starts from).
        tb.layer.ranks = importance_ranks(self.genome(self.scores)) if self.scores is not None else None
        tb.register("individual", front_individual, np.ones(self.spec.size, np.uint8), spread=0.0, rng=st.rng,
                    layer=tb.layer)
        # A whole genome's cache key is the digest of its own packed bits: no fixed layers around it.
        self._before, self._after = hashlib.sha1(), b""

    def _evaluate_baseline(self) -> None:
        st = self.state
        st.layer_pos, st.layer_started = 0, True
        self._bind_layer()
        (st.baseline,) = self._run_masks([self.individual(st.masks)])  # the first evaluation of the budget
        st.current = st.baseline
        st.layer_started = False
        self._make_objective()

    def _end_layer(self) -> None:
        st = self.state
        best = self.chosen()
        if best is None:
            self.record(None, event="no_feasible_mask: the model keeps its masks")
        else:
            st.masks, st.current = self.masks(best), best.result
        kept = {s.name: int(np.count_nonzero(st.masks[s.name])) for s in self.specs}
        found = {"feasible_found": best is not None, "search_accuracy": st.current.accuracy,
                 "search_loss": st.current.loss}
        # One search served every layer: its evaluations are counted once, on the first layer, so
        # the layers' evaluations add up as in a layer-wise run.
        st.layers += [{"name": s.name, "index": s.index, "kernel_size": s.size, "weights_kept": kept[s.name],
                       "sparsity": 1.0 - kept[s.name] / s.size, **found,
                       "evaluations": st.layer_evals if i == 0 else 0} for i, s in enumerate(self.specs)]
        whole = {"name": WHOLE, "index": self.spec.index, "kernel_size": self.spec.size,
                 "weights_kept": sum(kept.values()), "sparsity": 1.0 - sum(kept.values()) / self.spec.size, **found,
                 "evaluations": st.layer_evals}
        st.layer_pos, st.layer_started = len(self.specs), False
        for cb in self.callbacks:  # after the bookkeeping, as the driver does: a checkpoint here is consistent
            cb.on_layer_end(self, whole)

    # ----- genomes -----
    def genome(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-layer arrays (masks or scores) flattened and concatenated in layer order: the genome's layout."""
        return np.concatenate([np.asarray(arrays[s.name]).reshape(-1) for s in self.specs])

    def individual(self, masks: Mapping[str, np.ndarray]) -> "FrontIndividual":
        return FrontIndividual(self.genome(masks).astype(np.uint8).tolist())

    def masks(self, individual) -> Masks:
        b = bits(individual).astype(bool)
        return {s.name: b[lo:hi].reshape(s.shape) for s, lo, hi in zip(self.specs, self._bounds, self._bounds[1:])}

    def sparsities(self, individual) -> tuple[float, float]:
        kept = np.add.reduceat(bits(individual), self._bounds[:-1], dtype=np.int64)
        sizes = np.diff(self._bounds)
        return float(np.mean(1.0 - kept / sizes)), 1.0 - float(kept.sum()) / float(self._bounds[-1])

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
        baseline = self.individual(st.masks)
        self.evaluate([baseline])  # a cache hit: the unpruned model is a point of the front
        archive.update([baseline])
        pop = [tb.individual(sparsity=float(s)) for s in np.linspace(*c.init_sparsities, c.population)]
        self.evaluate(pop)
        pop = [ind for ind in pop if ind.fitness.valid]
        archive.update(pop)
        st.algo = {"population": tb.select(pop, len(pop)), "front": archive}  # selNSGA2 sets the crowding distances
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
        a["front"].update(scored)
        a["population"] = tb.select(pop + scored, c.population)
        self._record_front(rate)

    def _record_front(self, rate: float) -> None:
        front = self.state.algo["front"]
        # Hypervolume dominated by the front above (accuracy 0, sparsity 0), in accuracy × sparsity.
        hv = hypervolume(front, ref=[0.0, 0.0])
        self.record(self.chosen(), rate=rate, event=f"front {len(front)} points, hypervolume {hv:.6f}")

    def chosen(self):
        feasible = [ind for ind in self.state.algo["front"] if ind.score.feasible]
        return min(feasible, key=lambda ind: ind.score.cost) if feasible else None

    def front(self) -> list[tuple[Masks, object]]:
        """The Pareto front of every mask scored (masks, search-data EvalResult), from the sparsest."""
        points = sorted(self.state.algo["front"], key=lambda ind: -ind.fitness.values[1])
        return [(self.masks(ind), ind.result) for ind in points]
