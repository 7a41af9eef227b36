"""Scores masks after their closed-form re-fit: the fitness of a search with the re-fit in the loop."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .._tf import import_keras
from ..network import models
from ..network.masks import split
from ..network.refit import DEFAULT_BATCH, DEFAULT_RIDGE, Refitter
from .context import (Context, EvalResult, checked_images, per_image_result, unpack_genome, unpack_mask,
                      verified_fixed_masks)

# Prefixes of masks whose Gram statistics and solved weights each layer keeps: the current solution's
# and a few recent ones (a move that changes one late layer then re-solves that layer and those after).
PREFIXES_PER_LAYER = 4


class RefitEvaluator:
    """Scores each mask set by the model whose kept weights are re-fitted for it (`network.refit.Refitter`), so a
    search sees how far re-fitting lets it prune. The re-fit is solved on the evaluation images themselves: it
    matches the unpruned model on exactly the images it is judged on, which is why a run's answer is certified on
    other images (`pruned.certify`).

    The unpruned model is not re-fitted: a mask set that prunes nothing scores as the model itself
    (the baseline that objectives compare with). Scores are exact and independent of what was
    evaluated before: work kept from earlier mask sets gives the same bits as work done anew.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, ridge: float = DEFAULT_RIDGE,
                 batch_size: int = DEFAULT_BATCH):
        self.model = model
        self.specs = models.prunable_layers(model)
        self._x, self._y = checked_images(x, y)
        self.n, self.batch_size = len(self._y), batch_size
        self.refitter = Refitter(model, self._x, ridge, batch_size, keep=PREFIXES_PER_LAYER)
        self._unpruned: np.ndarray | None = None

    def evaluate(self, context: Context, candidates: Sequence[np.ndarray]) -> list[EvalResult]:
        """Score packed masks of `context.layer` (or whole-model genomes when it is None) after their re-fit."""
        fixed = verified_fixed_masks(context, self.specs)
        results = []
        for packed in candidates:
            if context.layer is None:
                masks = split(unpack_genome(packed, sum(s.size for s in self.specs)), self.specs)
            else:
                spec = next(s for s in self.specs if s.name == context.layer)
                masks = {**fixed, spec.name: unpack_mask(packed, spec)}
            results.append(self._score(masks))
        return results

    def _score(self, masks: dict) -> EvalResult:
        if all(m.all() for m in masks.values()):
            return self._result(self._unpruned_outputs())
        self.refitter.fit(masks, report=False)
        return self._result(self.refitter.outputs(self.n))

    def _unpruned_outputs(self) -> np.ndarray:
        """The unpruned model's outputs over the images: computed once, in batches of the re-fit's size."""
        if self._unpruned is None:
            self._unpruned = np.concatenate([np.asarray(self.model(self._x[i:i + self.batch_size], training=False))
                                             for i in range(0, self.n, self.batch_size)])
        return self._unpruned

    def _result(self, probs: np.ndarray) -> EvalResult:
        """The score of the model outputs `probs` (N, classes) over the images."""
        loss = np.asarray(import_keras().losses.sparse_categorical_crossentropy(self._y, probs))
        return per_image_result(loss, np.argmax(probs, axis=1) == self._y)
