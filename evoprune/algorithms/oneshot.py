"""One-shot rules: magnitude, saliency, reconstruction and random pruning at a target sparsity, run as algorithms.

They go through the same loop as the searches (budget, history, result files): each layer
gets its precomputed mask and is evaluated once.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..network.masks import Masks
from ..problem.genome import individual_of
from ..problem.importance import global_threshold_masks, layer_uniform_masks, random_scores
from .base import STUDY_COLUMNS, Algorithm, setting, unit_interval
from .contract import Run


@dataclass(frozen=True)
class Settings:
    sparsity: float = setting(0.5, "one-shot rules: the target global sparsity", unit_interval)


@dataclass
class State:
    target: Masks   # every layer's mask, chosen once for the run
    chosen: object


class OneShot(Algorithm[State]):
    """Prune to `sparsity` (global) by thresholding importance scores; no search."""

    Settings = Settings
    scope = "layers"
    importance = "magnitude"
    history_columns = STUDY_COLUMNS  # both empty: one layout for every built-in
    uniform = False  # per-layer uniform instead of one global threshold

    def setup(self, search: Run, previous: State | None) -> State:
        # Chosen once and kept in the state, so a resumed run prunes the same weights.
        if previous is None:
            scores = search.scores if self.importance else random_scores(search.specs, search.rng)
            pick = layer_uniform_masks if self.uniform else global_threshold_masks
            target = pick(scores, self.settings.sparsity)
        else:
            target = previous.target
        ind = individual_of(search.layout.genome(target), search.toolbox.genome.cls)
        search.evaluate([ind])
        search.record(ind)
        return State(target, ind)

    def done(self, search: Run, state: State) -> bool:
        return True

    def step(self, search: Run, state: State) -> None:  # pragma: no cover - done() is always True
        raise AssertionError("one-shot rules take no steps")

    def best(self, search: Run, state: State):
        return state.chosen


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
    importance = "saliency"


class Reconstruction(OneShot):
    """Greedy per-unit pruning by pre-activation damage (cancelling weights go together), global threshold."""

    name = "reconstruction"
    importance = "reconstruction"


class Refitted(OneShot):
    """Iterative magnitude pruning with the closed-form re-fit between steps (`importance.refitted`), global
    threshold; pair it with `--refit` to keep the re-fitted weights."""

    name = "refitted"
    importance = "refitted"


class Obs(OneShot):
    """Iterative pruning by Optimal Brain Surgeon's saliency on the closed-form re-fit between steps
    (`importance.obs`), global threshold; pair it with `--refit` to keep the re-fitted weights."""

    name = "obs"
    importance = "obs"


class Random(OneShot):
    """A random subset of the weights, of the target size."""

    name = "random"
    importance = ""
