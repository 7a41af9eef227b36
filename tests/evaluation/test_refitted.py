"""Masks scored after their re-fit: the model `refit` gives, the same bits whatever came before, work reused."""
import numpy as np
import pytest

from conftest import random_masks
from evoprune import Problem, make_config, search
from evoprune.errors import ConfigError
from evoprune.evaluation import Context, MaskEvaluator, RefitEvaluator
from evoprune.network import models
from evoprune.network.masks import pack
from evoprune.network.refit import refit


def genome(masks: dict, specs) -> np.ndarray:
    return pack(np.concatenate([masks[s.name].reshape(-1) for s in specs]))


@pytest.fixture(scope="module")
def setup(tiny_model, small_mnist):
    x, y = small_mnist[2], small_mnist[3]
    specs = models.prunable_layers(tiny_model)
    masks = [random_masks(specs, 0.6, seed=i) for i in range(3)]
    # the third shares the first's mask of the first layer: only the layers after it are solved again
    masks[2][specs[0].name] = masks[0][specs[0].name]
    return tiny_model, x, y, specs, masks


def test_a_mask_scores_as_the_model_refit_gives_scored_by_keras(setup):
    model, x, y, specs, masks = setup
    ev = RefitEvaluator(model, x, y)
    (result,) = ev.evaluate(Context.make({}, None), [genome(masks[0], specs)])
    fitted, _ = refit(model, masks[0], x)
    for s in specs:  # the evaluator's re-fitted weights are refit's, bit for bit
        np.testing.assert_array_equal(ev.refitter.fitted.layers[s.index].kernel.numpy(),
                                      fitted.layers[s.index].kernel.numpy())
    loss, accuracy = models.evaluate(fitted, x, y)
    assert result.correct == round(accuracy * len(y)) and result.images == len(y)
    assert result.loss == pytest.approx(loss, rel=1e-5)
    (plain,) = MaskEvaluator(model, x, y).evaluate(Context.make({}, None), [genome(masks[0], specs)])
    assert result.accuracy > plain.accuracy  # 60 % of a small model pruned at random: the re-fit recovers a lot


def test_scores_do_not_depend_on_what_was_scored_before_and_shared_prefixes_are_not_solved_again(setup):
    model, x, y, specs, masks = setup
    packed = [genome(m, specs) for m in masks]
    fresh = [RefitEvaluator(model, x, y).evaluate(Context.make({}, None), [p])[0] for p in packed]
    ev = RefitEvaluator(model, x, y)
    one_by_one = [ev.evaluate(Context.make({}, None), [p])[0] for p in packed]
    assert ev.refitter.solves == 3 * len(specs) - 1  # the third mask set reused the first's first layer
    again = ev.evaluate(Context.make({}, None), packed[::-1])[::-1]
    assert ev.refitter.solves == 3 * len(specs) - 1  # everything kept
    assert fresh == one_by_one == again


def test_the_unpruned_model_is_its_own_baseline_and_layer_contexts_merge_the_fixed_masks(setup):
    model, x, y, specs, masks = setup
    ev = RefitEvaluator(model, x, y)
    full = {s.name: np.ones(s.shape, bool) for s in specs}
    (base,) = ev.evaluate(Context.make({}, None), [genome(full, specs)])
    loss, accuracy = models.evaluate(model, x, y)
    assert base.correct == round(accuracy * len(y)) and ev.refitter.solves == 0
    assert base.loss == pytest.approx(loss, rel=1e-5)
    layer = specs[-1].name
    (by_layer,) = ev.evaluate(Context.make(masks[0], layer), [pack(masks[0][layer].reshape(-1))])
    (whole,) = ev.evaluate(Context.make({}, None), [genome(masks[0], specs)])
    assert by_layer == whole


def test_a_search_with_the_refit_in_the_loop_needs_a_refitting_problem(setup):
    model, x, y, specs, _ = setup
    with pytest.raises(ConfigError, match="refit"):
        search(Problem(model, x, y), "sa", make_config(budget=5, refit="loop"))
    with pytest.raises(ConfigError, match="scoring='incremental'"):
        search(Problem(model, x, y, scoring="refit"), "sa", make_config(budget=5))
    with pytest.raises(ConfigError, match="scoring must be"):
        Problem(model, x, y, scoring="refitted")
