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


def test_the_content_digest_is_the_same_for_the_model_saved_again_elsewhere_and_only_for_it(tiny_model, tmp_path):
    # issue 29: a .keras file holds the date it was saved, so the same weights saved again get another checksum
    import hashlib
    import json
    import zipfile

    first, again = tmp_path / "a" / "model.keras", tmp_path / "b" / "model.keras"
    first.parent.mkdir()
    again.parent.mkdir()
    tiny_model.save(first)
    with zipfile.ZipFile(first) as src, zipfile.ZipFile(again, "w") as dst:  # the same model, saved a day later
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "date_saved": "2031-01-02@03:04:05"}).encode()
            dst.writestr(item, data)
    checksum = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    assert checksum(first) != checksum(again)
    digest = models.content_digest(models.load_model(str(first)))
    assert models.content_digest(models.load_model(str(again))) == digest == models.content_digest(tiny_model)
    changed = models.clone(tiny_model)
    weights = changed.get_weights()
    weights[-1][0] += 1e-6
    changed.set_weights(weights)
    assert models.content_digest(changed) != digest


def test_the_layers_left_out_of_pruning_are_named_with_their_weights(tiny_model):
    from evoprune._tf import import_keras

    keras = import_keras()
    L = keras.layers
    model = keras.Sequential([keras.Input((28, 28)), L.Conv1D(3, 5, name="c1d"), L.Flatten(name="f"),
                              L.Dense(4, name="d"), L.BatchNormalization(name="bn")])
    assert [s.name for s in models.prunable_layers(model)] == ["d"]  # which layers are pruned is unchanged
    assert models.skipped_layers(model) == [{"name": "c1d", "type": "Conv1D", "weights": 5 * 28 * 3 + 3},
                                            {"name": "bn", "type": "BatchNormalization", "weights": 4 * 4}]
    assert models.weight_count(model) == 423 + 24 * 3 * 4 + 4 + 16
    assert models.skipped_layers(tiny_model) == []
