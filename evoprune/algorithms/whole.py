"""Whole-model search: one genome holding every prunable layer's mask, searched as the driver's single layer."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Mapping

import numpy as np

from ..genome import MaskIndividual, bits
from ..masks import WHOLE, LayerSpec, Masks, flatten, split
from ..toolbox import bind_layer
from .base import LayerwiseSearch, layer_entry


class WholeModel:
    """Mixin for a `LayerwiseSearch`: one pass over a pseudo-layer holding every prunable weight.

    The budget, the cache, the history rows, the callbacks and the snapshots stay the
    driver's; what changes is the unit searched. The genome is every layer's mask flattened
    and concatenated in model order; informed operators rank the weights of all layers
    together, so an informed individual at sparsity s is the global-threshold importance
    mask at s, and a move may prune in one layer and restore in another. The floor
    objective allows the whole δ at once (the pseudo-layer has the last layer's index).
    """

    def __init__(self, specs, config, task_factory, **kwargs):
        self._bounds = np.cumsum([0] + [s.size for s in specs])  # where each layer sits in the genome
        # Made once: every scored mask asks for it. It has the last layer's index, so the floor allows the whole δ.
        self._whole = LayerSpec(WHOLE, max(s.index for s in specs), (int(self._bounds[-1]),))
        super().__init__(specs, config, task_factory, **kwargs)

    @property
    def spec(self) -> LayerSpec:
        return self._whole

    @property
    def unit_label(self) -> str:
        return f"all {len(self.specs)} layers"

    def _layer_share(self) -> int:
        return self.config.budget - self.state.evaluations

    def start_sparsity(self) -> float:
        return self.config.start_sparsity if self.scores is not None else 0.0

    def _bind_layer(self) -> None:
        from ..evaluation.context import Context

        st = self.state
        scores = self.genome(self.scores) if self.scores is not None else None
        bind_layer(self.toolbox, self.config, self.task_factory(Context.make(st.masks, None)),
                   self.genome(st.masks), scores, self.start_sparsity(), st.rng)
        # A whole genome's cache key is the digest of its own packed bits: no fixed layers around it.
        self._before, self._after = hashlib.sha1(), b""

    def _finished_layers(self, found: dict) -> tuple[list[dict], dict]:
        st = self.state
        kept = {s.name: int(np.count_nonzero(st.masks[s.name])) for s in self.specs}
        # One search served every layer: its evaluations are counted once, on the first layer, so
        # the layers' evaluations add up as in a layer-wise run.
        layers = [layer_entry(s, kept[s.name], st.layer_evals if i == 0 else 0, found)
                  for i, s in enumerate(self.specs)]
        return layers, layer_entry(self.spec, sum(kept.values()), st.layer_evals, found)

    # ----- genomes -----
    def genome(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-layer arrays (masks or scores) in the genome's layout (`masks.flatten`)."""
        return flatten(arrays, self.specs)

    def current_individual(self):
        return MaskIndividual(self.genome(self.state.masks).astype(np.uint8).tolist())

    def masks_of(self, individual) -> Masks:
        return split(bits(individual).astype(bool), self.specs)

    def sparsities(self, individual) -> tuple[float, float]:
        kept = np.add.reduceat(bits(individual), self._bounds[:-1], dtype=np.int64)
        sizes = np.diff(self._bounds)
        return float(np.mean(1.0 - kept / sizes)), 1.0 - float(kept.sum()) / float(self._bounds[-1])


@lru_cache(maxsize=None)
def whole_model(cls: type[LayerwiseSearch]) -> type[LayerwiseSearch]:
    """`cls` searching one whole-model genome instead of one layer at a time (`scope="model"`)."""
    return type(f"{cls.__name__}WholeModel", (WholeModel, cls), {"__doc__": f"{cls.__doc__} Whole-model genome."})
