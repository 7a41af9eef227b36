"""Genome layouts: which prunable layers one genome covers (one layer with the others fixed, or the whole model)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..network.masks import WHOLE, LayerSpec, Masks, flatten, layer_sparsity, split


@dataclass(frozen=True)
class Layout:
    """The genome of one layer (`layer`, every other layer's mask fixed) or of every layer (`layer` None).

    A whole-model genome is every layer's mask flattened and concatenated in model order
    (`masks.flatten`); the objective sees it as the last layer, so a floor allows the whole δ.
    """

    specs: tuple[LayerSpec, ...]  # every prunable layer of the model, in model order
    layer: str | None = None

    def __post_init__(self):
        if self.layer is not None and self.layer not in [s.name for s in self.specs]:
            raise ValueError(f"no prunable layer {self.layer!r} (prunable layers: "
                             f"{', '.join(s.name for s in self.specs)})")

    @property
    def whole(self) -> bool:
        return self.layer is None

    @property
    def covered(self) -> list[LayerSpec]:
        """The layers whose masks the genome holds."""
        return list(self.specs) if self.whole else [s for s in self.specs if s.name == self.layer]

    @property
    def name(self) -> str:
        """The searched unit's name in history rows: the layer's, or "all"."""
        return WHOLE if self.whole else self.layer

    @property
    def index(self) -> int:
        """The model-layer index the objective judges the genome at (the last layer's for a whole genome)."""
        return max(s.index for s in self.covered)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.covered)

    def genome(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-layer arrays (masks or scores) in the genome's order."""
        return flatten(arrays, self.covered)

    def masks(self, genome: np.ndarray) -> Masks:
        """The kernel-shaped boolean masks of the covered layers that a genome encodes."""
        return split(np.asarray(genome).astype(bool), self.covered)

    def merged(self, fixed: Mapping[str, np.ndarray], genome: np.ndarray) -> Masks:
        """Every layer's mask: `fixed` for the layers the genome does not cover, the genome's for the others."""
        return {**{s.name: np.asarray(fixed[s.name], bool) for s in self.specs}, **self.masks(genome)}


@dataclass(frozen=True)
class Sparsity:
    """Layer-mean and global sparsity of whole models that differ only in one genome's layers.

    What every candidate shares is counted once: the fixed layers' pruned fractions and kept weights.
    """

    whole: bool
    bounds: tuple[int, ...]           # where each covered layer starts in the genome, and its end
    other_pruned_fraction: float      # sum of the fixed layers' pruned fractions
    other_kept: int                   # weights the fixed layers keep
    n_layers: int
    total: int

    @classmethod
    def of(cls, layout: Layout, fixed: Mapping[str, np.ndarray]) -> "Sparsity":
        others = [s for s in layout.specs if s not in layout.covered]
        return cls(layout.whole, tuple(int(b) for b in np.cumsum([0] + [s.size for s in layout.covered])),
                   sum(layer_sparsity(fixed[s.name]) for s in others),
                   sum(int(np.count_nonzero(fixed[s.name])) for s in others),
                   len(layout.specs), sum(s.size for s in layout.specs))

    def __call__(self, genome: np.ndarray) -> tuple[float, float]:
        """(layer-mean, global) sparsity of the model with `genome` in the covered layers."""
        if self.whole:
            kept = np.add.reduceat(genome, self.bounds[:-1], dtype=np.int64)
            sizes = np.diff(self.bounds)
            return float(np.mean(1.0 - kept / sizes)), 1.0 - float(kept.sum()) / float(self.bounds[-1])
        kept = int(np.count_nonzero(genome))
        layer_mean = (self.other_pruned_fraction + 1.0 - kept / self.bounds[-1]) / self.n_layers
        return layer_mean, 1.0 - (self.other_kept + kept) / self.total


def layouts(specs: Sequence[LayerSpec], scope: str) -> list[Layout]:
    """The genomes a search goes through: one per layer in model order ("layers"), or one of all ("model")."""
    specs = tuple(specs)
    return [Layout(specs, s.name) for s in specs] if scope == "layers" else [Layout(specs)]
