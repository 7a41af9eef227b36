"""Objectives: the study's cost with its warm-up loss threshold, and global sparsity under an accuracy floor.

Both score an evaluated mask as a cost to minimise plus feasibility as its own flag.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

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

    def score(self, loss: float, accuracy: float, sparsity_layer_mean: float, sparsity_global: float,
              layer_index: int) -> Score:
        ok = self.feasible(loss, layer_index)
        cost = ((self.baseline_loss - loss) ** 2 if ok else PENALTY) + 1.0 / (sparsity_layer_mean + EPS)
        return Score(cost, ok)

    def to_dict(self) -> dict:
        return {"name": "study", **asdict(self)}


@dataclass(frozen=True)
class AccuracyFloor:
    """Maximise global sparsity subject to accuracy ≥ baseline accuracy − δ.

    In a layer-wise search the allowed drop grows with the share of the weights searched so
    far (`allowance[layer_index]`, from 0 to 1): the first, small layers may not spend the
    whole δ before the large ones are reached. Cost: `1 − s_global` plus, when infeasible,
    `1 + (floor − accuracy)`, so every feasible mask beats every infeasible one and an
    infeasible one is better the closer it is to the floor. `loss_weight` breaks ties
    between masks of equal sparsity in favour of the lower loss.
    """

    baseline_accuracy: float
    delta: float
    allowance: Mapping[int, float] = field(default_factory=dict)
    loss_weight: float = 1e-4

    def floor(self, layer_index: int) -> float:
        return self.baseline_accuracy - self.delta * self.allowance.get(layer_index, 1.0)

    def score(self, loss: float, accuracy: float, sparsity_layer_mean: float, sparsity_global: float,
              layer_index: int) -> Score:
        floor = self.floor(layer_index)
        ok = accuracy >= floor - 1e-12  # accuracies are counts over N: compare without float noise
        cost = 1.0 - sparsity_global + self.loss_weight * (loss if loss == loss else PENALTY)
        if not ok:
            cost += 1.0 + (floor - accuracy)
        return Score(cost, ok)

    def to_dict(self) -> dict:
        return {"name": "floor", "baseline_accuracy": self.baseline_accuracy, "delta": self.delta,
                "allowance": {str(k): v for k, v in self.allowance.items()}, "loss_weight": self.loss_weight}


def weight_share_allowance(sizes: Mapping[int, int]) -> dict[int, float]:
    """For each layer index, the share of all prunable weights in that layer and the ones before it."""
    total = sum(sizes.values())
    out, seen = {}, 0
    for index in sorted(sizes):
        seen += sizes[index]
        out[index] = seen / total
    return out


OBJECTIVES = ("study", "floor")
