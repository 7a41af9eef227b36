"""Closed-form re-fit: the same least-squares solutions as by hand, pruned weights exactly zero, any graph."""
import numpy as np
import pytest

from conftest import random_masks
from evoprune._tf import import_keras, import_tensorflow
from evoprune.network import models
from evoprune.network.refit import Refitter, kernel_inputs, refit, removal_costs, solve_unit


def ridge_lstsq(x: np.ndarray, y: np.ndarray, ridge_total: float, bias: bool) -> tuple[np.ndarray, float]:
    """min ||x w + b − y||² + ridge_total·||w||² as an ordinary least-squares problem: ridge rows appended."""
    n, k = x.shape
    a = np.hstack([x, np.ones((n, 1))]) if bias else x
    penalty = np.sqrt(ridge_total) * np.eye(k, a.shape[1])  # no penalty row for the bias column
    theta = np.linalg.lstsq(np.vstack([a, penalty]), np.concatenate([y, np.zeros(k)]), rcond=None)[0]
    return theta[:k], float(theta[k]) if bias else 0.0


def augmented_gram(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.hstack([x, np.ones((len(x), 1))])
    return a.T @ a, a.T @ y


def test_solve_unit_is_ridge_least_squares_over_the_kept_inputs():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 6)) + 0.5, rng.normal(size=200)
    gram, rhs = augmented_gram(x, y)
    kept = np.array([True, False, True, True, False, True])
    for bias in (True, False):
        w, b = solve_unit(gram, rhs, kept, 3.0, bias)
        w_hand, b_hand = ridge_lstsq(x[:, kept], y, 3.0, bias)
        np.testing.assert_allclose(w[kept], w_hand, rtol=1e-10)
        assert np.all(w[~kept] == 0.0) and b == pytest.approx(b_hand, rel=1e-10)
    w, b = solve_unit(gram, rhs, np.zeros(6, bool), 3.0)
    assert np.all(w == 0.0) and b == pytest.approx(y.mean())  # nothing kept: the bias takes the mean target


def test_removal_costs_are_what_pruning_each_weight_and_solving_again_costs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6)) + 0.5
    y = x @ np.array([1.0, 0.5, -2.0, 0.3, 0.0, 1.5]) + rng.normal(size=200)
    gram, rhs = augmented_gram(x, y)
    kept = np.array([True, False, True, True, False, True])

    def objective(w, b):  # what solve_unit minimizes
        return float(np.sum((x @ w + b - y) ** 2) + 3.0 * np.sum(w ** 2))

    for bias in (True, False):
        w, b = solve_unit(gram, rhs, kept, 3.0, bias)
        costs = removal_costs(gram, np.append(w, b), kept, 3.0, bias)
        assert np.all(costs[~kept] == 0.0)
        for q in np.flatnonzero(kept):
            without = kept.copy()
            without[q] = False
            rise = objective(*solve_unit(gram, rhs, without, 3.0, bias)) - objective(w, b)
            assert rise > 0.0 and costs[q] == pytest.approx(rise, rel=1e-8)


def dense_chain(seed: int = 0):
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu", name="d1"),
                             keras.layers.Dense(4, use_bias=False, name="d2")])


