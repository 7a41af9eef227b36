"""A run's report on a model with layers that are not pruned: they are named when the run starts and in summary.json,
beside a sparsity over every weight of the model."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from evoprune import Hooks, Images, make_config, prune

# dw: a 3×3 depthwise kernel, 1 channel × 2, and 2 biases; d1: (6·6·2 = 72) × 8 and 8 biases; d2: 8 × 10 and 10.
DW_WEIGHTS = 3 * 3 * 1 * 2 + 2
KERNELS = 72 * 8 + 8 * 10
ALL_WEIGHTS = DW_WEIGHTS + KERNELS + 8 + 10


@pytest.fixture(scope="module")
def dw_model():
    from evoprune._tf import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
        L.MaxPooling2D(4, name="p"),
        L.Flatten(name="f"),
        L.Dense(8, activation="relu", name="d1"),
        L.Dense(10, activation="softmax", name="d2"),
    ])


def test_the_skipped_layer_is_named_first_and_in_the_summary_beside_a_sparsity_of_every_weight(dw_model, small_mnist,
                                                                                              tmp_path):
    x_val, y_val, x_te, y_te = small_mnist[2:]
    said = []
    result = prune(dw_model, Images((x_val, y_val), (x_te, y_te)), "magnitude",
                   make_config(certify=False, sparsity=0.5), folder=str(tmp_path),
                   hooks=Hooks(progress=False, say=said.append))
    assert len(said) == 1 and said[0].startswith("not pruned (only Dense and Conv2D kernels are): "
                                                 f"dw (DepthwiseConv2D, {DW_WEIGHTS} weights);")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["skipped_layers"] == [{"name": "dw", "type": "DepthwiseConv2D", "weights": DW_WEIGHTS}]
    pruned = sum(int((~m).sum()) for m in result.masks.values())
    assert pruned == KERNELS // 2 and summary["sparsity_global"] == pruned / KERNELS
    assert summary["sparsity_all_weights"] == pruned / ALL_WEIGHTS
    with np.load(tmp_path / "masks.npz") as z:
        assert sorted(z.files) == ["d1", "d2"]  # the layers pruned are the Dense ones, as before


@pytest.mark.slow
def test_the_command_line_names_the_skipped_layer_in_its_first_line(dw_model, mnist_path, tmp_path):
    dw_model.save(tmp_path / "dw.keras")
    p = subprocess.run([sys.executable, "-m", "evoprune", "prune", "--model", str(tmp_path / "dw.keras"),
                        "--algorithm", "magnitude", "--sparsity", "0.5", "--data", mnist_path, "--out",
                        str(tmp_path / "run"), "--no-progress"], capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "EVOPRUNE_DATA"})
    assert p.returncode == 0, p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("evoprune: not pruned") and f"dw (DepthwiseConv2D, {DW_WEIGHTS} weights)" in first
    assert "sparsity_all_weights" in first
