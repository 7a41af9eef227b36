"""What `toolbox.evaluate` is: a small picklable target (genome layout, fixed masks, objective) and its fitness."""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..evaluation import registry
from ..evaluation.context import Context, EvalResult
from ..network.masks import pack
from .genome import bits
from .layout import Layout, Sparsity
from .objectives import Score


class Evaluated(tuple):
    """A fitness tuple, as DEAP's algorithms assign it (`ind.fitness.values = …`), carrying the evaluation
    it came from: `result` (loss, accuracy, per-image matches on the search images) and `score`."""

    result: EvalResult
    score: Score | None

    @classmethod
    def of(cls, values: tuple, result: EvalResult, score: Score | None) -> "Evaluated":
        out = cls(values)
        out.result, out.score = result, score
        return out


@dataclass
class Target:
    """What is evaluated now: the problem (by token), the genome's layout and fixed masks, and the objective.

    It travels with every evaluation request, so it holds no model or images: a few kilobytes
    of packed fixed masks at most. The objective is None until the unpruned model is scored.
    """

    token: str
    layout: Layout
    context: Context
    sparsity: Sparsity
    objective: object = None  # objectives.AccuracyFloor or StudyCost, made from the baseline
    front: bool = False       # fitness (search accuracy, global sparsity) instead of (feasible, cost)

    @classmethod
    def make(cls, token: str, layout: Layout, fixed, objective=None, front: bool = False) -> "Target":
        """The target of searching `layout` while the layers it does not cover keep their `fixed` masks."""
        return cls(token, layout, Context.make(fixed, layout.layer), Sparsity.of(layout, fixed), objective, front)

    def score(self, result: EvalResult, genome: np.ndarray) -> Score | None:
        if self.objective is None:
            return None
        return self.objective.score(result, *self.sparsity(genome), self.layout.index)

    def values(self, score: Score | None, result: EvalResult, genome: np.ndarray) -> tuple:
        """The fitness values of the problem's form (empty before the baseline is known)."""
        if score is None:
            return ()
        return (result.accuracy, self.sparsity(genome)[1]) if self.front else score.fitness

    def fitness(self, result: EvalResult, genome: np.ndarray) -> Evaluated:
        """The fitness tuple of the problem's form, with the result and score attached."""
        score = self.score(result, genome)
        return Evaluated.of(self.values(score, result, genome), result, score)

    def results(self, packed: Sequence[np.ndarray]) -> list[EvalResult]:
        """Score packed genomes with this process's evaluator; an evaluation that raises is returned as data."""
        evaluator = registry.evaluator(self.token)  # NoEvaluatorError is the caller's to see, never data
        try:
            return evaluator.evaluate(self.context, packed)
        except Exception:
            if len(packed) > 1:  # find which genomes fail; the others still count
                return [r for p in packed for r in self.results([p])]
            return [EvalResult(float("nan"), 0.0, 0, error=traceback.format_exc(limit=3).strip())]


class Evaluate:
    """`toolbox.evaluate`: an individual's fitness tuple (an `Evaluated`), as DEAP's algorithms expect.

    Executors call `batch` with several individuals where they can (one compiled call for all).
    """

    def __init__(self, target: Target):
        self.target = target

    def __call__(self, individual) -> Evaluated:
        return self.batch([individual])[0]

    def batch(self, individuals: Sequence) -> list[Evaluated]:
        genomes = [bits(ind) for ind in individuals]
        results = self.target.results([pack(g) for g in genomes])
        return [self.target.fitness(r, g) for r, g in zip(results, genomes)]
