"""DEAP operators: rates, bit counts, the adaptive schedule, the study's initialisation, operator swaps."""
import numpy as np
import pytest
from deap import tools

from evoprune.network.masks import LayerSpec
from evoprune.problem.genome import FrontIndividual, MaskIndividual, bits, individual_of
from evoprune.problem.layout import Layout
from evoprune.problem.operators import (Genome, adaptive_rate, importance_ranks, init_from_mask, init_informed,
                                        mut_flip, mut_informed, mut_prune, mut_swap)
from evoprune.problem.toolbox import Moves, build_toolbox


def test_adaptive_rate_schedule():
    assert adaptive_rate(0.15, 0, 200) == pytest.approx(0.15)
    assert adaptive_rate(0.15, 100, 200) == pytest.approx(0.075)
    assert adaptive_rate(0.15, 200, 200) == 0.0
    assert adaptive_rate(0.15, 250, 200) == 0.0  # never negative


def test_mut_prune_only_prunes_at_the_rate():
    rng = np.random.default_rng(0)
    start = np.ones(20000, np.uint8)
    start[:5000] = 0
    ind = individual_of(start)
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
    assert list(mut_prune(empty, 0.5, rng)[0]) == [0] * 10


def test_mut_flip_flips_both_ways_at_the_rate():
    rng = np.random.default_rng(2)
    start = np.zeros(20000, np.uint8)
    start[10000:] = 1
    ind = individual_of(start)
    (ind,) = mut_flip(ind, 0.1, rng)
    b = bits(ind)
    sigma = 5 * np.sqrt(10000 * 0.1 * 0.9)
    assert abs(int(b[:10000].sum()) - 1000) < sigma          # zeros turned on
    assert abs(10000 - int(b[10000:].sum()) - 1000) < sigma  # ones turned off


def test_init_from_mask_keeps_pruned_and_prunes_a_share():
    rng = np.random.default_rng(3)
    base = np.ones(10000, bool)
    base[:100] = False
    ind = init_from_mask(Genome(base.astype(np.uint8)), 0.1, rng)
    b = bits(ind)
    assert not b[:100].any()
    assert abs((9900 - b.sum()) - 990) < 5 * np.sqrt(9900 * 0.09)


def test_toolbox_registers_every_alias_and_swaps_the_deap_way():
    rng = np.random.default_rng(0)
    layout = Layout((LayerSpec("a", 0, (4, 5)), LayerSpec("b", 1, (20,))))
    tb = build_toolbox("token", layout, rng, Moves("study", rate=0.07), informed_start=False)
    for alias in ("individual", "population", "evaluate", "mate", "mutate", "select", "map"):
        assert hasattr(tb, alias), alias
    assert tb.mate.func is tools.cxOnePoint and tb.select.keywords == {"tournsize": 3}
    assert tb.mutate.func is mut_flip and tb.mutate.keywords["indpb"] == 0.07  # DEAP's varAnd calls mutate(ind)
    assert len(tb.individual()) == 40 and isinstance(tb.individual(), MaskIndividual)
    tb.register("mate", tools.cxTwoPoint)
    assert tb.mate.func is tools.cxTwoPoint
    informed = build_toolbox("token", layout, rng, informed_start=True, fitness="front")
    assert informed.mutate.func is mut_informed and isinstance(informed.individual(), FrontIndividual)


def informed_layer(n=20000, seed=4):
    scores = np.random.default_rng(seed).random(n)
    return scores, Genome(np.ones(n, np.uint8), importance_ranks(scores))


def test_importance_ranks_order_scores():
    r = importance_ranks(np.array([0.3, 0.1, 0.9, 0.2]))
    np.testing.assert_allclose(r, [2 / 3, 0, 1, 1 / 3])


def test_informed_moves_prune_unimportant_weights_and_restore_important_ones():
    scores, info = informed_layer()
    rng = np.random.default_rng(5)
    start = np.ones(scores.size, np.uint8)
    start[rng.permutation(scores.size)[:8000]] = 0          # pruned at random, whatever their importance
    ind = individual_of(start)
    (ind,) = mut_informed(ind, 0.1, rng, info, restore=0.5, focus=4.0)
    b = bits(ind)
    off = np.flatnonzero((start == 1) & (b == 0))
    on = np.flatnonzero((start == 0) & (b == 1))
    kept_before = np.flatnonzero(start == 1)
    assert abs(off.size - 0.1 * kept_before.size) < 5 * np.sqrt(kept_before.size * 0.09)
    assert 0.3 * off.size < on.size < 0.7 * off.size       # restores: about half as many as it prunes
    # informed: the pruned are far less important than the kept on average, the restored far more
    assert info.ranks[off].mean() < info.ranks[kept_before].mean() - 0.2
    assert info.ranks[on].mean() > info.ranks[start == 0].mean() + 0.2


def test_swaps_keep_the_sparsity_and_never_touch_bits_that_may_not_move():
    scores, info = informed_layer()
    rng = np.random.default_rng(6)
    start = np.ones(scores.size, np.uint8)
    start[rng.permutation(scores.size)[:8000]] = 0
    movable = rng.random(scores.size) < 0.5
    for rate in (0.1, 1e-9):  # a tiny rate still trades one pair
        ind = individual_of(start)
        (ind,) = mut_swap(ind, rate, rng, info, movable)
        b = bits(ind)
        off = np.flatnonzero((start == 1) & (b == 0))
        on = np.flatnonzero((start == 0) & (b == 1))
        assert b.sum() == start.sum() and off.size == on.size >= 1
        assert np.all(b[~movable] == start[~movable])
    # informed as mut_informed: the least important movable kept bits go, the most important movable pruned come
    ind = individual_of(start)
    (ind,) = mut_swap(ind, 0.1, rng, info, movable)
    b = bits(ind)
    off, on = np.flatnonzero((start == 1) & (b == 0)), np.flatnonzero((start == 0) & (b == 1))
    assert info.ranks[off].mean() < info.ranks[(start == 1) & movable].mean() - 0.2
    assert info.ranks[on].mean() > info.ranks[(start == 0) & movable].mean() + 0.2


def test_informed_start_prunes_the_least_important_at_the_sparsity():
    scores, info = informed_layer(10000)
    ind = init_informed(info, np.random.default_rng(0), sparsity=0.6, spread=0.0)
    b = bits(ind).astype(bool)
    assert abs((~b).mean() - 0.6) < 1e-3
    assert scores[~b].max() <= scores[b].min()             # exactly the lowest scores went
