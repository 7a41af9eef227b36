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
