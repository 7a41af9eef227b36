"""What an algorithm's hooks may use of the run they belong to: the `Run` protocol (the loop's `Search` has it).

An algorithm sees the run only through these members; run state (counters, the cache, the
checkpoint machinery) stays the loop's. A member added here is a promise to every algorithm,
so add one only when a hook needs it, and give `search.loop.Search` the same member.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import numpy as np
from deap import base

from ..network.masks import LayerSpec
from ..problem.layout import Layout


class RunConfig(Protocol):
    """The shared settings a hook may read (the loop's `SearchConfig` has them; the rest are the loop's)."""

    @property
    def rate0(self) -> float:
        """The initial mutation / neighbour rate (see `Run.rate` for its decay)."""

    @property
    def moves(self) -> str:
        """"informed" (evoprune's moves) or "study" (the study's: SA only prunes)."""

    @property
    def init_zero_share(self) -> float:
        """Study start: the share of kept bits a random first mask turns off."""

    @property
    def start_refine(self) -> int:
        """Bisections that bring an informed start nearer the constraint (`base.local_start`)."""


class Run(Protocol):
    """The search an algorithm's hooks run in (their `search` argument): operators, evaluations, rows, budget.

    Individuals are DEAP individuals of the genome being searched now (`layout`): bytearrays of
    0/1 bits, one per weight the genome covers. `evaluate` gives each one `fitness.values`,
    `result` (its EvalResult: loss, accuracy on the search data) and `score` (`cost`, `feasible`).
    """

    @property
    def toolbox(self) -> base.Toolbox:
        """DEAP's toolbox: `individual`, `population`, `clone`, `mutate`, `mate`, `select`, … and `map`
        (which `evaluate` uses); `toolbox.genome.cls` is the individual class."""

    @property
    def config(self) -> RunConfig:
        """The shared settings a hook may read."""

    @property
    def rng(self) -> np.random.Generator:
        """The run's numpy generator: draw from it (or from `random`), never from a generator of your own."""

    @property
    def unit_evals(self) -> int:
        """Evaluations made on the genome being searched (its setup's included)."""

    @property
    def unit_budget(self) -> int:
        """The evaluations this genome may make (its share of the run's budget)."""

    @property
    def budget_left(self) -> int:
        """The evaluations this genome may still make: `evaluate` scores at most this many new masks."""

    @property
    def rate(self) -> float:
        """The adaptive mutation rate now: `config.rate0 × (1 − unit_evals / unit_budget)`."""

    @property
    def informed_start(self) -> bool:
        """Whether starts are importance masks (`toolbox.individual(sparsity=…)`) rather than random masks."""

    @property
    def start_sparsity(self) -> float:
        """The informed start's sparsity for this genome."""

    @property
    def scores(self) -> Mapping[str, np.ndarray] | None:
        """The importance of every weight by layer name (None: the search is uninformed)."""

    @property
    def specs(self) -> Sequence[LayerSpec]:
        """Every prunable layer of the model, in order."""

    @property
    def layout(self) -> Layout:
        """The genome being searched now: one layer, or the whole model (`layout.genome(masks)` encodes masks)."""

    def evaluate(self, individuals: Sequence) -> list:
        """Score `individuals` in one `toolbox.map` call, within the budget: masks scored before come from the cache;
        those beyond `budget_left` keep an invalid fitness. Returns each one's EvalResult (None if unscored)."""

    def record(self, individual, event: str = "", **columns: Any) -> dict:
        """Write a history row: the shared columns (`individual`'s figures on the search data when it is not None,
        the step, the budget spent, `event`), and the values of the algorithm's own `history_columns`
        given as keywords (a column it did not declare is an error; None leaves a cell empty)."""

    def current_individual(self) -> Any:
        """An individual holding the masks held now (the previous genomes' results applied)."""
