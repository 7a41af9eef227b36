"""Objectives: the study's cost with its warm-up loss threshold, and feasibility as its own flag."""
from __future__ import annotations

from dataclasses import asdict, dataclass

PENALTY = 1e8
EPS = 1e-8


@dataclass(frozen=True)
class Score:
    """An evaluated mask: its cost (lower is better) and whether it meets the loss threshold."""

    cost: float
    feasible: bool

    @property
    def fitness(self) -> tuple[float, float]:
        return (1.0 if self.feasible else 0.0, self.cost)


@dataclass(frozen=True)
class StudyCost:
    """The study's cost `(L0 − L)² + 1/(s + 1e-8)` under the warm-up threshold, `1e8 + 1/(s + 1e-8)` above it.

    For the layer at index `i` of `n_layers` model layers the threshold is
    `loss_to_warmup × (i + 1) / n_layers` (absolute, as the study), or with `relative`
    `baseline_loss + loss_to_warmup × (i + 1) / n_layers`: the same allowance measured
    from the baseline's own loss, for models whose baseline loss sits above the
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

    def score(self, loss: float, sparsity: float, layer_index: int) -> Score:
        """Cost and feasibility of a mask with `loss` and layer-mean `sparsity`, searched at `layer_index`."""
        ok = self.feasible(loss, layer_index)
        cost = ((self.baseline_loss - loss) ** 2 if ok else PENALTY) + 1.0 / (sparsity + EPS)
        return Score(cost, ok)

    def to_dict(self) -> dict:
        return {"name": "study_cost", **asdict(self)}
