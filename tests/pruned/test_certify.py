"""Certification: nested candidates fixed from masks and scores, the fixed-sequence rule, the size check."""
from __future__ import annotations

import numpy as np
import pytest

from evoprune.errors import ConfigError
from evoprune.network.masks import sparsity_global
from evoprune.pruned.certify import candidate_masks, certify, check_images, fixed_sequence, paired_test, smallest_bound


def _masks(rng, shapes=((5, 4), (30,)), keep=0.2):
    return {f"l{i}": rng.random(s) < keep for i, s in enumerate(shapes)}


def test_candidates_are_nested_densest_first_and_end_with_the_masks_themselves():
    rng = np.random.default_rng(0)
    masks = _masks(rng)
    scores = {k: rng.random(v.shape) for k, v in masks.items()}
    cands = candidate_masks(masks, scores, count=6)
    assert len(cands) == 6
    assert all(np.array_equal(cands[-1][k], masks[k]) for k in masks)
    sparsities = [sparsity_global(c) for c in cands]
    assert sparsities == sorted(sparsities) and len(set(sparsities)) == 6
    for denser, sparser in zip(cands, cands[1:]):  # each contains the next one
        assert all(np.all(sparser[k] <= denser[k]) for k in masks)


def test_candidates_give_back_the_most_important_pruned_weights_first():
    masks = {"a": np.array([True, False, False, False]), "b": np.array([False, False, False, False])}
    scores = {"a": np.array([0.0, 0.1, 0.9, 0.2]), "b": np.array([0.5, 0.0, 0.3, 0.8])}
    cands = candidate_masks(masks, scores, count=8)
    kept = [int(c["a"].sum() + c["b"].sum()) for c in cands]
    one_more = cands[kept.index(2)]  # one weight more than the masks: the most important pruned one
    two_more = cands[kept.index(3)]
    assert one_more["a"].tolist() == [True, False, True, False] and not one_more["b"].any()
    assert two_more["b"].tolist() == [False, False, False, True]


def test_the_fixed_sequence_never_answers_after_a_failure():
    assert fixed_sequence([True, True, False, True, True]) == 1
    assert fixed_sequence([True] * 4) == 3
    rng = np.random.default_rng(1)
    for _ in range(200):
        passed = list(rng.random(rng.integers(1, 12)) < 0.7)
        i = fixed_sequence(passed)
        assert all(passed[: i + 1]) and (i + 1 == len(passed) or not passed[i + 1])


def test_a_failing_densest_candidate_falls_back_to_the_unpruned_model():
    assert fixed_sequence([False, True, True]) == -1
    base = np.ones(1000, bool)
    cands = [{"w": np.ones(10, bool)}, {"w": np.arange(10) < 5}]

    def correct(masks):  # the densest candidate loses 30 images in 1,000, far above half a point
        if masks is None:
            return base
        wrong = 30 if masks["w"].all() else 0
        return np.arange(1000) >= wrong

    answer, tests = certify(cands, correct, delta=0.005, confidence=0.95)
    assert answer == -1
    assert [t.passed for t in tests] == [False, True]  # every candidate is tested and recorded


def test_the_paired_bound_counts_images_lost_and_gained():
    base = np.array([True] * 90 + [False] * 10)
    mine = base.copy()
    mine[:3] = False  # 3 lost
    mine[95] = True   # 1 gained
    drop, error, bound, ok = paired_test(base, mine, delta=0.06, confidence=0.95)
    assert drop == pytest.approx(0.02)
    assert error == pytest.approx(((4 / 100 - 0.02 ** 2) / 100) ** 0.5)
    assert bound == pytest.approx(drop + 1.6448536 * error) and ok
    assert not paired_test(base, mine, delta=0.05, confidence=0.95)[3]  # the bound, 0.053, exceeds 0.05


def test_too_few_certification_images_are_refused_with_the_smallest_bound():
    # 500 images: one image lost is already 0.2 point, and its bound (about 0.53 point) exceeds half a point
    assert smallest_bound(500, 0.95) > 0.005 > smallest_bound(1000, 0.95)
    with pytest.raises(ConfigError, match="500 certification images are too few.*0.005"):
        check_images(500, 0.005, 0.95)
    check_images(5000, 0.005, 0.95)
