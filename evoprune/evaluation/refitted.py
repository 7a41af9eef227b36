"""Scores masks after their closed-form re-fit: the fitness of a search with the re-fit in the loop."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._tf import import_keras
from ..network import models
from ..network.calibration import calibration_images
from ..network.masks import split
from ..network.refit import DEFAULT_BATCH, DEFAULT_RIDGE, Refitter
from .context import (Context, EvalResult, checked_images, per_image_result, unpack_genome, unpack_mask,
                      verified_fixed_masks)

# Prefixes of masks whose Gram statistics and solved weights each layer keeps: the current solution's
# and a few recent ones (a move that changes one late layer then re-solves that layer and those after).
PREFIXES_PER_LAYER = 4


class RefitEvaluator:
    """Scores each mask set by the model whose kept weights are re-fitted for it (`network.refit.Refitter`), so a
    search sees how far re-fitting lets it prune.

    With `folds` = 1 the re-fit is solved on the evaluation images themselves, which flatters it: it
    matches the unpruned model on exactly the images it is judged on. With `folds` = K ≥ 2 the images are
    dealt into K folds (image i to fold i mod K) and each fold is scored by the re-fit solved on the
    other folds' images (cross-fitting): every image is judged by a re-fit that never saw it, at K re-fits
    an evaluation. With `calibration` "shifted" each re-fit is solved on its images and their one-pixel shifts
    (`network.calibration`), and still scores the images alone.

    The unpruned model is not re-fitted: a mask set that prunes nothing scores as the model itself
    (the baseline that objectives compare with). Scores are exact and independent of what was
    evaluated before: work kept from earlier mask sets gives the same bits as work done anew.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, ridge: float = DEFAULT_RIDGE,
                 batch_size: int = DEFAULT_BATCH, folds: int = 1, calibration: str = "images"):
        self.model = model
        self.specs = models.prunable_layers(model)
        self._x, self._y = checked_images(x, y)
        self.n, self.batch_size = len(self._y), batch_size
        if not 1 <= folds <= self.n:
            raise ValueError(f"folds must be between 1 and the {self.n} images, got {folds}")
        # each fold's images and the re-fit that scores them; one fold: all images, re-fitted on themselves
        self._held = [np.flatnonzero(np.arange(self.n) % folds == k) for k in range(folds)] if folds > 1 else []
        self._held_x = [self._x[held] for held in self._held]  # taken once: every evaluation predicts on them
        fit_on = [np.delete(self._x, held, axis=0) for held in self._held] or [self._x]
        # calibration copies come after the images they are made from: they are fitted on, never scored
        self.refitters = [Refitter(model, calibration_images(x_fit, calibration), ridge, batch_size,
                                   keep=PREFIXES_PER_LAYER) for x_fit in fit_on]
        self._unpruned: np.ndarray | None = None

    def evaluate(self, context: Context, candidates: Sequence[np.ndarray],
                 race: Callable[[EvalResult], bool] | None = None) -> list[EvalResult]:
        """Score packed masks of `context.layer` (or whole-model genomes when it is None) after their re-fit.

        Racing is not offered: the re-fit needs every image before anything can be scored.
        """
        if race is not None:
            raise ValueError("masks scored after a re-fit cannot be raced")
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
        if not self._held:
            self.refitters[0].fit(masks, report=False)
            return self._result(self.refitters[0].outputs(self.n))
        probs = np.empty_like(self._unpruned_outputs())
        for refitter, held, x_held in zip(self.refitters, self._held, self._held_x):
            refitter.fit(masks, report=False)
            probs[held] = refitter.predict(x_held)
        return self._result(probs)

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
