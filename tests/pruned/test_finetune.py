"""Masked fine-tuning: pruned weights stay exactly zero, weight by weight, during and after training."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import random_masks
from evoprune.network import models
from evoprune._tf import import_keras
from evoprune.pruned.finetune import Recipe, finetune, finetune_report


def pruned_nonzero(model, masks) -> int:
    """How many pruned positions hold a non-zero weight, counted weight by weight."""
    return sum(int(np.count_nonzero(model.get_layer(n).kernel.numpy()[~m])) for n, m in masks.items())


@pytest.mark.slow  # trains
def test_pruned_weights_stay_zero_after_every_batch_and_kept_weights_train(tiny_model, small_mnist):
    keras = import_keras()
    x_tr, y_tr, x_val, y_val, _, _ = small_mnist
    model = models.clone(tiny_model)
    masks = random_masks(models.prunable_layers(model), 0.7, seed=3)
    before = {n: model.get_layer(n).kernel.numpy() * m for n, m in masks.items()}
    seen = []

    class EveryBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(pruned_nonzero(self.model, masks))

    history = finetune(model, masks, x_tr, y_tr, (x_val, y_val), epochs=2, recipe=Recipe(batch_size=64),
                       callbacks=[EveryBatch()])
    assert len(seen) == 2 * int(np.ceil(len(x_tr) / 64)) and set(seen) == {0}
    changed = 0
    for name, mask in masks.items():
        kernel = model.get_layer(name).kernel
        assert np.all(kernel.numpy()[~mask] == 0.0)                    # exactly zero, each pruned weight
        changed += np.count_nonzero(kernel.numpy()[mask] != before[name][mask])
        assert kernel.constraint is None                                # the mask is not left on the model
    assert changed > 0.5 * sum(m.sum() for m in masks.values())  # the kept weights trained (some ReLUs may be dead)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.slow  # trains
def test_report_fine_tunes_a_copy_and_improves_a_damaged_model(tiny_model, small_mnist):
    x_tr, y_tr, _, _, x_te, y_te = small_mnist
    original = [w.copy() for w in tiny_model.get_weights()]
    masks = random_masks(models.prunable_layers(tiny_model), 0.8, seed=5)
    tuned, report = finetune_report(tiny_model, masks, x_tr, y_tr, x_te, y_te, epochs=3)
    assert all(np.array_equal(a, b) for a, b in zip(original, tiny_model.get_weights()))
    assert pruned_nonzero(tuned, masks) == report["pruned_weights_nonzero"] == 0
    assert report["test_accuracy_after"] > report["test_accuracy_before"]
    assert report["sparsity_global"] == pytest.approx(1 - sum(m.sum() for m in masks.values()) /
                                                      sum(m.size for m in masks.values()))
    assert not tuned.compiled  # no optimizer state travels into finetuned.keras


@pytest.mark.slow  # trains
def test_prune_with_finetuning_writes_a_model_whose_pruned_weights_are_zero(tiny_model, small_mnist, tmp_path):
    from evoprune import Hooks, Images, make_config, prune

    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, sparsity=0.8)
    result = prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), "magnitude", config,
                   folder=str(tmp_path), hooks=Hooks(progress=False), finetune_epochs=2)
    f = json.loads((tmp_path / "summary.json").read_text())["finetune"]
    assert f["epochs"] == 2 and f["test_accuracy_before"] == pytest.approx(result.summary["final_accuracy"])
    assert f["test_accuracy_after"] > f["test_accuracy_before"]
    saved = models.load_model(str(tmp_path / "finetuned.keras"))
    assert pruned_nonzero(saved, result.masks) == 0
    assert models.evaluate(saved, x_te, y_te)[1] == pytest.approx(f["test_accuracy_after"])


@pytest.mark.slow
def test_finetune_command(tiny_model, mnist_path, tmp_path):
    from evoprune.network.masks import load_masks
    from evoprune.results import io

    tiny_model.save(tmp_path / "model.keras")
    specs = models.prunable_layers(tiny_model)
    io.save_npz(str(tmp_path / "masks.npz"), random_masks(specs, 0.8, seed=1))
    cmd = [sys.executable, "-m", "evoprune", "finetune", "--model", str(tmp_path / "model.keras"),
           "--masks", str(tmp_path / "masks.npz"), "--data", mnist_path, "--epochs", "1", "--optimizer", "sgd", "--out", str(tmp_path / "ft")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "ft" / "finetune.json").read_text())
    assert {"test_accuracy_before", "test_accuracy_after", "test_loss_before", "test_loss_after"} <= set(report)
    assert report["settings"]["optimizer"] == "sgd"
    saved = models.load_model(str(tmp_path / "ft" / "finetuned.keras"))
    assert pruned_nonzero(saved, load_masks(str(tmp_path / "masks.npz"), specs)) == 0
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--force" in again.stderr  # an existing fine-tuning is not overwritten
