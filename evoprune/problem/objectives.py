"""Objectives: the study's cost with its warm-up loss threshold, and global sparsity under an accuracy floor.

Both score an evaluated mask (an EvalResult) as a cost to minimise plus feasibility as its own flag.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Mapping

import numpy as np

PENALTY = 1e8
EPS = 1e-8


@dataclass(frozen=True)
class Score:
    """An evaluated mask: its cost (lower is better) and whether it meets the constraint."""

    cost: float
    feasible: bool

    @property
    def fitness(self) -> tuple[float, float]:
        return (1.0 if self.feasible else 0.0, self.cost)


@dataclass(frozen=True)
class StudyCost:
    """The study's cost `(L0 − L)² + 1/(s + 1e-8)` under the warm-up threshold, `1e8 + 1/(s + 1e-8)` above it.

    `s` is the layer-mean sparsity. For the layer at index `i` of `n_layers` model layers the
    threshold is `loss_to_warmup × (i + 1) / n_layers` (absolute, as the study), or with
    `relative` `baseline_loss + loss_to_warmup × (i + 1) / n_layers`: the same allowance
    measured from the baseline's own loss, for models whose baseline loss sits above the
    study's absolute thresholds.
    """

    baseline_loss: float
    n_layers: int
    loss_to_warmup: float = 1.0
    relative: bool = False

    def max_loss(self, layer_index: int) -> float:
        allowance = self.loss_to_warmup * (layer_index + 1) / self.n_layers
        return self.baseline_loss + allowance if self.relative else allowance

    def feasible(self, loss: float, layer_index: int) -> bool:
        return loss < self.max_loss(layer_index)

    def score(self, result, sparsity_layer_mean: float, sparsity_global: float, layer_index: int) -> Score:
        ok = self.feasible(result.loss, layer_index)
        cost = ((self.baseline_loss - result.loss) ** 2 if ok else PENALTY) + 1.0 / (sparsity_layer_mean + EPS)
        return Score(cost, ok)

    def to_dict(self) -> dict:
        return {"name": "study", **asdict(self)}


def paired_drop(baseline, result) -> tuple[float, float]:
    """`result`'s accuracy drop from `baseline` and its standard error, paired image by image.

    Per image d = baseline match − result match ∈ {−1, 0, 1}; the drop is mean(d), and only the
    images one of the two gets right and the other wrong make it vary:
    SE² = ((lost + gained) / N − drop²) / N.
    """
    if not (baseline.matches and result.matches) or not 0 < result.images == baseline.images:
        raise ValueError("a floor held at a confidence above 0.5 compares masks image by image: the evaluator "
                         "must return per-image matches (EvalResult.images and .matches) on the same images; "
                         "set confidence 0.5 for the floor on accuracy alone")
    n = result.images
    base = np.unpackbits(np.frombuffer(baseline.matches, np.uint8), count=n).astype(bool)
    mine = np.unpackbits(np.frombuffer(result.matches, np.uint8), count=n).astype(bool)
    return paired_counts(base, mine)


def paired_counts(base: np.ndarray, mine: np.ndarray) -> tuple[float, float]:
    """The accuracy drop from per-image correctness `base` to `mine` (bool arrays) and its paired standard error
    (`paired_drop`)."""
    n = len(base)
    lost, gained = int(np.count_nonzero(base & ~mine)), int(np.count_nonzero(~base & mine))
    drop = (lost - gained) / n
    return drop, max(0.0, ((lost + gained) / n - drop * drop) / n) ** 0.5


def paired_drop_error(baseline, result) -> float:
    """The standard error of `result`'s accuracy drop from `baseline`, paired image by image (`paired_drop`)."""
    return paired_drop(baseline, result)[1]


