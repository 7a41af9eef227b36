"""Custom Keras classes: the modules a model needs, imported before it is loaded, and a refusal naming what is missing."""
import pytest

from evoprune.errors import ConfigError, ModelError
from evoprune.network import models
from evoprune.network.custom import import_modules, model_modules, modules_for


def test_the_modules_a_model_needs_are_those_of_its_own_classes(custom_model, custom_layers, tiny_model):
    name = custom_layers[0]
    assert model_modules(custom_model) == (name,)
    assert model_modules(tiny_model) == ()  # Keras finds its own classes
    assert modules_for(custom_model, ["json", name]) == ("json", name)  # the given ones first, each once


def test_a_module_that_cannot_be_imported_is_one_line():
    with pytest.raises(ConfigError) as e:
        import_modules(["json", "evoprune_no_such_module"])
    assert str(e.value) == ("cannot import module 'evoprune_no_such_module' "
                            "(ModuleNotFoundError: No module named 'evoprune_no_such_module')")


def test_an_unregistered_class_is_named_with_the_module_to_import(custom_model, custom_layers, tmp_path, monkeypatch):
    from evoprune._tf import import_keras

    path = str(tmp_path / "custom.keras")
    custom_model.save(path)
    with monkeypatch.context() as m:
        # As in a process that never imported the module: no class is registered under the layer's name.
        m.delitem(import_keras().saving.get_custom_objects(), "evoprune_tests>Swish")
        with pytest.raises(ModelError) as e:
            models.load_model(path)
    message = str(e.value)
    assert message.startswith(f"{path}: the model uses the custom class 'Swish'") and "\n" not in message
    assert f"--import {custom_layers[0]}" in message
    loaded = models.load_model(path, [custom_layers[0]])
    assert type(loaded.get_layer("swish")) is type(custom_model.get_layer("swish"))
