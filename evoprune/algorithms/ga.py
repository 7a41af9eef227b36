"""Genetic Algorithm over one layer's mask: elitism, tournament selection, crossover and adaptive mutation."""
from __future__ import annotations

from deap import tools

from ..operators import adaptive_rate
from .base import LayerwiseSearch


class GeneticAlgorithm(LayerwiseSearch):
    """A GA run layer by layer (the study's with `--preset study`), every operator taken from the toolbox."""

    name = "ga"

    def begin_layer(self) -> None:
        st, c = self.state, self.config
        st.algo = {"population": [], "best": None, "zero_share": c.init_zero_share, "redraws": 0}
        self._draw_population()
        # The study re-draws with fewer zeros while nothing is feasible; bounded, because when
        # the threshold sits below the unpruned model's own loss no re-draw can ever succeed.
        # (An informed population holds the current mask, feasible when anything is.)
        while (not self.informed_start() and not self._any_feasible() and st.algo["redraws"] < c.max_redraws
               and st.layer_budget - st.layer_evals >= c.population):
            st.algo["zero_share"] /= 2
            st.algo["redraws"] += 1
            self.record(None, event=f"redraw {st.algo['redraws']}: no feasible mask, zero share {st.algo['zero_share']:.4g}")
            self._draw_population()

    def _draw_population(self) -> None:
        st, tb = self.state, self.toolbox
        if self.informed_start():
            # Importance masks around the start sparsity, and the layer's current mask, which
            # is feasible whenever the layers before it ended feasible.
            pop = [self.current_individual()] + tb.population(n=self.config.population - 1)
        else:
            pop = tb.population(n=self.config.population, zero_share=st.algo["zero_share"])
        self.evaluate(pop)
        pop = [ind for ind in pop if ind.fitness.valid]
        st.algo["population"] = pop
        self._update_best(pop)
        if pop:
            self.record(tools.selBest(pop, 1)[0], rate=self.config.rate0)

    def _any_feasible(self) -> bool:
        return any(ind.score.feasible for ind in self.state.algo["population"])

    def _update_best(self, individuals) -> None:
        a = self.state.algo
        for ind in individuals:
            if ind.score.feasible and self.better(ind, a["best"]):
                a["best"] = self.toolbox.clone(ind)

    def can_step(self) -> bool:
        return len(self.state.algo["population"]) > 0

    def step(self) -> None:
        st, a, c, tb = self.state, self.state.algo, self.config, self.toolbox
        rate = adaptive_rate(c.rate0, st.layer_evals, st.layer_budget)
        pop = a["population"]
        elites = [tb.clone(ind) for ind in tools.selBest(pop, c.elite)]
        offspring = []
        while len(offspring) < c.population - c.elite:
            p1, p2 = (tb.clone(ind) for ind in tb.select(pop, 2))
            if st.rng.random() < c.crossover:
                tb.mate(p1, p2)
            for child in (p1, p2):
                tb.mutate(child, indpb=rate)
                del child.fitness.values
            offspring += [p1, p2]
        offspring = offspring[: c.population - c.elite]
        self.evaluate(offspring)
        scored = [ind for ind in offspring if ind.fitness.valid]
        new = elites + scored
        if len(new) < c.population:  # the budget ran out mid-generation: keep the best of the old
            new += [tb.clone(ind) for ind in tools.selBest(pop, c.population)[c.elite: c.elite + c.population - len(new)]]
        a["population"] = new
        self._update_best(scored)
        self.record(tools.selBest(new, 1)[0], rate=rate)

    def chosen(self):
        return self.state.algo["best"]
