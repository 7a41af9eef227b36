"""Models: the study's LeNet-5, training, prunable-layer discovery, masking, loading and saving."""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np

from .._tf import import_keras
from ..errors import ModelError
from .custom import import_modules
from .masks import LayerSpec

PRUNABLE_TYPES = ("Dense", "Conv2D")


def build_lenet5(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10):
    """LeNet-5 exactly as the reference study: sigmoid, average pooling, 61,470 kernel weights."""
    keras = import_keras()
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(6, 5, padding="same", activation="sigmoid", name="conv1"),
            L.AveragePooling2D(2, name="pool1"),
            L.Conv2D(16, 5, padding="valid", activation="sigmoid", name="conv2"),
            L.AveragePooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(120, activation="sigmoid", name="fc1"),
            L.Dense(84, activation="sigmoid", name="fc2"),
            L.Dense(classes, activation="softmax", name="fc3"),
        ],
        name="lenet5",
    )


def build_cnn(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10):
    """The larger reference network: two ReLU convolutions with max pooling and a wide dense layer,
    1,049,120 prunable weights on 28 × 28 images (1,024,000 of them in fc1)."""
    keras = import_keras()
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(32, 3, activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(64, 3, activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(640, activation="relu", name="fc1"),
            L.Dense(classes, activation="softmax", name="fc2"),
        ],
        name="cnn1m",
    )


def build_lenet300(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10):
    """LeNet-300-100: dense layers only (ReLU), 266,200 prunable weights on 28 × 28 images."""
    keras = import_keras()
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Flatten(name="flatten"),
            L.Dense(300, activation="relu", name="fc1"),
            L.Dense(100, activation="relu", name="fc2"),
            L.Dense(classes, activation="softmax", name="fc3"),
        ],
        name="lenet300",
    )


def build_bnconv(input_shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10):
    """A small convolutional net with batch normalisation after each convolution (ReLU, max pooling): pruning a
    kernel moves the activations away from the statistics its batch normalisation learnt."""
    keras = import_keras()
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(16, 3, use_bias=False, name="conv1"),
            L.BatchNormalization(name="bn1"),
            L.ReLU(name="relu1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(32, 3, use_bias=False, name="conv2"),
            L.BatchNormalization(name="bn2"),
            L.ReLU(name="relu2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name="fc1"),
            L.Dense(classes, activation="softmax", name="fc2"),
        ],
        name="bnconv",
    )


ARCHITECTURES = {"lenet5": build_lenet5, "cnn1m": build_cnn, "lenet300": build_lenet300, "bnconv": build_bnconv}


def prunable_layers(model) -> list[LayerSpec]:
    """Every Dense and Conv2D kernel of `model`, in `model.layers` order (biases are never pruned)."""
    specs = []
    for i, layer in enumerate(model.layers):
        if type(layer).__name__ in PRUNABLE_TYPES and getattr(layer, "kernel", None) is not None:
            specs.append(LayerSpec(layer.name, i, tuple(int(d) for d in layer.kernel.shape)))
    if not specs:
        raise ModelError(f"model {model.name!r} has no prunable layers (Dense or Conv2D)")
    return specs


def skipped_layers(model) -> list[dict]:
    """The layers holding weights of which none is pruned (not Dense or Conv2D: DepthwiseConv2D, Conv1D,
    BatchNormalization, a nested model…), in `model.layers` order: name, type and weight count."""
    pruned = {s.index for s in prunable_layers(model)}
    return [{"name": layer.name, "type": type(layer).__name__, "weights": weight_count(layer)}
            for i, layer in enumerate(model.layers) if i not in pruned and layer.weights]


def weight_count(layer) -> int:
    """Every weight of a layer or model: kernels, biases and non-trainable ones (a shared layer's once)."""
    return sum(int(np.prod(w.shape)) for w in layer.weights)


