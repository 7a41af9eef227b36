"""Gradual pruning: tfmot's polynomial-decay schedule, masks that only grow, pruned weights exactly zero."""
import itertools

import numpy as np
import pytest

from conftest import random_masks
from evoprune.errors import ConfigError
from evoprune.network import models
from evoprune.network.masks import sparsity_global
from evoprune.pruned.finetune import Recipe
from evoprune.pruned.gradual import PolynomialDecay, gradual_prune, magnitude_rule


def test_schedule_matches_tfmot_polynomial_decay_at_hand_computed_points():
    # s(t) = s_f + (s_i − s_f)(1 − (t − t0)/(n·Δt))³ with s_i = 0.2, s_f = 0.8, t0 = 10, n·Δt = 40
    schedule = PolynomialDecay(0.2, 0.8, begin_step=10, end_step=50, frequency=10)
    expected = {0: 0.2, 10: 0.2, 20: 0.8 - 0.6 * 0.75 ** 3, 30: 0.8 - 0.6 * 0.125, 40: 0.8 - 0.6 * 0.25 ** 3,
                50: 0.8, 90: 0.8}
    for step, sparsity in expected.items():
        assert schedule.sparsity(step) == pytest.approx(sparsity, abs=1e-12)
    assert schedule.sparsity(30) == pytest.approx(0.725)
    assert schedule.steps() == [10, 20, 30, 40, 50]
    assert [t for t in range(100) if schedule.prunes_at(t)] == schedule.steps()
    assert PolynomialDecay(0.0, 0.5, 3, 3, frequency=7).sparsity(3) == 0.5  # a one-step schedule


@pytest.mark.parametrize("args", [(0.5, 0.2, 0, 10, 5), (0.0, 1.0, 0, 10, 5), (0.0, 0.8, 0, 10, 3),
                                  (0.0, 0.8, 5, 0, 5), (0.0, 0.8, 0, 10, 0)])
def test_schedule_refuses_what_could_not_reach_its_final_sparsity(args):
    with pytest.raises(ConfigError):
        PolynomialDecay(*args[:4], frequency=args[4])


def recording(rule, seen: list):
    """`rule`, noting the previous masks and the target it is given at each pruning step."""
    def wrapped(model, sparsity, previous):
        seen.append((sparsity, {n: m.copy() for n, m in previous.items()}))
        return rule(model, sparsity, previous)
    return wrapped


def pruned_set_only_grows(chain: list) -> bool:
    return all(np.all(later[n] <= earlier[n]) for earlier, later in itertools.pairwise(chain) for n in earlier)


@pytest.fixture(scope="module")
def gradual_run(tiny_model, small_mnist):
    x_tr, y_tr, x_val, y_val = small_mnist[:4]
    weights = [w.copy() for w in tiny_model.get_weights()]
    seen = []
    # 1,000 images in batches of 100: 10 steps an epoch; pruning at steps 0, 5, ..., 20
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=20, frequency=5)
    result = gradual_prune(tiny_model, x_tr, y_tr, schedule, epochs=4, validation=(x_val, y_val),
                           rule=recording(magnitude_rule, seen), recipe=Recipe(batch_size=100))
    return result, seen, weights


@pytest.mark.slow  # trains
def test_gradual_pruning_reaches_the_target_sparsity(gradual_run):
    result, seen, _ = gradual_run
    assert sparsity_global(result.masks) == pytest.approx(0.8, abs=1e-3)
    assert [p["step"] for p in result.pruning_steps] == [0, 5, 10, 15, 20]
    assert [s for s, _ in seen] == [p["target_sparsity"] for p in result.pruning_steps]
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert {"sparsity", "loss", "accuracy", "val_accuracy"} <= set(result.history[0])
    sparsities = [h["sparsity"] for h in result.history]
    assert sparsities == sorted(sparsities) and sparsities[-1] == sparsity_global(result.masks)


@pytest.mark.slow  # trains
def test_gradual_masks_only_grow_the_pruned_set_and_pruned_weights_are_zero(gradual_run, tiny_model):
    result, seen, weights = gradual_run
    assert pruned_set_only_grows([previous for _, previous in seen] + [result.masks])
    for name, mask in result.masks.items():
        kernel = result.model.get_layer(name).kernel
        assert np.all(kernel.numpy()[~mask] == 0.0) and kernel.constraint is None
    assert np.count_nonzero(result.model.get_layer("d1").kernel.numpy()) > 0
    assert all(np.array_equal(a, b) for a, b in zip(weights, tiny_model.get_weights()))  # trained a copy
    assert not result.model.compiled