@dataclass(frozen=True)
class AccuracyFloor:
    """Maximise global sparsity subject to accuracy ≥ baseline accuracy − δ, held at a confidence.

    A mask is feasible when the one-sided `confidence` bound of its accuracy drop from the
    baseline, `drop + z · SE` (`paired_drop_error`), is at most δ. Why not the drop alone: a
    search pushed to the floor keeps the masks that the search images happen to flatter, and
    their drop on unseen images came out 0.3-0.6 point above δ; the bound asks for the more
    evidence the more images a mask flips. `confidence=0.5` (z = 0) is the drop alone.

    In a layer-wise search the allowed drop grows with the share of the weights searched so
    far (`allowance[layer_index]`, from 0 to 1): the first, small layers may not spend the
    whole δ before the large ones are reached. Cost: `1 − s_global` plus, when infeasible,
    `1 + (floor − bound)`, so every feasible mask beats every infeasible one and an
    infeasible one is better the closer it is to the floor. `loss_weight` breaks ties
    between masks of equal sparsity in favour of the lower loss.
    """

    baseline_accuracy: float
    delta: float
    allowance: Mapping[int, float] = field(default_factory=dict)
    loss_weight: float = 1e-4
    confidence: float = 0.5
    baseline: object = field(default=None, repr=False)  # EvalResult of the unpruned model (per-image matches)

    def floor(self, layer_index: int) -> float:
        return self.baseline_accuracy - self.delta * self.allowance.get(layer_index, 1.0)

    def accuracy_bound(self, result) -> float:
        """The one-sided `confidence` lower bound of `result`'s accuracy, from its drop and that drop's SE."""
        z = NormalDist().inv_cdf(self.confidence)
        return result.accuracy - z * paired_drop_error(self.baseline, result) if z else result.accuracy

    def score(self, result, sparsity_layer_mean: float, sparsity_global: float, layer_index: int) -> Score:
        floor, loss, failed = self.floor(layer_index), result.loss, bool(result.error)
        # The bound is at most the accuracy: only masks whose accuracy reaches the floor need it,
        # and a failed evaluation (no per-image matches) never does. Accuracies are counts over N:
        # compared without float noise.
        bound = result.accuracy
        if not failed and bound >= floor - 1e-12:
            bound = self.accuracy_bound(result)
        ok = not failed and bound >= floor - 1e-12
        cost = 1.0 - sparsity_global + self.loss_weight * (loss if loss == loss else PENALTY)
        if not ok:
            cost += 1.0 + (floor - bound)
        return Score(cost, ok)

    def to_dict(self) -> dict:
        return {"name": "floor", "baseline_accuracy": self.baseline_accuracy, "delta": self.delta,
                "allowance": {str(k): v for k, v in self.allowance.items()}, "loss_weight": self.loss_weight,
                "confidence": self.confidence}


def weight_share_allowance(sizes: Mapping[int, int]) -> dict[int, float]:
    """For each layer index, the share of all prunable weights in that layer and the ones before it."""
    total = sum(sizes.values())
    out, seen = {}, 0
    for index in sorted(sizes):
        seen += sizes[index]
        out[index] = seen / total
    return out


OBJECTIVES = ("study", "floor")


@dataclass(frozen=True)
class Floor:
    """The floor objective, as a problem is given it: the most global sparsity whose accuracy drop from the unpruned
    model is at most `delta` at one-sided `confidence`, paired image by image (`AccuracyFloor`); `loss_weight` breaks
    ties between masks of equal sparsity in favour of the lower loss."""

    delta: float = 0.005
    confidence: float = 0.95
    loss_weight: float = 1e-4

    def settings(self) -> dict:
        """Its settings as a search config names them."""
        return {"objective": "floor", **asdict(self)}

    def build(self, baseline, sizes: Mapping[int, int], layer_count: int) -> "AccuracyFloor":
        """The objective judging masks against `baseline`, the unpruned model's EvalResult on the search images;
        `sizes` maps each prunable layer's model index to its kernel size (the allowance per layer)."""
        return AccuracyFloor(baseline.accuracy, self.delta, weight_share_allowance(sizes), self.loss_weight,
                             self.confidence, baseline)


@dataclass(frozen=True)
class Study:
    """The reference study's objective, as a problem is given it: its cost under the warm-up loss threshold
    `loss_to_warmup × (i + 1) / layers`, absolute or, with `relative`, measured from the baseline's loss
    (`StudyCost`)."""

    loss_to_warmup: float = 1.0
    relative: bool = False

    def settings(self) -> dict:
        """Its settings as a search config names them."""
        return {"objective": "study", "loss_to_warmup": self.loss_to_warmup, "relative_threshold": self.relative}

    def build(self, baseline, sizes: Mapping[int, int], layer_count: int) -> StudyCost:
        """The objective judging masks against `baseline`; the warm-up divides by the `layer_count` model layers."""
        return StudyCost(baseline.loss, layer_count, self.loss_to_warmup, self.relative)


def objective_of(settings: Mapping) -> Floor | Study:
    """The objective a search config's settings name (`objective` and its own settings; the others ignored)."""
    if settings["objective"] == "study":
        return Study(settings["loss_to_warmup"], settings["relative_threshold"])
    return Floor(settings["delta"], settings["confidence"], settings["loss_weight"])
