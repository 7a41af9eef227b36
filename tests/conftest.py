"""Shared fixtures: the real 5k MNIST file, small slices of it, and tiny models built once per session."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def mnist_5k_path() -> str:
    """The 5k MNIST file: $EVOPRUNE_DATA when it names a .npz, else ../shared beside the checkout."""
    env = os.environ.get("EVOPRUNE_DATA", "")
    return env if env.endswith(".npz") else str(SHARED_MNIST / "mnist-5k.npz")


@pytest.fixture(scope="session")
def mnist_path() -> str:
    return mnist_5k_path()


@pytest.fixture(scope="session")
def small_mnist(mnist_path):
    """A few hundred scaled images: (x_train, y_train, x_val, y_val, x_test, y_test)."""
    from evoprune.problem.data import Split, prepare

    d = prepare("mnist", mnist_path, Split(0, 0.2))
    return (d.x_train[:1000], d.y_train[:1000], d.x_val[:300], d.y_val[:300], d.x_test[:500], d.y_test[:500])


@pytest.fixture(scope="session")
def tiny_model(small_mnist):
    """A small Conv2D/Dense chain trained for a moment, so masks change its accuracy."""
    from evoprune._tf import import_keras
    from evoprune.network import models

    keras = import_keras()
    keras.utils.set_random_seed(1)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(4, 3, strides=2, activation="relu", name="c1"),
        L.MaxPooling2D(2, name="p1"),
        L.Flatten(name="f"),
        L.Dense(16, activation="relu", name="d1"),
        L.Dense(10, activation="softmax", name="d2"),
    ])
    x, y = small_mnist[0], small_mnist[1]
    models.compile_model(model, "adam", 0.01)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    return model


def random_masks(specs, sparsity: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {s.name: rng.random(s.shape) >= sparsity for s in specs}


# How a command-line test runs `evoprune`: here, by calling main() (the fast tier), or as its own process, as a user
# runs it (slow: a fresh interpreter imports TensorFlow again). Use as @pytest.mark.parametrize("how", HOW).
HOW = ["in-process", pytest.param("subprocess", marks=pytest.mark.slow)]


def run_evoprune(args, how: str = "subprocess", env: dict | None = None, cwd=None, timeout: float = 300):
    """`evoprune ARGS` as a subprocess.CompletedProcess. In process, stdout and stderr are what main() printed,
    `env` (a whole environment, as for subprocess.run) is os.environ meanwhile, and a usage error's SystemExit is
    its exit status."""
    import contextlib
    import io
    import subprocess
    import sys
    from unittest import mock

    if how == "subprocess":
        return subprocess.run([sys.executable, "-m", "evoprune", *args], capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=timeout)
    assert how == "in-process", how
    from evoprune.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    with mock.patch.dict(os.environ, dict(os.environ if env is None else env), clear=True):
        try:
            os.chdir(cwd or here)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main([str(a) for a in args])
                except SystemExit as e:
                    code = 0 if e.code is None else e.code
        finally:
            os.chdir(here)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


# A user's module of custom Keras classes: registered when it is imported, and only then.
CUSTOM_LAYERS = '''"""A custom layer for evoprune's tests, registered with Keras when this module is imported."""
import keras


@keras.saving.register_keras_serializable(package="evoprune_tests")
class Swish(keras.layers.Layer):
    """x * sigmoid(x): a layer without weights, between a convolution and its pooling."""

    def call(self, x):
        return x * keras.ops.sigmoid(x)
'''


@pytest.fixture(scope="session")
def custom_layers(tmp_path_factory):
    """The module's name and folder: on sys.path here (spawned workers inherit it); pass the folder as
    PYTHONPATH to other processes."""
    import sys

    folder = tmp_path_factory.mktemp("custom")
    (folder / "evoprune_custom_layers.py").write_text(CUSTOM_LAYERS)
    sys.path.insert(0, str(folder))
    yield "evoprune_custom_layers", folder
    sys.path.remove(str(folder))


@pytest.fixture(scope="session")
def custom_model(custom_layers):
    """A small untrained Conv2D/Dense chain with the custom Swish layer after its convolution."""
    import importlib

    from evoprune._tf import import_keras

    keras = import_keras()
    swish = importlib.import_module(custom_layers[0]).Swish
    keras.utils.set_random_seed(1)
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(4, 3, strides=2, name="c1"),
        swish(name="swish"),
        L.MaxPooling2D(2, name="p1"),
        L.Flatten(name="f"),
        L.Dense(10, activation="softmax", name="d1"),
    ])
