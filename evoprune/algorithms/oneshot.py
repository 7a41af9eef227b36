"""One-shot baselines: magnitude, saliency and random pruning at a target sparsity, run as algorithms.

They go through the same driver as SA and GA (budget, history, result files): each layer
gets its precomputed mask and is evaluated once.
"""
from __future__ import annotations

from ..genome import individual_from_mask
from ..importance import global_threshold_masks, layer_uniform_masks, random_scores
from .base import LayerwiseSearch


class OneShot(LayerwiseSearch):
    """Prune to `config.sparsity` (global) by thresholding scores; no search."""

    name = "oneshot"
    uniform = False  # per-layer uniform instead of one global threshold
    needs = "magnitude"  # which importance scores the driver must be given ("random": none)

    def _target(self):
        extra = self.state.extra
        if "target" not in extra:  # kept in the state, so a resumed run prunes the same weights
            scores = self.scores if self.needs != "random" else random_scores(self.specs, self.state.rng)
            pick = layer_uniform_masks if self.uniform else global_threshold_masks
            extra["target"] = pick(scores, self.config.sparsity)
        return extra["target"]

    def begin_layer(self) -> None:
        ind = individual_from_mask(self._target()[self.spec.name])
        self.evaluate([ind])
        self.state.algo = {"chosen": ind}
        self.record(ind)

    def can_step(self) -> bool:
        return False

    def step(self) -> None:  # pragma: no cover - can_step is always False
        raise AssertionError("one-shot baselines take no steps")

    def chosen(self):
        return self.state.algo["chosen"]


class Magnitude(OneShot):
    """Global magnitude pruning: the smallest |w| across all layers go."""

    name = "magnitude"


class MagnitudeLayer(OneShot):
    """Per-layer uniform magnitude pruning: each layer loses the same fraction."""

    name = "magnitude-layer"
    uniform = True


class Saliency(OneShot):
    """Optimal-Brain-Damage saliency ½·w²·F (empirical Fisher from per-example gradients), global threshold."""

    name = "saliency"
    needs = "saliency"


class Reconstruction(OneShot):
    """Greedy per-unit pruning by pre-activation damage (cancelling weights go together), global threshold."""

    name = "reconstruction"
    needs = "reconstruction"


class Random(OneShot):
    """A random subset of the weights, of the target size."""

    name = "random"
    needs = "random"