def chain_layers(model) -> list | None:
    """`model.layers` if each layer feeds the next and nothing else (a linear chain), else None.

    The list is `model.layers` itself, so a layer's position in it is its LayerSpec.index; a
    functional model's InputLayer stays in it and `run_layers` passes over it.
    """
    keras = import_keras()
    layers = list(model.layers)
    if isinstance(model, keras.Sequential):
        return layers
    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:  # a subclassed model: no graph to inspect
        return None
    if len(inputs) != 1 or len(outputs) != 1:
        return None
    order, tensor = [], outputs[0]
    while True:
        op, node_index, _ = tensor._keras_history
        order.append(op)
        if isinstance(op, keras.layers.InputLayer):
            break
        args = op._inbound_nodes[node_index].arguments
        # Exactly one tensor in, no keyword arguments: calling the layer on the previous
        # output in `run_layers` is then the same call the model makes.
        if len(args.args) != 1 or args.kwargs or not isinstance(args.args[0], keras.KerasTensor):
            return None
        tensor = args.args[0]
    order.reverse()
    same = len(order) == len(layers) and all(a is b for a, b in zip(order, layers))
    return layers if same else None


def run_layers(layers: list, h):
    """Call `layers` in sequence, in inference mode (InputLayers pass their input on)."""
    keras = import_keras()
    for layer in layers:
        if not isinstance(layer, keras.layers.InputLayer):
            h = layer(h, training=False)
    return h


@dataclass
class TrainConfig:
    """How the baseline is trained; the defaults are the reference study's recipe."""

    epochs: int = 50
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    batch_size: int = 128
    seed: int = 0
    architecture: str = "lenet5"  # a key of ARCHITECTURES

    def to_dict(self) -> dict:
        return asdict(self)


OPTIMIZERS = ("sgd", "adam")


def compile_model(model, optimizer: str = "sgd", learning_rate: float = 0.1) -> None:
    """Compile with sparse categorical cross-entropy and accuracy, as the study does."""
    keras = import_keras()
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate)
    elif optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate)
    else:
        raise ModelError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and TensorFlow's generators (Keras' initializers and shuffling draw from them)."""
    import_keras().utils.set_random_seed(seed)


def train(model, x_train, y_train, x_val, y_val, config: TrainConfig, progress: bool = True):
    """Train `model` in place with `config`; returns the Keras history.

    Seed (`set_seed`) before building the model as well, or its initial weights are not reproducible.
    """
    set_seed(config.seed)
    compile_model(model, config.optimizer, config.learning_rate)
    callbacks = [_TqdmEpochs(config.epochs)] if progress else []
    return model.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
        batch_size=config.batch_size, verbose=0, callbacks=callbacks,
    )


def _TqdmEpochs(epochs: int):
    keras = import_keras()
    from .._progress import bar

    class TqdmEpochs(keras.callbacks.Callback):
        """One progress bar over the epochs, with the latest losses and accuracies."""

        def on_train_begin(self, logs=None):
            self.bar = bar(total=epochs, desc="training", unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if "loss" in k or "acc" in k}, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return TqdmEpochs()


def evaluate(model, x, y, batch_size: int = 1024) -> tuple[float, float]:
    """Loss and accuracy of `model` on (x, y) with Keras' own `evaluate` (the reference figures)."""
    if not getattr(model, "compiled", False) or model.loss is None:
        compile_model(model)
    loss, acc = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    return float(loss), float(acc)


def evaluate_masked(model, masks: Mapping[str, np.ndarray], x, y,
                    kernels: Mapping[str, np.ndarray] | None = None) -> tuple[float, float]:
    """Keras' own loss and accuracy of `model` with `masks` applied; its kernels are restored afterwards.

    `kernels` are the unmasked kernels (read from the model when not given).
    """
    kernels = kernels if kernels is not None else {n: model.get_layer(n).kernel.numpy() for n in masks}
    apply_masks(model, masks, kernels)
    try:
        return evaluate(model, x, y)
    finally:
        apply_masks(model, {k: np.ones_like(v, bool) for k, v in masks.items()}, kernels)


