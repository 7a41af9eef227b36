"""DEAP operators on bit masks: adaptive rate, the study's SA move and bit flips, importance-informed moves (and
swaps at a fixed sparsity) and starts.

Every operator that depends on the genome being searched reads it from a `Genome` holder at
call time, so the search can move from layer to layer without re-registering anything in
the toolbox: a user's `toolbox.register` of any alias stays in force for the whole run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .genome import MaskIndividual, bits


@dataclass
class Genome:
    """What evoprune's operators know about the genome being searched; the search updates it per layer.

    `base` is the genome of the masks held now (where the study's moves start), `ranks` each
    bit's importance rank in [0, 1] (0 = least important; None: uninformed), `start_sparsity`
    the informed start's sparsity, `cls` the individual class of the problem's fitness form.
    """

    base: np.ndarray
    ranks: np.ndarray | None = None
    start_sparsity: float = 0.0
    cls: type = MaskIndividual
    bounds: tuple[int, ...] = ()  # where each layer the genome covers starts in it, and its end

    @property
    def size(self) -> int:
        return int(self.base.size)


def adaptive_rate(rate0: float, used: float, total: float) -> float:
    """The study's schedule `rate0 × (1 − t/T)`, with t/T the share of the layer's budget spent."""
    return rate0 * max(0.0, 1.0 - used / total) if total > 0 else 0.0


def _view(individual) -> np.ndarray:
    # A writable uint8 view of a bytearray individual: numpy writes go straight into it.
    return np.frombuffer(individual, dtype=np.uint8)


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
        _view(individual)[off] = 0
    return (individual,)


def mut_flip(individual, indpb: float, rng: np.random.Generator):
    """Bit-flip mutation (DEAP's mutFlipBit, drawn from a numpy generator): flip each bit with probability `indpb`."""
    b = _view(individual)
    flip = np.flatnonzero(rng.random(b.size) < indpb)
    b[flip] ^= 1
    return (individual,)


def init_from_mask(genome: Genome, zero_share: float, rng: np.random.Generator):
    """The study's GA initialisation: the current genome with each kept bit turned off with probability `zero_share`."""
    b = genome.base.copy()
    b[(b == 1) & (rng.random(b.size) < zero_share)] = 0
    return genome.cls(b.tobytes())


def init_population(genome: Genome, n: int, zero_share: float, rng: np.random.Generator) -> list:
    """`n` individuals drawn with `init_from_mask`."""
    return [init_from_mask(genome, zero_share, rng) for _ in range(n)]


def importance_ranks(scores: np.ndarray) -> np.ndarray:
    """Each weight's rank among the genome's scores, scaled to [0, 1]: 0 = least important."""
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


def mut_informed(individual, indpb: float, rng: np.random.Generator, genome: Genome, restore: float = 0.5,
                 focus: float = 4.0):
    """Prune and restore, guided by importance: a move that can undo earlier pruning.

    About `indpb` of the kept bits are turned off, drawn with weight `(1 − rank)^focus` (the
    least important most often); then `restore` times as many pruned bits are turned back
    on, drawn with weight `rank^focus` (the most important first). Without ranks (no
    importance given) every bit weighs the same.
    """
    b = _view(individual)
    ranks = genome.ranks if genome.ranks is not None else np.full(b.size, 0.5)
    kept, pruned = np.flatnonzero(b), np.flatnonzero(b == 0)
    n_off = max(1, int(rng.binomial(kept.size, indpb))) if kept.size else 0
    n_on = min(pruned.size, int(rng.binomial(n_off, restore))) if restore > 0 else 0
    off = _weighted_sample(kept, (1.0 - ranks[kept]) ** focus, n_off, rng)
    on = _weighted_sample(pruned, ranks[pruned] ** focus, n_on, rng) if n_on else pruned[:0]
    b[off] = 0
    b[on] = 1
    return (individual,)


def mut_swap(individual, indpb: float, rng: np.random.Generator, genome: Genome, movable: np.ndarray,
             focus: float = 4.0):
    """Trade kept bits for pruned ones, one for one and only among the `movable` bits: the sparsity stays.

    About `indpb` of the movable kept bits are turned off, drawn with weight `(1 − rank)^focus`, and as
    many movable pruned bits turned on, drawn with weight `rank^focus` (`mut_informed`'s draws, with
    `restore` 1 and a fixed count); the bits outside `movable` are never touched. A search at a fixed
    sparsity (e.g. a gradual pruning step choosing among the weights it may prune) moves with it.
    """
    b = _view(individual)
    ranks = genome.ranks if genome.ranks is not None else np.full(b.size, 0.5)
    kept, pruned = np.flatnonzero((b == 1) & movable), np.flatnonzero((b == 0) & movable)
    n = min(max(1, int(rng.binomial(kept.size, indpb))), kept.size, pruned.size)
    if n:
        off = _weighted_sample(kept, (1.0 - ranks[kept]) ** focus, n, rng)
        b[_weighted_sample(pruned, ranks[pruned] ** focus, n, rng)] = 1
        b[off] = 0
    return (individual,)


def mut_informed_layer(individual, indpb: float, rng: np.random.Generator, genome: Genome, restore: float = 0.5,
                       focus: float = 4.0):
    """`mut_informed` inside one layer of the genome, chosen with probability ∝ its number of weights.

    A move that touches one layer leaves every layer before it as it was, so its evaluation can
    start from their cached activations (most moves fall on the large, late layers).
    """
    bounds = genome.bounds or (0, len(individual))
    sizes = np.diff(bounds)
    layer = int(rng.choice(sizes.size, p=sizes / sizes.sum()))
    lo, hi = bounds[layer], bounds[layer + 1]
    part = bytearray(individual[lo:hi])
    ranks = genome.ranks[lo:hi] if genome.ranks is not None else None
    mut_informed(part, indpb, rng, Genome(genome.base[lo:hi], ranks), restore, focus)
    individual[lo:hi] = part
    return (individual,)


def init_informed(genome: Genome, rng: np.random.Generator, sparsity: float | None = None, spread: float = 0.0):
    """A genome pruning its least important weights at about `sparsity` (± `spread`, relative; default the
    genome's start sparsity), within the current genome's kept bits."""
    ranks = genome.ranks if genome.ranks is not None else rng.random(genome.size)
    s = genome.start_sparsity if sparsity is None else sparsity
    s = float(np.clip(s * (1.0 + spread * (2.0 * rng.random() - 1.0)), 0.0, 1.0))
    b = (ranks >= s).astype(np.uint8)  # ranks are evenly spread over [0, 1]: the lowest `s` go
    b &= genome.base
    return genome.cls(b.tobytes())
