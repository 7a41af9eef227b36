"""Compressed export: every size is a file's size on disk, and the sparse encoding gives the weights back exactly."""
import gzip
import json
import os

import numpy as np

from conftest import random_masks
from evoprune.network import models
from evoprune.pruned import export


def pruned_copy(model, sparsity, seed=0):
    masks = random_masks(models.prunable_layers(model), sparsity, seed)
    pruned = models.clone(model)
    models.apply_masks(pruned, masks)
    return pruned


def test_sizes_are_the_sizes_of_the_files_written(tiny_model, tmp_path):
    pruned = pruned_copy(tiny_model, 0.9)
    sizes = export.export_sizes(tiny_model, pruned, str(tmp_path))
    for label, model in (("original", tiny_model), ("pruned", pruned)):
        path = str(tmp_path / f"{label}.weights.h5")
        models.clone(model).save_weights(path)
        assert sizes[f"{label}_weights_bytes"] == os.path.getsize(path)
        with open(path, "rb") as f:
            assert sizes[f"{label}_weights_gzip_bytes"] == len(gzip.compress(f.read(), compresslevel=9, mtime=0))
    assert sizes["pruned_sparse_bytes"] == os.path.getsize(tmp_path / "pruned.sparse.npz")
    # pruning shrinks the compressed files; the dense weights file keeps its size
    assert sizes["pruned_weights_bytes"] == sizes["original_weights_bytes"]
    assert sizes["pruned_weights_gzip_bytes"] < sizes["original_weights_gzip_bytes"]
    assert sizes["pruned_sparse_bytes"] < sizes["original_weights_bytes"] / 3
    assert "not Keras inference time" in sizes["note"]


def test_sparse_encoding_gives_the_weights_back_exactly(tiny_model, tmp_path):
    pruned = pruned_copy(tiny_model, 0.7, seed=2)
    export.save_sparse(str(tmp_path / "p.sparse.npz"), pruned)
    back = models.clone(tiny_model)
    export.load_sparse(str(tmp_path / "p.sparse.npz"), back)
    assert all(np.array_equal(a, b) for a, b in zip(pruned.get_weights(), back.get_weights()))


def test_optimizer_state_is_not_counted(tiny_model, small_mnist, tmp_path):
    trained = models.clone(tiny_model)
    models.compile_model(trained, "adam", 1e-3)
    trained.fit(small_mnist[0][:64], small_mnist[1][:64], epochs=1, verbose=0)  # builds Adam's moments
    plain = models.clone(trained)
    assert not plain.compiled
    assert export.weights_file(trained, str(tmp_path / "a.weights.h5")) == \
        export.weights_file(plain, str(tmp_path / "b.weights.h5"))


def test_prune_records_the_export_in_summary_json(tiny_model, small_mnist, tmp_path):
    from evoprune import Hooks, Images, make_config, prune

    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    prune(tiny_model, Images((x_val, y_val), (x_te, y_te)), "magnitude", make_config(certify=False, sparsity=0.9),
          folder=str(tmp_path), hooks=Hooks(progress=False))
    e = json.loads((tmp_path / "summary.json").read_text())["export"]
    assert e["pruned_sparse_bytes"] == os.path.getsize(tmp_path / "pruned.sparse.npz")
    assert e["sparse_ratio"] == e["original_weights_bytes"] / e["pruned_sparse_bytes"] > 3
