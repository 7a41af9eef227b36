"""The study's cost, warm-up thresholds, the accuracy floor and its paired bound, against hand-computed values."""
import numpy as np
import pytest

from evoprune.evaluation import EvalResult
from evoprune.problem.genome import MaskIndividual
from evoprune.problem.objectives import PENALTY, AccuracyFloor, StudyCost, paired_drop_error, weight_share_allowance

LENET_INDICES = (0, 2, 5, 6, 7)  # prunable layers of the study's LeNet-5, of 8 model layers


def res(loss: float, accuracy: float) -> EvalResult:
    """A result without per-image matches (what the study's cost and the point floor need)."""
    return EvalResult(loss, accuracy, round(accuracy * 1000))


def scored(matches, loss: float = 0.2) -> EvalResult:
    """A result with per-image matches."""
    matches = np.asarray(matches, bool)
    return EvalResult(loss, matches.mean(), int(matches.sum()), images=len(matches),
                      matches=np.packbits(matches).tobytes())


def test_warmup_thresholds_by_hand():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    assert [cost.max_loss(i) for i in LENET_INDICES] == pytest.approx([0.125, 0.375, 0.75, 0.875, 1.0])


def test_relative_thresholds_start_at_the_baseline_loss():
    cost = StudyCost(baseline_loss=0.14, n_layers=8, relative=True)
    assert cost.max_loss(0) == pytest.approx(0.14 + 0.125)
    assert cost.feasible(0.2, 0) and not StudyCost(0.14, 8).feasible(0.2, 0)


def test_cost_formula_by_hand():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    s = cost.score(res(0.3, 0.9), 0.25, 0.5, 2)        # 0.3 < 0.375: feasible
    assert s.feasible and s.cost == pytest.approx((0.1 - 0.3) ** 2 + 1 / (0.25 + 1e-8))
    s = cost.score(res(0.4, 0.9), 0.25, 0.5, 2)        # 0.4 ≥ 0.375: penalised
    assert not s.feasible and s.cost == pytest.approx(PENALTY + 1 / (0.25 + 1e-8))
    assert cost.score(res(0.375, 0.9), 0.25, 0.5, 2).feasible is False           # the threshold itself is not under it


def test_feasibility_comes_before_cost_in_deap_comparisons():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    infeasible_sparse = MaskIndividual([0])
    infeasible_sparse.fitness.values = cost.score(res(5.0, 0.1), 0.9, 0.9, 0).fitness
    infeasible_dense = MaskIndividual([1])
    infeasible_dense.fitness.values = cost.score(res(5.0, 0.1), 0.1, 0.1, 0).fitness
    feasible_dense = MaskIndividual([1])
    feasible_dense.fitness.values = cost.score(res(0.1, 0.9), 0.01, 0.01, 0).fitness
    # among infeasible masks the study's cost prefers the sparser one ...
    assert infeasible_sparse.fitness > infeasible_dense.fitness
    # ... but any feasible mask beats every infeasible one, whatever the cost says
    assert feasible_dense.fitness.values[1] > 90  # its cost (1/0.01) is far from small
    assert feasible_dense.fitness > infeasible_sparse.fitness


def test_floor_holds_and_prefers_sparser_feasible_masks():
    obj = AccuracyFloor(baseline_accuracy=0.973, delta=0.005)
    assert obj.floor(7) == pytest.approx(0.968)
    at_floor = obj.score(res(0.2, 0.968), 0.3, 0.60, 7)
    below = obj.score(res(0.2, 0.967), 0.3, 0.90, 7)
    sparser = obj.score(res(0.2, 0.970), 0.3, 0.65, 7)
    assert at_floor.feasible and sparser.feasible and not below.feasible
    assert sparser.cost < at_floor.cost < below.cost           # sparser wins; infeasible loses whatever its sparsity
    assert obj.score(res(0.1, 0.97), 0.3, 0.6, 7).cost < obj.score(res(0.3, 0.97), 0.3, 0.6, 7).cost  # loss breaks ties


