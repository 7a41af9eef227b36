"""Masks scored after their re-fit: the model `refit` gives, the same bits whatever came before, work reused."""
import numpy as np
import pytest

from conftest import random_masks
from evoprune import Problem, make_config, search
from evoprune.errors import ConfigError
from evoprune.evaluation import Context, MaskEvaluator, RefitEvaluator
from evoprune.network import models
from evoprune.network.calibration import calibration_images
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
        np.testing.assert_array_equal(ev.refitters[0].fitted.layers[s.index].kernel.numpy(),
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
    assert ev.refitters[0].solves == 3 * len(specs) - 1  # the third mask set reused the first's first layer
    again = ev.evaluate(Context.make({}, None), packed[::-1])[::-1]
    assert ev.refitters[0].solves == 3 * len(specs) - 1  # everything kept
    assert fresh == one_by_one == again


def test_the_unpruned_model_is_its_own_baseline_and_layer_contexts_merge_the_fixed_masks(setup):
    model, x, y, specs, masks = setup
    ev = RefitEvaluator(model, x, y)
    full = {s.name: np.ones(s.shape, bool) for s in specs}
    (base,) = ev.evaluate(Context.make({}, None), [genome(full, specs)])
    loss, accuracy = models.evaluate(model, x, y)
    assert base.correct == round(accuracy * len(y)) and ev.refitters[0].solves == 0
    assert base.loss == pytest.approx(loss, rel=1e-5)
    layer = specs[-1].name
    (by_layer,) = ev.evaluate(Context.make(masks[0], layer), [pack(masks[0][layer].reshape(-1))])
    (whole,) = ev.evaluate(Context.make({}, None), [genome(masks[0], specs)])
    assert by_layer == whole


def test_cross_fitted_scores_judge_each_fold_by_the_refit_solved_on_the_other_folds(setup):
    model, x, y, specs, masks = setup
    ev = RefitEvaluator(model, x, y, folds=3)
    (result,) = ev.evaluate(Context.make({}, None), [genome(masks[0], specs)])
    correct, loss = 0, 0.0
    for k in range(3):  # by hand: fold k holds images k, k + 3, k + 6, …
        held = np.arange(len(y)) % 3 == k
        fitted, _ = refit(model, masks[0], x[~held])
        fold_loss, fold_accuracy = models.evaluate(fitted, x[held], y[held])
        correct, loss = correct + round(fold_accuracy * held.sum()), loss + fold_loss * held.sum()
    assert result.correct == correct and result.images == len(y)
    assert result.loss == pytest.approx(loss / len(y), rel=1e-5)
    (in_sample,) = RefitEvaluator(model, x, y).evaluate(Context.make({}, None), [genome(masks[0], specs)])
    assert in_sample.loss < result.loss  # a re-fit judged on the images it matched flatters itself
    full = {s.name: np.ones(s.shape, bool) for s in specs}
    (base,) = ev.evaluate(Context.make({}, None), [genome(full, specs)])
    assert base.correct == round(models.evaluate(model, x, y)[1] * len(y))  # the unpruned model is not re-fitted
    with pytest.raises(ValueError, match="folds"):
        RefitEvaluator(model, x, y, folds=0)


@pytest.mark.parametrize("folds", [1, 2])
def test_shifted_calibration_refits_on_the_images_and_their_shifts_and_scores_the_images_alone(setup, folds):
    model, x, y, specs, masks = setup
    ev = RefitEvaluator(model, x, y, folds=folds, calibration="shifted")
    (result,) = ev.evaluate(Context.make({}, None), [genome(masks[0], specs)])
    held = [np.arange(len(y)) % folds == k for k in range(folds)] if folds > 1 else [np.ones(len(y), bool)]
    correct, loss = 0, 0.0
    for k, images in enumerate(held):  # by hand: each re-fit solved on its images' shifted calibration
        fit_on = x[~images] if folds > 1 else x
        fitted, report = refit(model, masks[0], calibration_images(fit_on, "shifted"))
        assert report["images"] == 5 * len(fit_on)
        for s in specs:
            np.testing.assert_array_equal(ev.refitters[k].fitted.layers[s.index].kernel.numpy(),
                                          fitted.layers[s.index].kernel.numpy())
        part_loss, part_accuracy = models.evaluate(fitted, x[images], y[images])
        correct, loss = correct + round(part_accuracy * images.sum()), loss + part_loss * images.sum()
    assert result.images == len(y) and result.correct == correct
    assert result.loss == pytest.approx(loss / len(y), rel=1e-5)
    (plain,) = RefitEvaluator(model, x, y, folds=folds).evaluate(Context.make({}, None), [genome(masks[0], specs)])
    assert plain.loss != result.loss  # the shifted copies did change the re-fit


def test_a_search_with_the_refit_in_the_loop_needs_a_refitting_problem_and_no_racing(setup):
    model, x, y, specs, _ = setup
    with pytest.raises(ConfigError, match="refit"):
        search(Problem(model, x, y), "sa", make_config(budget=5, refit="loop"))
    with pytest.raises(ConfigError, match="refit_folds must be 1"):
        Problem(model, x, y, refit_folds=2)
    with pytest.raises(ConfigError, match="refit_folds=3"):
        search(Problem(model, x, y, refit=True), "sa", make_config(budget=5, refit="loop", refit_folds=3))
    for bad in (dict(refit_folds=0, refit="loop"), dict(refit_folds=2)):
        with pytest.raises(ConfigError, match="--refit-folds"):
            make_config(budget=5, **bad).validate()
    with pytest.raises(ConfigError, match="calibration='shifted'"):
        search(Problem(model, x, y, refit=True), "sa", make_config(budget=5, refit="loop", calibration="shifted"))
    with pytest.raises(ConfigError, match="calibration must be"):
        Problem(model, x, y, refit=True, calibration="rotated")
    with pytest.raises(ConfigError, match="--calibration shifted .* needs --refit"):
        make_config(budget=5, calibration="shifted").validate()  # nothing computed from images: it would do nothing
    make_config(budget=5, calibration="shifted", importance="obs").validate()
    with pytest.raises(ConfigError, match="--calibration must be one of"):
        make_config(budget=5, refit="loop", calibration="rotated").validate()
    with pytest.raises(ConfigError, match="race"):
        make_config(budget=5, refit="loop", race=True).validate()
    with pytest.raises(ValueError, match="raced"):
        RefitEvaluator(model, x, y).evaluate(Context.make({}, None), [genome(setup[4][0], specs)], race=bool)
