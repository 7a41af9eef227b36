"""The pruning problem (model, evaluation images, prunable layers) and the picklable evaluation task."""
from __future__ import annotations

import traceback
import uuid
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import models
from .masks import LayerSpec

# Evaluators live in the process that runs them (the main one for the serial executor,
# each worker for a pool), keyed by the problem's token. They hold compiled TensorFlow
# functions and caches, so they are built there once and never pickled.
_EVALUATORS: dict = {}


@dataclass
class PruningProblem:
    """What is evaluated: a model (as .keras bytes, so it can travel to any worker) and its evaluation images."""

    model_bytes: bytes
    x: np.ndarray
    y: np.ndarray
    specs: list[LayerSpec]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_model(cls, model, x: np.ndarray, y: np.ndarray) -> "PruningProblem":
        return cls(models.to_bytes(model), np.asarray(x, np.float32), np.asarray(y), models.prunable_layers(model))

    def install(self) -> None:
        """Build this problem's evaluator in the current process (idempotent)."""
        if self.token not in _EVALUATORS:
            from .evaluation import MaskEvaluator

            _EVALUATORS[self.token] = MaskEvaluator(models.from_bytes(self.model_bytes), self.x, self.y)

    def uninstall(self) -> None:
        _EVALUATORS.pop(self.token, None)


@dataclass(frozen=True)
class EvaluateMasks:
    """`toolbox.evaluate` for one layer: scores packed masks of that layer in the fixed context.

    Executors call `batch` with several masks at once where they can; an evaluation that
    raises is returned as data (an `EvalResult` carrying the error), never as a crash.
    """

    token: str
    context: "object"  # evaluation.Context; typed loosely to keep TensorFlow out of this import

    def __call__(self, packed: np.ndarray):
        return self.batch([packed])[0]

    def batch(self, packed: Sequence[np.ndarray]) -> list:
        from .evaluation.context import EvalResult

        evaluator = _EVALUATORS[self.token]
        try:
            return evaluator.evaluate(self.context, packed)
        except Exception:
            if len(packed) > 1:  # find which masks fail; the others still count
                return [r for p in packed for r in self.batch([p])]
            return [EvalResult(float("nan"), 0.0, 0, error=traceback.format_exc(limit=3).strip())]