def test_floor_allowance_follows_the_weights():
    sizes = {0: 150, 2: 2400, 5: 48000, 6: 10080, 7: 840}    # LeNet-5's kernels by model index
    share = weight_share_allowance(sizes)
    assert share[0] == pytest.approx(150 / 61470) and share[7] == pytest.approx(1.0)
    obj = AccuracyFloor(0.97, 0.005, share)
    assert obj.floor(0) == pytest.approx(0.97 - 0.005 * 150 / 61470)
    assert obj.floor(5) == pytest.approx(0.97 - 0.005 * 50550 / 61470)


def test_paired_drop_error_by_hand():
    base = scored([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    mine = scored([1, 1, 1, 1, 1, 0, 0, 0, 1, 0])  # lost 3 images, gained 1: drop 0.2
    # SE² = ((lost + gained) / N − drop²) / N = (0.4 − 0.04) / 10
    assert paired_drop_error(base, mine) == pytest.approx(0.036 ** 0.5)
    d = np.array([0, 0, 0, 0, 0, 1, 1, 1, -1, 0])
    assert paired_drop_error(base, mine) == pytest.approx(d.std() / len(d) ** 0.5)  # the same, from its definition
    assert paired_drop_error(base, base) == 0.0


def test_confident_floor_asks_more_of_masks_that_flip_more_images():
    rng = np.random.default_rng(0)
    base_bits = np.arange(1000) < 900                       # 90 % right
    few = base_bits.copy()
    few[:5] = False                                         # loses 5 images: drop 0.5 pt
    many = base_bits.copy()
    many[:55] = False                                       # loses 55, gains 50: also 0.5 pt
    many[rng.choice(np.arange(900, 1000), 50, replace=False)] = True
    base, few, many = scored(base_bits), scored(few), scored(many)
    assert few.accuracy == many.accuracy == pytest.approx(0.895)
    point = AccuracyFloor(0.9, 0.01, baseline=base)
    confident = AccuracyFloor(0.9, 0.01, confidence=0.95, baseline=base)
    assert point.score(few, 0.5, 0.5, 0).feasible and point.score(many, 0.5, 0.5, 0).feasible
    # few: 0.005 + 1.645 · sqrt((0.005 − 0.005²) / 1000) = 0.0087 ≤ 0.01
    assert confident.accuracy_bound(few) == pytest.approx(0.895 - 1.6449 * ((0.005 - 0.005 ** 2) / 1000) ** 0.5, abs=1e-6)
    assert confident.score(few, 0.5, 0.5, 0).feasible
    # many: 0.005 + 1.645 · sqrt((0.105 − 0.005²) / 1000) = 0.022 > 0.01
    assert not confident.score(many, 0.5, 0.5, 0).feasible
    assert confident.score(base, 0.0, 0.0, 0).feasible        # the unpruned model is on its own floor at any confidence
    # an infeasible mask is scored by its bound: the closer to the floor, the cheaper
    assert confident.score(many, 0.5, 0.5, 0).cost > confident.score(few, 0.5, 0.5, 0).cost + 1.0


def test_confident_floor_needs_per_image_matches_and_fails_failed_evaluations():
    floor = AccuracyFloor(0.9, 0.01, confidence=0.95, baseline=res(0.1, 0.9))
    with pytest.raises(ValueError, match="per-image matches"):
        floor.score(res(0.2, 0.9), 0.5, 0.5, 0)
    assert AccuracyFloor(0.9, 0.01, baseline=res(0.1, 0.9)).score(res(0.2, 0.9), 0.5, 0.5, 0).feasible  # point floor
    failed = EvalResult(float("nan"), 0.0, 0, error="Traceback: ...")
    assert not AccuracyFloor(0.9, 1.0, confidence=0.95).score(failed, 0.5, 0.5, 0).feasible  # even with floor < 0