def test_dense_refit_equals_least_squares_solved_by_hand():
    model = dense_chain()
    x = np.random.default_rng(1).normal(size=(300, 8)).astype("float32")
    masks = random_masks(models.prunable_layers(model), 0.5, seed=2)
    masks["d1"][:, 0] = False  # a unit with nothing kept
    ridge = 0.01
    fitted, report = refit(model, masks, x, ridge=ridge, batch_size=128)

    w1, b1 = (v.astype(np.float64) for v in model.get_layer("d1").get_weights())
    w2 = model.get_layer("d2").kernel.numpy().astype(np.float64)
    x64 = x.astype(np.float64)
    h_new = np.maximum(x64 @ fitted.get_layer("d1").kernel.numpy() + fitted.get_layer("d1").bias.numpy(), 0)
    # d1 fits the original pre-activation from the images; d2 from d1's re-fitted output, to the original's
    cases = [("d1", x64, x64 @ w1 + b1, True), ("d2", h_new, np.maximum(x64 @ w1 + b1, 0) @ w2, False)]
    for name, inputs, target, bias in cases:
        layer = fitted.get_layer(name)
        for j in range(target.shape[1]):
            kept = masks[name][:, j]
            w_hand, b_hand = ridge_lstsq(inputs[:, kept], target[:, j], ridge * len(x), bias)
            np.testing.assert_allclose(layer.kernel.numpy()[kept, j], w_hand, rtol=1e-4, atol=1e-5)
            assert np.all(layer.kernel.numpy()[~kept, j] == 0.0)
            if bias:
                assert layer.bias.numpy()[j] == pytest.approx(b_hand, rel=1e-4, abs=1e-5)
    assert [r["name"] for r in report["layers"]] == ["d1", "d2"]
    assert all(r["error_after"] <= r["error_before"] and r["rows"] == len(x) for r in report["layers"])


CONV_SETTINGS = [
    {"strides": 2, "padding": "same"},
    {"strides": (1, 2), "padding": "valid"},
    {"strides": 1, "padding": "valid", "dilation_rate": 2},
    {"strides": 1, "padding": "same", "dilation_rate": (2, 1)},
]


def conv_model(seed: int = 0, **settings):
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((9, 10, 2)), keras.layers.Conv2D(3, 3, name="c", **settings)])


def tf_patches(layer, x: np.ndarray) -> np.ndarray:
    """TensorFlow's own patch extraction, independent of `kernel_inputs`."""
    tf = import_tensorflow()
    p = tf.image.extract_patches(x, [1, *layer.kernel.shape[:2], 1], [1, *layer.strides, 1],
                                 [1, *layer.dilation_rate, 1], layer.padding.upper())
    return p.numpy().reshape(-1, p.shape[-1]).astype(np.float64)


@pytest.mark.parametrize("settings", CONV_SETTINGS, ids=str)
def test_kernel_inputs_are_the_patches_the_convolution_multiplies(settings):
    model = conv_model(**settings)
    layer = model.get_layer("c")
    x = np.random.default_rng(3).normal(size=(4, 9, 10, 2)).astype("float32")
    rows = kernel_inputs(layer, x)
    np.testing.assert_array_equal(rows, tf_patches(layer, x))
    w, b = layer.get_weights()
    out = model(x).numpy()
    np.testing.assert_allclose(rows @ w.reshape(-1, 3) + b, out.reshape(-1, 3), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("settings", CONV_SETTINGS, ids=str)
def test_conv_refit_equals_least_squares_on_explicit_patches(settings):
    model = conv_model(**settings)
    x = np.random.default_rng(4).random((40, 9, 10, 2)).astype("float32")
    masks = random_masks(models.prunable_layers(model), 0.6, seed=5)
    ridge = 1e-3
    fitted, report = refit(model, masks, x, ridge=ridge, batch_size=16)
    layer = model.get_layer("c")
    patches = tf_patches(layer, x)
    w, b = (v.astype(np.float64) for v in layer.get_weights())
    target = patches @ w.reshape(-1, 3) + b
    keep = masks["c"].reshape(-1, 3)
    fitted_w = fitted.get_layer("c").kernel.numpy().reshape(-1, 3)
    for j in range(3):
        w_hand, b_hand = ridge_lstsq(patches[:, keep[:, j]], target[:, j], ridge * len(patches), True)
        np.testing.assert_allclose(fitted_w[keep[:, j], j], w_hand, rtol=1e-4, atol=1e-5)
        assert fitted.get_layer("c").bias.numpy()[j] == pytest.approx(b_hand, rel=1e-4, abs=1e-5)
    assert np.all(fitted_w[~keep] == 0.0)
    assert report["layers"][0]["rows"] == len(patches)


@pytest.fixture(scope="module")
def refitted_tiny(tiny_model, small_mnist):
    masks = random_masks(models.prunable_layers(tiny_model), 0.8, seed=6)
    weights = [w.copy() for w in tiny_model.get_weights()]
    fitted, report = refit(tiny_model, masks, small_mnist[0][:400])
    return masks, weights, fitted, report


def test_pruned_weights_are_exactly_zero_after_refit(refitted_tiny):
    masks, _, fitted, report = refitted_tiny
    for name, mask in masks.items():
        assert np.all(fitted.get_layer(name).kernel.numpy()[~mask] == 0.0)
    assert [r["kept"] for r in report["layers"]] == [int(m.sum()) for m in masks.values()]
    assert all(r["error_after"] < r["error_before"] for r in report["layers"])


def test_refit_never_touches_the_original_model(refitted_tiny, tiny_model):
    _, weights, fitted, _ = refitted_tiny
    assert fitted is not tiny_model
    assert all(np.array_equal(a, b) for a, b in zip(weights, tiny_model.get_weights()))


def test_a_saved_refitted_model_scores_what_it_scored(refitted_tiny, small_mnist, tmp_path):
    _, _, fitted, _ = refitted_tiny
    x_te, y_te = small_mnist[4], small_mnist[5]
    fitted.save(tmp_path / "refitted.keras")
    loaded = models.load_model(str(tmp_path / "refitted.keras"))
    assert models.evaluate(loaded, x_te, y_te) == pytest.approx(models.evaluate(fitted, x_te, y_te))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), fitted.get_weights()))


