"""DEAP operators: rates, bit counts, the adaptive schedule, the study's initialisation, operator swaps."""
import numpy as np
import pytest
from deap import tools

from evoprune.genome import MaskIndividual, bits, individual_from_mask
from evoprune.operators import adaptive_rate, init_from_mask, mut_flip, mut_prune
from evoprune.toolbox import build_toolbox


def test_adaptive_rate_schedule():
    assert adaptive_rate(0.15, 0, 200) == pytest.approx(0.15)
    assert adaptive_rate(0.15, 100, 200) == pytest.approx(0.075)
    assert adaptive_rate(0.15, 200, 200) == 0.0
    assert adaptive_rate(0.15, 250, 200) == 0.0  # never negative


def test_mut_prune_only_prunes_at_the_rate():
    rng = np.random.default_rng(0)
    start = np.ones(20000, np.uint8)
    start[:5000] = 0
    ind = individual_from_mask(start)
    (ind,) = mut_prune(ind, 0.2, rng)
    b = bits(ind)
    assert not np.any(b[:5000])                       # pruned stay pruned: no restores
    turned_off = 15000 - int(b.sum())
    assert abs(turned_off - 0.2 * 15000) < 5 * np.sqrt(15000 * 0.2 * 0.8)


def test_mut_prune_always_moves_while_something_is_kept():
    rng = np.random.default_rng(1)
    ind = MaskIndividual([1] * 10)
    (ind,) = mut_prune(ind, 0.0, rng)
    assert sum(ind) == 9
    empty = MaskIndividual([0] * 10)
    assert mut_prune(empty, 0.5, rng)[0] == [0] * 10


def test_mut_flip_flips_both_ways_at_the_rate():
    rng = np.random.default_rng(2)
    start = np.zeros(20000, np.uint8)
    start[10000:] = 1
    ind = individual_from_mask(start)
    (ind,) = mut_flip(ind, 0.1, rng)
    b = bits(ind)
    sigma = 5 * np.sqrt(10000 * 0.1 * 0.9)
    assert abs(int(b[:10000].sum()) - 1000) < sigma          # zeros turned on
    assert abs(10000 - int(b[10000:].sum()) - 1000) < sigma  # ones turned off


def test_init_from_mask_keeps_pruned_and_prunes_a_share():
    rng = np.random.default_rng(3)
    base = np.ones(10000, bool)
    base[:100] = False
    ind = init_from_mask(base, 0.1, rng)
    b = bits(ind)
    assert not b[:100].any()
    assert abs((9900 - b.sum()) - 990) < 5 * np.sqrt(9900 * 0.09)


def test_toolbox_uses_the_study_operators_and_swaps_the_deap_way():
    rng = np.random.default_rng(0)
    tb = build_toolbox("ga", rng)
    assert tb.mate.func is tools.cxOnePoint and tb.select.keywords == {"tournsize": 5}
    assert tb.mutate.func is mut_flip
    tb.register("mate", tools.cxTwoPoint)
    assert tb.mate.func is tools.cxTwoPoint
    assert build_toolbox("sa", rng).mutate.func is mut_prune
