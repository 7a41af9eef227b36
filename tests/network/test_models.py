"""LeNet-5 as the study describes it, and prunable-layer discovery on any Keras model."""
import numpy as np
import pytest

from evoprune.network import models
from evoprune.errors import ModelError


def test_lenet5_is_the_studys():
    model = models.build_lenet5()
    assert len(model.layers) == 8 and model.output_shape == (None, 10)
    specs = models.prunable_layers(model)
    assert [s.index for s in specs] == [0, 2, 5, 6, 7]
    assert [s.size for s in specs] == [150, 2400, 48000, 10080, 840]
    assert sum(s.size for s in specs) == 61470
    assert model.layers[0].padding == "same" and model.layers[2].padding == "valid"
    assert [type(layer).__name__ for layer in model.layers[1:5:2]] == ["AveragePooling2D"] * 2
    assert all(layer.activation.__name__ == "sigmoid" for layer in model.layers if hasattr(layer, "activation")
               and layer.name != "fc3")


def test_prunable_layers_of_another_model(tiny_model):
    specs = models.prunable_layers(tiny_model)
    assert [(s.name, s.index, s.shape) for s in specs] == [
        ("c1", 0, (3, 3, 1, 4)), ("d1", 3, (144, 16)), ("d2", 4, (16, 10))]


def test_a_model_without_kernels_is_refused():
    from evoprune._tf import import_keras

    keras = import_keras()
    with pytest.raises(ModelError, match="no prunable layers"):
        models.prunable_layers(keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.1)]))


def test_apply_masks_zeroes_exactly_the_masked_weights(tiny_model):
    model = models.clone(tiny_model)
    specs = models.prunable_layers(model)
    original = models.kernels(model, specs)
    masks = {s.name: np.random.default_rng(0).random(s.shape) > 0.5 for s in specs}
    models.apply_masks(model, masks, original)
    for s in specs:
        k = model.layers[s.index].kernel.numpy()
        assert np.all(k[~masks[s.name]] == 0) and np.array_equal(k[masks[s.name]], original[s.name][masks[s.name]])
