"""DEAP individuals for masks: bit sequences (1 = keep) with their fitness classes, defined at import time.

Individuals are `bytearray`s: a sequence of 0/1 ints that DEAP's operators (cxOnePoint,
cxTwoPoint, mutFlipBit, …) index and slice like a list, and that numpy reads without a copy,
so packing one for transport is cheap even at a million bits.

The classes are plain module-level classes, also published as `deap.creator.MaskIndividual`
and friends. Not made with `creator.create`: DEAP pickles its creator classes by re-creating
them on load, which replaces `deap.creator`'s class whenever a checkpoint is read, after which
the individuals made before no longer pickle by reference to pool workers.
"""
from __future__ import annotations

import numpy as np
from deap import base, creator

from ..network.masks import pack


class PruneFitness(base.Fitness):
    """(feasible, cost) weighted (+1, −1).

    DEAP compares weighted values lexicographically, so every DEAP selection (tournament, best,
    hall of fame) ranks any feasible mask above every infeasible one and only then by cost. The
    cost alone cannot say this: under the study's penalty a sparser infeasible mask has the lower cost.
    """

    weights = (1.0, -1.0)


class FrontFitness(base.Fitness):
    """The trade-off as two objectives, both maximised: accuracy on the search images and global sparsity."""

    weights = (1.0, 1.0)


class MaskIndividual(bytearray):
    """A mask (1 = keep) with a (feasible, cost) fitness."""

    def __init__(self, *args):
        super().__init__(*args)
        self.fitness = PruneFitness()


class FrontIndividual(bytearray):
    """A mask (1 = keep) with an (accuracy, global sparsity) fitness."""

    def __init__(self, *args):
        super().__init__(*args)
        self.fitness = FrontFitness()


for _cls in (PruneFitness, FrontFitness, MaskIndividual, FrontIndividual):
    setattr(creator, _cls.__name__, _cls)

FITNESS_FORMS = {"single": MaskIndividual, "front": FrontIndividual}
"""How DEAP sees a mask: "single" (feasible, cost), or "front" (search accuracy, global sparsity)."""


def bits(individual) -> np.ndarray:
    """The individual's bits as a flat uint8 array (a view of a bytearray individual, no copy)."""
    if isinstance(individual, (bytes, bytearray)):
        return np.frombuffer(individual, dtype=np.uint8)
    return np.fromiter(individual, dtype=np.uint8, count=len(individual))


def individual_of(genome: np.ndarray, cls=MaskIndividual):
    """A DEAP individual of class `cls` holding the flattened (C order) bits of `genome`."""
    return cls(np.asarray(genome, dtype=np.uint8).reshape(-1).tobytes())


def packed(individual) -> np.ndarray:
    """The individual's bits packed with numpy.packbits: what travels to an evaluator."""
    return pack(bits(individual))
