"""The study's cost, warm-up thresholds and feasibility, against hand-computed values."""
import pytest

from evoprune.genome import MaskIndividual
from evoprune.objectives import PENALTY, AccuracyFloor, StudyCost, weight_share_allowance

LENET_INDICES = (0, 2, 5, 6, 7)  # prunable layers of the study's LeNet-5, of 8 model layers


def test_warmup_thresholds_by_hand():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    assert [cost.max_loss(i) for i in LENET_INDICES] == pytest.approx([0.125, 0.375, 0.75, 0.875, 1.0])


def test_relative_thresholds_start_at_the_baseline_loss():
    cost = StudyCost(baseline_loss=0.14, n_layers=8, relative=True)
    assert cost.max_loss(0) == pytest.approx(0.14 + 0.125)
    assert cost.feasible(0.2, 0) and not StudyCost(0.14, 8).feasible(0.2, 0)


def test_cost_formula_by_hand():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    s = cost.score(0.3, 0.9, 0.25, 0.5, 2)        # 0.3 < 0.375: feasible
    assert s.feasible and s.cost == pytest.approx((0.1 - 0.3) ** 2 + 1 / (0.25 + 1e-8))
    s = cost.score(0.4, 0.9, 0.25, 0.5, 2)        # 0.4 ≥ 0.375: penalised
    assert not s.feasible and s.cost == pytest.approx(PENALTY + 1 / (0.25 + 1e-8))
    assert cost.score(0.375, 0.9, 0.25, 0.5, 2).feasible is False           # the threshold itself is not under it


def test_feasibility_comes_before_cost_in_deap_comparisons():
    cost = StudyCost(baseline_loss=0.1, n_layers=8)
    infeasible_sparse = MaskIndividual([0])
    infeasible_sparse.fitness.values = cost.score(5.0, 0.1, 0.9, 0.9, 0).fitness
    infeasible_dense = MaskIndividual([1])
    infeasible_dense.fitness.values = cost.score(5.0, 0.1, 0.1, 0.1, 0).fitness
    feasible_dense = MaskIndividual([1])
    feasible_dense.fitness.values = cost.score(0.1, 0.9, 0.01, 0.01, 0).fitness
    # among infeasible masks the study's cost prefers the sparser one ...
    assert infeasible_sparse.fitness > infeasible_dense.fitness
    # ... but any feasible mask beats every infeasible one, whatever the cost says
    assert feasible_dense.fitness.values[1] > 90  # its cost (1/0.01) is far from small
    assert feasible_dense.fitness > infeasible_sparse.fitness


def test_floor_holds_and_prefers_sparser_feasible_masks():
    obj = AccuracyFloor(baseline_accuracy=0.973, delta=0.005)
    assert obj.floor(7) == pytest.approx(0.968)
    at_floor = obj.score(0.2, 0.968, 0.3, 0.60, 7)
    below = obj.score(0.2, 0.967, 0.3, 0.90, 7)
    sparser = obj.score(0.2, 0.970, 0.3, 0.65, 7)
    assert at_floor.feasible and sparser.feasible and not below.feasible
    assert sparser.cost < at_floor.cost < below.cost           # sparser wins; infeasible loses whatever its sparsity
    assert obj.score(0.1, 0.97, 0.3, 0.6, 7).cost < obj.score(0.3, 0.97, 0.3, 0.6, 7).cost  # loss breaks ties


def test_floor_allowance_follows_the_weights():
    sizes = {0: 150, 2: 2400, 5: 48000, 6: 10080, 7: 840}    # LeNet-5's kernels by model index
    share = weight_share_allowance(sizes)
    assert share[0] == pytest.approx(150 / 61470) and share[7] == pytest.approx(1.0)
    obj = AccuracyFloor(0.97, 0.005, share)
    assert obj.floor(0) == pytest.approx(0.97 - 0.005 * 150 / 61470)
    assert obj.floor(5) == pytest.approx(0.97 - 0.005 * 50550 / 61470)
