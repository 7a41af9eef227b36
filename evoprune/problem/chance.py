"""A warning when the unpruned model scores near chance on the search images: any mask then looks as good."""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("evoprune.problem")
MARGIN = 0.05  # "near chance": less than five points above it


def output_classes(model) -> int | None:
    """How many classes `model` scores (the last axis of its output), or None when it does not say."""
    try:
        return int(model.output_shape[-1])
    except (AttributeError, TypeError, ValueError):  # a subclassed model, or one with several outputs
        return None


def chance_level(y: np.ndarray, classes: int | None) -> float:
    """The accuracy of a guess: uniform over the model's `classes` (default: the labels present), or always the
    most common of the labels `y`, whichever is higher."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return max(1.0 / (classes or len(labels)), float(counts.max() / len(y)))


def warn_near_chance(accuracy: float, y: np.ndarray, classes: int | None) -> None:
    """Warn (one line, logging) when `accuracy`, the unpruned model's on the images labelled `y`, is less than
    `MARGIN` above chance."""
    chance = chance_level(y, classes)
    if accuracy < chance + MARGIN:
        log.warning("evoprune: warning: the unpruned model scores %.1f %% on the search images, less than %g points "
                    "above chance (%.1f %%), so no pruning can be judged: are the images scaled as in training, and "
                    "are the labels the ones the model learned?", 100 * accuracy, 100 * MARGIN, 100 * chance)
