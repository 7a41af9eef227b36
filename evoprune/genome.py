"""DEAP individuals for masks: bit lists (1 = keep) with a feasibility-first fitness, made at import time."""
from __future__ import annotations

import numpy as np
from deap import base, creator

from .masks import pack

# Fitness values are (feasible, cost) weighted (+1, -1): DEAP compares weighted values
# lexicographically, so every DEAP selection (tournament, best, hall of fame) ranks any
# feasible mask above every infeasible one and only then by the study's cost. The cost
# alone cannot say this: among infeasible masks it prefers the sparser one.
if not hasattr(creator, "PruneFitness"):
    creator.create("PruneFitness", base.Fitness, weights=(1.0, -1.0))
if not hasattr(creator, "MaskIndividual"):
    creator.create("MaskIndividual", list, fitness=creator.PruneFitness)

MaskIndividual = creator.MaskIndividual


def individual_from_mask(mask: np.ndarray) -> "MaskIndividual":
    """A DEAP individual holding the flattened (C order) bits of one layer's mask."""
    return MaskIndividual(np.asarray(mask, dtype=np.uint8).reshape(-1).tolist())


def bits(individual) -> np.ndarray:
    """The individual's bits as a flat uint8 array."""
    return np.fromiter(individual, dtype=np.uint8, count=len(individual))


def mask_from_individual(individual, shape: tuple[int, ...]) -> np.ndarray:
    """The boolean kernel-shaped mask an individual encodes."""
    return bits(individual).astype(bool).reshape(shape)


def packed(individual) -> np.ndarray:
    """The individual's bits packed with numpy.packbits: what travels to an evaluator."""
    return pack(bits(individual))
