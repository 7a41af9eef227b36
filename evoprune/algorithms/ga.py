"""Genetic Algorithm: elitism, tournament selection, crossover and adaptive mutation, every operator from the toolbox."""
from __future__ import annotations

from dataclasses import dataclass

from deap import base, tools

from ..errors import ConfigError
from .base import STUDY_COLUMNS, Algorithm, at_least, better, setting, unit_interval
from .contract import Run


@dataclass(frozen=True)
class Settings:
    population: int = setting(12, "GA population", at_least(2))
    elite: int = setting(2, "GA elite size: the best kept unchanged each generation", at_least(0))
    tournament: int = setting(5, "GA tournament size (toolbox.select)")
    crossover: float = setting(0.9, "GA crossover probability (toolbox.mate)", unit_interval)
    max_redraws: int = setting(3, "study start: re-draws with half the zeros while nothing is feasible", at_least(0))


@dataclass
class State:
    population: list
    best: object | None
    zero_share: float
    redraws: int = 0


class GeneticAlgorithm(Algorithm[State]):
    """A GA (the study's with `--preset study`): `population - elite` offspring per generation."""

    name = "ga"
    Settings = Settings
    history_columns = STUDY_COLUMNS  # its temperature stays empty: one layout for every built-in

    @classmethod
    def check_more(cls, s: Settings) -> None:
        if s.population <= s.elite:
            raise ConfigError(f"population ({s.population}) must be larger than the elite ({s.elite})")
        if not 1 <= s.tournament <= s.population:
            raise ConfigError(f"tournament size ({s.tournament}) must be between 1 and the population ({s.population})")

    def min_budget(self, units: int) -> tuple[int, str]:
        return (self.settings.population * units + 1,
                f"the unpruned model, then a first population of {self.settings.population} per genome searched")

    def configure(self, toolbox: base.Toolbox, search: Run) -> None:
        toolbox.register("select", tools.selTournament, tournsize=self.settings.tournament)

    def setup(self, search: Run, previous: State | None) -> State:
        s = self.settings
        state = State([], None, search.config.init_zero_share)
        self._draw(search, state)
        # The study re-draws with fewer zeros while nothing is feasible; bounded, because when the
        # threshold sits below the unpruned model's own loss no re-draw can ever succeed. (An
        # informed population holds the current mask, feasible when anything is.)
        while (not search.informed_start and not any(ind.score.feasible for ind in state.population)
               and state.redraws < s.max_redraws and search.budget_left >= s.population):
            state.zero_share /= 2
            state.redraws += 1
            search.record(None, event=f"redraw {state.redraws}: no feasible mask, zero share {state.zero_share:.4g}")
            self._draw(search, state)
        return state

    def _draw(self, search: Run, state: State) -> None:
        tb, n = search.toolbox, self.settings.population
        if search.informed_start:
            # Importance masks around the start sparsity, and the current mask, which is feasible
            # whenever the genomes before it ended feasible.
            pop = [search.current_individual()] + tb.population(n=n - 1)
        else:
            pop = tb.population(n=n, zero_share=state.zero_share)
        search.evaluate(pop)
        state.population = [ind for ind in pop if ind.fitness.valid]
        self._update_best(search, state, state.population)
        if state.population:
            search.record(tools.selBest(state.population, 1)[0], mutation_rate=search.config.rate0)

    @staticmethod
    def _update_best(search: Run, state: State, individuals) -> None:
        for ind in individuals:
            if ind.score.feasible and better(ind, state.best):
                state.best = search.toolbox.clone(ind)

    def done(self, search: Run, state: State) -> bool:
        return not state.population

    def step(self, search: Run, state: State) -> None:
        s, tb = self.settings, search.toolbox
        rate = search.rate
        pop = state.population
        elites = [tb.clone(ind) for ind in tools.selBest(pop, s.elite)]
        offspring = []
        while len(offspring) < s.population - s.elite:
            p1, p2 = (tb.clone(ind) for ind in tb.select(pop, 2))
            if search.rng.random() < s.crossover:
                tb.mate(p1, p2)
            for child in (p1, p2):
                tb.mutate(child, indpb=rate)
                del child.fitness.values
            offspring += [p1, p2]
        offspring = offspring[: s.population - s.elite]
        search.evaluate(offspring)
        scored = [ind for ind in offspring if ind.fitness.valid]
        new = elites + scored
        if len(new) < s.population:  # the budget ran out mid-generation: keep the best of the old
            new += [tb.clone(ind) for ind in tools.selBest(pop, s.population)[s.elite: s.elite + s.population - len(new)]]
        state.population = new
        self._update_best(search, state, scored)
        search.record(tools.selBest(new, 1)[0], mutation_rate=rate)

    def best(self, search: Run, state: State):
        return state.best