LEGACY_SUFFIXES = (".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# Keras' words when a model names a class or function nobody registered, then the module it was saved from.
_UNREGISTERED = re.compile(
    r"Could not locate (class|function) '([^']+)'(?:.*?Full object config: \{'module': '([^']*)')?", re.S)


def load_model(path: str, imports: Sequence[str] = ()):
    """Load a `.keras` model file (or a legacy `.h5` one), with one clear error if it is missing or not a model.

    `imports` are modules imported first: those registering the model's custom classes with Keras.
    """
    if not os.path.exists(path):
        raise ModelError(f"{path}: no such model file")
    if os.path.isdir(path) or not path.endswith((".keras", *LEGACY_SUFFIXES)):
        raise ModelError(f"{path}: not a Keras model file (expected a .keras file, or a legacy .h5 one)")
    import_modules(imports)
    keras = import_keras()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a corrupt archive; all mean the same here
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if path.endswith(LEGACY_SUFFIXES):
            raise ModelError(f"{path}: Keras cannot load this legacy HDF5 model ({reason}); convert it where it "
                             "loads: keras.models.load_model(PATH).save('model.keras')") from None
        unregistered = _UNREGISTERED.search(str(e))
        if unregistered:
            raise ModelError(f"{path}: {_unregistered(*unregistered.groups())}") from None
        raise ModelError(f"{path}: not a Keras model ({reason})") from None


def _unregistered(kind: str, name: str, module: str | None) -> str:
    """How to make Keras find a custom class or function: import the module that registers it."""
    # A function's config names no module, and a script's classes are saved as `__main__`'s.
    module = module if module not in (None, "builtins", "__main__") else "MODULE"
    return (f"the model uses the custom {kind} {name!r}, which no imported module has registered with Keras: "
            f"name the module that registers it with --import {module} (in an experiment spec: "
            f"imports = [\"{module}\"])")


def kernels(model, specs: Sequence[LayerSpec]) -> dict[str, np.ndarray]:
    """The unmasked kernels of the prunable layers."""
    return {s.name: model.layers[s.index].kernel.numpy() for s in specs}


def apply_masks(model, masks: Mapping[str, np.ndarray], original: Mapping[str, np.ndarray] | None = None) -> None:
    """Set each prunable kernel to (original kernel × mask), in place."""
    for name, mask in masks.items():
        layer = model.get_layer(name)
        base = original[name] if original is not None else layer.kernel.numpy()
        layer.kernel.assign(base * mask.astype(base.dtype))


def clone(model):
    """An independent, uncompiled copy of `model` with the same weights.

    Uncompiled, so a saved copy holds no optimizer state: `keras.models.clone_model` would
    compile the copy like the original, and Adam's moments triple a model file.
    """
    keras = import_keras()
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)  # deserializing it would compile (and build an optimizer) again
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def masked_copy(model, masks: Mapping[str, np.ndarray]):
    """An uncompiled copy of `model` with `masks` applied to its kernels."""
    copy = clone(model)
    apply_masks(copy, masks)
    return copy


def to_bytes(model) -> bytes:
    """The model as `.keras` file bytes: how it travels to workers that cannot read our files."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def from_bytes(data: bytes):
    """Inverse of `to_bytes`."""
    keras = import_keras()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return keras.models.load_model(path, compile=False)


def content_digest(model) -> str:
    """A sha256 of what a model computes: its input shape, each layer's class and config, and its weights.

    A .keras file's own checksum changes with the date saved in it, so the same weights trained
    again, or saved again, would look like another model; this digest does not.
    """
    # Layer by layer: a Sequential model's own config also holds the running number Keras gives its input layer.
    layers = [[type(layer).__name__, layer.get_config()] for layer in model.layers]
    h = hashlib.sha256(json.dumps([list(model.input_shape[1:]), layers], sort_keys=True, default=str).encode())
    for w in model.get_weights():
        h.update(f"{w.dtype}{w.shape}".encode())
        h.update(np.ascontiguousarray(w))
    return h.hexdigest()


def check_input_shape(model, x: np.ndarray) -> None:
    """Refuse images whose shape is not the model's input shape."""
    expected, got = tuple(model.input_shape[1:]), tuple(x.shape[1:])
    if expected != got:
        raise ModelError(f"the model expects inputs of shape {expected}, the data has images of shape {got}")
