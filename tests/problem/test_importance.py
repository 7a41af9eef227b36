"""Importance scores: the empirical Fisher by hand, saliency, reconstruction and thresholds."""
import numpy as np
import pytest

from evoprune.problem import importance
from evoprune.network.masks import LayerSpec


@pytest.fixture(scope="module")
def softmax_regression():
    from evoprune._tf import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax", name="d")])
    W = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.8]], np.float32)
    b = np.array([0.1, -0.2], np.float32)
    model.layers[0].set_weights([W, b])
    x = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0], [-1.0, 2.0, 0.0], [0.0, 1.0, 1.0]], np.float32)
    y = np.array([0, 1, 1, 0])
    return model, W, b, x, y


def test_empirical_fisher_is_the_mean_of_per_example_squared_gradients(softmax_regression):
    model, W, b, x, y = softmax_regression
    z = x @ W + b
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    onehot = np.eye(2)[y]
    per_example = x[:, :, None] * (p - onehot)[:, None, :]      # dL_n/dW_ij = x_i (p_j − y_j)
    by_hand = (per_example ** 2).mean(0)
    specs = [LayerSpec("d", 0, (3, 2))]
    fisher = importance.empirical_fisher_diagonal(model, specs, x, y, batch_size=3)["d"]
    np.testing.assert_allclose(fisher, by_hand, rtol=1e-5)
    # a squared batch-mean gradient is something else: opposite gradients cancel in it
    assert not np.allclose(fisher, per_example.mean(0) ** 2, rtol=0.1)
    sal = importance.saliency(model, specs, x, y)["d"]
    np.testing.assert_allclose(sal, 0.5 * W ** 2 * by_hand, rtol=1e-5)


def test_greedy_damage_lets_cancelling_weights_go_together():
    # inputs with mean 1: pruning the 0.2 weight shifts the unit by +0.2 on average, and the −1
    # weight then partly cancels that shift, so it goes next, before the +1 weight
    moments = np.ones((3, 3)) + 0.01 * np.eye(3)
    kernel = np.array([[1.0], [-1.0], [0.2]])
    score = importance.greedy_damage(kernel, moments)[:, 0]
    assert np.argsort(score).tolist() == [2, 1, 0]
    damage = lambda keep: float((kernel[~keep, 0] @ moments[np.ix_(~keep, ~keep)] @ kernel[~keep, 0]))
    chosen = importance.layer_uniform_masks({"k": score}, 2 / 3)["k"]
    assert chosen.tolist() == [True, False, False]
    assert damage(chosen) < damage(np.array([False, True, False]))   # beats pruning the +1 weight instead


def test_thresholds_prune_the_lowest_scores():
    scores = {"a": np.array([0.1, 0.9, 0.5]), "b": np.array([0.2, 0.3, 0.8, 0.05])}
    g = importance.global_threshold_masks(scores, 3 / 7)
    assert g["a"].tolist() == [False, True, True] and g["b"].tolist() == [False, True, True, False]
    u = importance.layer_uniform_masks(scores, 0.5)
    assert (~u["a"]).sum() == 2 and (~u["b"]).sum() == 2


def tiny_sigmoid_chain():
    """A seeded Dense 6 → 5 (sigmoid) → 3 model (30 + 15 weights), its prunable layers and 200 inputs."""
    from evoprune._tf import import_keras
    from evoprune.network import models

    keras = import_keras()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="sigmoid", name="a"),
                              keras.layers.Dense(3, name="b")])
    x = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    return model, models.prunable_layers(model), x


def test_refitted_scores_replay_iterative_magnitude_pruning_with_the_refit():
    from evoprune.network import models
    from evoprune.network.masks import flatten
    from evoprune.network.refit import refit

    model, specs, x = tiny_sigmoid_chain()
    scores = importance.refitted(model, specs, x, schedule=[0.4, 0.6])
    flat = flatten(scores, specs)
    np.testing.assert_array_equal(np.sort(flat), (np.arange(45) + 1.0) / 45)  # one place per weight
    # the first step: plain global magnitude, 18 of 45
    first = importance.global_threshold_masks(scores, 0.4)
    np.testing.assert_array_equal(flatten(first, specs),
                                  flatten(importance.global_threshold_masks(importance.magnitude(model, specs), 0.4),
                                          specs))
    # the second: 9 more, the smallest of the kept weights re-fitted for the first step's masks
    fitted, _ = refit(model, first, x)
    refitted = np.abs(flatten(models.kernels(fitted, specs), specs))
    kept = flatten(first, specs)
    going = np.flatnonzero(kept)[np.argsort(refitted[kept], kind="stable")[:9]]
    expected = kept.copy()
    expected[going] = False
    np.testing.assert_array_equal(flatten(importance.global_threshold_masks(scores, 0.6), specs), expected)
    # this is not one-shot magnitude at 60 %: the re-fit changed the order
    assert not np.array_equal(expected, flatten(importance.global_threshold_masks(
        importance.magnitude(model, specs), 0.6), specs))


def test_obs_scores_replay_pruning_by_the_removal_costs_of_each_refit():
    from evoprune.network.masks import flatten
    from evoprune.network.refit import Refitter

    model, specs, x = tiny_sigmoid_chain()
    scores = importance.obs(model, specs, x, schedule=[0.4, 0.6, 0.8])
    # the first step is plain global magnitude, as refitted's
    first = importance.global_threshold_masks(scores, 0.4)
    np.testing.assert_array_equal(flatten(first, specs),
                                  flatten(importance.global_threshold_masks(importance.magnitude(model, specs), 0.4),
                                          specs))
    # each next one: the kept weights whose removal the previous step's re-fit says costs least
    refitter = Refitter(model, x)
    previous = first
    for sparsity, more in ((0.6, 9), (0.8, 9)):
        refitter.fit(previous, report=False)
        costs, kept = flatten(refitter.removal_costs(), specs), flatten(previous, specs)
        going = np.flatnonzero(kept)[np.argsort(costs[kept], kind="stable")[:more]]
        expected = kept.copy()
        expected[going] = False
        np.testing.assert_array_equal(flatten(importance.global_threshold_masks(scores, sparsity), specs), expected)
        previous = importance.global_threshold_masks(scores, sparsity)
    # not the re-fitted magnitudes' order
    assert not np.array_equal(flatten(importance.global_threshold_masks(scores, 0.8), specs), flatten(
        importance.global_threshold_masks(importance.refitted(model, specs, x, schedule=[0.4, 0.6, 0.8]), 0.8), specs))


def test_refit_schedule_shrinks_the_kept_share_step_by_step():
    steps = importance.refit_schedule(0.5, 0.5, 0.9)
    np.testing.assert_allclose(steps, [0.5, 0.75, 0.875])
    with pytest.raises(ValueError):
        importance.refit_schedule(0.5, 1.0, 0.9)