def branching_model():
    """A functional model whose trunk feeds two branches, a Conv2D and a pooled Dense, joined before the head."""
    keras = import_keras()
    keras.utils.set_random_seed(7)
    L = keras.layers
    inputs = keras.Input((28, 28, 1))
    trunk = L.Conv2D(4, 3, strides=2, activation="relu", name="trunk")(inputs)
    left = L.Flatten()(L.Conv2D(3, 3, padding="same", activation="relu", name="left")(trunk))
    right = L.Dense(8, activation="relu", name="right")(L.Flatten()(L.MaxPooling2D(2)(trunk)))
    outputs = L.Dense(10, activation="softmax", name="head")(L.Concatenate()([left, right]))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("branching", [False, True], ids=["chain", "branching"])
def test_predict_runs_the_refitted_copy_on_other_images(branching, tiny_model, small_mnist):
    model = branching_model() if branching else tiny_model
    refitter = Refitter(model, small_mnist[0][:200])
    refitter.fit(random_masks(models.prunable_layers(model), 0.7, seed=8), report=False)
    other = small_mnist[0][200:260]
    np.testing.assert_allclose(refitter.predict(other), np.asarray(refitter.fitted(other, training=False)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(refitter.predict(small_mnist[0][:200]), refitter.outputs())
    # the first rows alone (the images before their calibration copies): the same outputs
    np.testing.assert_allclose(refitter.outputs(120), refitter.outputs()[:120], rtol=1e-6, atol=1e-7)
    assert refitter.outputs(120).shape == (120, 10)
    assert not np.allclose(refitter.predict(other), np.asarray(model(other, training=False)), atol=1e-3)


def test_a_branching_functional_model_refits_and_its_errors_do_not_grow(small_mnist):
    model = branching_model()
    masks = random_masks(models.prunable_layers(model), 0.7, seed=8)
    fitted, report = refit(model, masks, small_mnist[0][:200])
    assert [r["name"] for r in report["layers"]] == ["trunk", "left", "right", "head"]
    assert all(r["error_after"] <= r["error_before"] for r in report["layers"])
    for name, mask in masks.items():
        assert np.all(fitted.get_layer(name).kernel.numpy()[~mask] == 0.0)
