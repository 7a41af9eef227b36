"""DEAP operators on bit-list masks: adaptive rate, the SA neighbour move, bit-flip mutation, study init."""
from __future__ import annotations

import numpy as np

from .genome import MaskIndividual, bits


def adaptive_rate(rate0: float, used: float, total: float) -> float:
    """The study's schedule `rate0 × (1 − t/T)`, with t/T the share of the layer's budget spent."""
    return rate0 * max(0.0, 1.0 - used / total) if total > 0 else 0.0


def _set_zero(individual, positions: np.ndarray) -> None:
    for i in positions.tolist():
        individual[i] = 0


def mut_prune(individual, indpb: float, rng: np.random.Generator):
    """SA neighbour (the study's move): turn off each still-kept bit with probability `indpb`.

    A neighbour must differ from its origin, so when no bit was drawn one kept bit is
    turned off; otherwise late, low-rate steps would mostly propose the current mask again.
    Returns `(individual,)` like DEAP's mutations; an all-zero individual is left as it is.
    """
    kept = np.flatnonzero(bits(individual))
    if kept.size:
        off = kept[rng.random(kept.size) < indpb]
        if off.size == 0:
            off = kept[rng.integers(kept.size, size=1)]
        _set_zero(individual, off)
    return (individual,)


def mut_flip(individual, indpb: float, rng: np.random.Generator):
    """Bit-flip mutation (DEAP's mutFlipBit, drawn from a numpy generator): flip each bit with probability `indpb`."""
    b = bits(individual)
    flip = np.flatnonzero(rng.random(b.size) < indpb)
    for i in flip.tolist():
        individual[i] = 1 - individual[i]
    return (individual,)


def init_from_mask(base: np.ndarray, zero_share: float, rng: np.random.Generator) -> "MaskIndividual":
    """The study's GA initialisation: the layer's current mask with each kept bit turned off with probability `zero_share`."""
    b = np.asarray(base, dtype=np.uint8).reshape(-1).copy()
    b[(b == 1) & (rng.random(b.size) < zero_share)] = 0
    return MaskIndividual(b.tolist())


def init_population(base: np.ndarray, n: int, zero_share: float, rng: np.random.Generator) -> list:
    """`n` individuals drawn with `init_from_mask`."""
    return [init_from_mask(base, zero_share, rng) for _ in range(n)]


def importance_ranks(scores: np.ndarray) -> np.ndarray:
    """Each weight's rank among its layer's scores, scaled to [0, 1]: 0 = least important."""
    flat = np.asarray(scores).reshape(-1)
    ranks = np.empty(flat.size)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size) / max(1, flat.size - 1)
    return ranks


def _weighted_sample(candidates: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    # Weighted sampling without replacement in O(n): the k largest of log(w) + Gumbel noise
    # (Efraimidis–Spirakis), instead of k sequential weighted draws.
    if k >= candidates.size:
        return candidates
    keys = np.log(weights + 1e-300) + rng.gumbel(size=candidates.size)
    return candidates[np.argpartition(-keys, k - 1)[:k]]


class LayerInfo:
    """What evoprune's informed operators know about the layer being searched (set per layer)."""

    def __init__(self):
        self.ranks: np.ndarray | None = None


def mut_informed(individual, indpb: float, rng: np.random.Generator, layer: LayerInfo, restore: float = 0.5,
                 focus: float = 4.0):
    """Prune and restore, guided by importance: a move that can undo earlier pruning.

    About `indpb` of the kept bits are turned off, drawn with weight `(1 − rank)^focus` (the
    least important most often); then `restore` times as many pruned bits are turned back
    on, drawn with weight `rank^focus` (the most important first). Without ranks (no
    importance given) every bit weighs the same.
    """
    b = bits(individual)
    ranks = layer.ranks if layer.ranks is not None else np.full(b.size, 0.5)
    kept, pruned = np.flatnonzero(b), np.flatnonzero(b == 0)
    n_off = max(1, int(rng.binomial(kept.size, indpb))) if kept.size else 0
    n_on = min(pruned.size, int(rng.binomial(n_off, restore))) if restore > 0 else 0
    off = _weighted_sample(kept, (1.0 - ranks[kept]) ** focus, n_off, rng)
    on = _weighted_sample(pruned, ranks[pruned] ** focus, n_on, rng) if n_on else pruned[:0]
    _set_zero(individual, off)
    for i in on.tolist():
        individual[i] = 1
    return (individual,)


def init_informed(base: np.ndarray, sparsity: float, spread: float, rng: np.random.Generator,
                  layer: LayerInfo) -> "MaskIndividual":
    """A mask pruning the least important weights of the layer at about `sparsity` (± `spread`, relative)."""
    ranks = layer.ranks if layer.ranks is not None else rng.random(np.asarray(base).size)
    s = float(np.clip(sparsity * (1.0 + spread * (2.0 * rng.random() - 1.0)), 0.0, 1.0))
    b = (ranks >= s).astype(np.uint8)  # ranks are evenly spread over [0, 1]: the lowest `s` go
    b &= np.asarray(base, dtype=np.uint8).reshape(-1)
    return MaskIndividual(b.tolist())