@pytest.mark.slow  # trains
def test_a_rule_that_would_revive_weights_cannot(tiny_model, small_mnist):
    specs = models.prunable_layers(tiny_model)
    draws = iter(range(100))
    seen = []

    def random_rule(model, sparsity, previous):  # ignores `previous`: fresh random masks every time
        return random_masks(specs, sparsity, seed=next(draws))

    schedule = PolynomialDecay(0.3, 0.6, begin_step=0, end_step=4, frequency=2)
    result = gradual_prune(tiny_model, small_mnist[0][:400], small_mnist[1][:400], schedule, epochs=1,
                           rule=recording(random_rule, seen), recipe=Recipe(batch_size=50))
    assert pruned_set_only_grows([previous for _, previous in seen] + [result.masks])
    assert all(p["sparsity"] >= p["target_sparsity"] - 0.02 for p in result.pruning_steps)
    for name, mask in result.masks.items():
        assert np.all(result.model.get_layer(name).kernel.numpy()[~mask] == 0.0)


def test_a_schedule_longer_than_training_is_refused(tiny_model, small_mnist):
    with pytest.raises(ConfigError, match="only 10 steps"):
        gradual_prune(tiny_model, small_mnist[0], small_mnist[1], PolynomialDecay(0.0, 0.5, 0, 10, 5), epochs=1,
                      recipe=Recipe(batch_size=100))


@pytest.mark.slow  # trains
def test_gradual_pruning_is_reproducible(tiny_model, small_mnist):
    x, y = small_mnist[0][:400], small_mnist[1][:400]
    runs = [gradual_prune(tiny_model, x, y, PolynomialDecay(0.2, 0.7, 0, 4, 2), epochs=1, recipe=Recipe(batch_size=50, seed=3))
            for _ in range(2)]
    assert all(np.array_equal(runs[0].masks[n], runs[1].masks[n]) for n in runs[0].masks)
    assert all(np.array_equal(a, b) for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights()))


@pytest.mark.slow  # trains
@pytest.mark.parametrize("name", ["reconstruction", "saliency"])
def test_the_importance_rules_prune_to_the_target(tiny_model, small_mnist, name):
    from evoprune.pruned.gradual import named_rule

    x, y = small_mnist[0][:400], small_mnist[1][:400]
    result = gradual_prune(tiny_model, x, y, PolynomialDecay(0.2, 0.7, 0, 4, 2), epochs=1, recipe=Recipe(batch_size=50),
                           rule=named_rule(name, x, y))
    assert sparsity_global(result.masks) == pytest.approx(0.7, abs=0.01)
    assert [h["epoch"] for h in result.history] == [1]
    for mask_name, mask in result.masks.items():
        assert np.all(result.model.get_layer(mask_name).kernel.numpy()[~mask] == 0.0)


def test_the_search_rule_keeps_the_step_sparsity_and_finds_a_lower_loss_than_magnitude(tiny_model, small_mnist):
    from evoprune.network.masks import full_masks
    from evoprune.pruned.gradual import named_rule

    x, y = small_mnist[0][:400], small_mnist[1][:400]
    specs = models.prunable_layers(tiny_model)
    previous = magnitude_rule(tiny_model, 0.5, full_masks(specs))
    model = models.masked_copy(tiny_model, previous)  # as gradual holds it: the pruned weights are 0
    by_magnitude = magnitude_rule(model, 0.7, previous)
    rule = named_rule("search", x, y, budget=30, seed=0)
    found = rule(model, 0.7, previous)
    assert sparsity_global(found) == sparsity_global(by_magnitude)
    assert all(np.all(found[n] <= previous[n]) for n in previous)  # nothing pruned before comes back
    loss = {name: models.evaluate_masked(model, m, x, y, models.kernels(model, specs))[0]
            for name, m in (("search", found), ("magnitude", by_magnitude))}
    assert loss["search"] < loss["magnitude"]  # 30 evaluations found a better trade than the start
    # a step with nothing to choose returns the previous masks as they are
    same = rule(model, sparsity_global(previous), previous)
    assert all(np.array_equal(same[n], previous[n]) for n in previous)


@pytest.mark.slow  # trains
def test_the_search_rule_prunes_while_training_to_the_target(tiny_model, small_mnist):
    from evoprune.pruned.gradual import named_rule

    x, y = small_mnist[0][:400], small_mnist[1][:400]
    result = gradual_prune(tiny_model, x, y, PolynomialDecay(0.2, 0.7, 0, 4, 2), epochs=1, recipe=Recipe(batch_size=50),
                           rule=named_rule("search", x, y, budget=4))
    assert sparsity_global(result.masks) == pytest.approx(0.7, abs=0.01)
    for mask_name, mask in result.masks.items():
        assert np.all(result.model.get_layer(mask_name).kernel.numpy()[~mask] == 0.0)


def test_an_unknown_rule_is_refused():
    from evoprune.pruned.gradual import named_rule

    with pytest.raises(ConfigError, match="unknown rule"):
        named_rule("taylor")
    with pytest.raises(ConfigError, match="needs the training images"):
        named_rule("saliency")
    with pytest.raises(ConfigError, match="at least 2 evaluations"):
        named_rule("search", np.zeros((1, 28, 28, 1)), np.zeros(1), budget=1)
