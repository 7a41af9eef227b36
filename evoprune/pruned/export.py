"""Compressed export of a pruned model: sizes measured by writing the files (Keras weights, gzip, a sparse encoding).

Unstructured sparsity shrinks files, not Keras inference time: the pruned weights are still
zeros inside dense kernels, and Keras multiplies by them as by any other weight.
"""
from __future__ import annotations

import gzip
import os
import tempfile

import numpy as np

from ..network import models
from ..results import io

NOTE = ("unstructured sparsity shrinks files, not Keras inference time: pruned weights are zeros inside dense "
        "kernels, and Keras still multiplies by them")


def weights_file(model, path: str) -> int:
    """Write `model`'s weights (no optimizer state) as a Keras `.weights.h5` file; returns its size in bytes."""
    models.clone(model).save_weights(path)  # weights only: no optimizer state
    return os.path.getsize(path)


def gzip_file(path: str) -> int:
    """Write `path`.gz (level 9, no timestamp: the same bytes every time); returns its size in bytes."""
    with open(path, "rb") as f:
        data = gzip.compress(f.read(), compresslevel=9, mtime=0)
    with open(path + ".gz", "wb") as f:
        f.write(data)
    return os.path.getsize(path + ".gz")


def sparse_arrays(model) -> dict[str, np.ndarray]:
    """Every weight of `model` by variable path: prunable kernels as `{path}:bits` (np.packbits of the
    non-zero positions, C order) and `{path}:values` (the non-zero float32 values), the rest as they are."""
    kernels = {model.layers[s.index].kernel.path for s in models.prunable_layers(model)}
    out = {}
    for w in model.weights:
        a = np.asarray(w.numpy())
        if w.path in kernels:
            nz = a.reshape(-1) != 0
            out[w.path + ":bits"] = np.packbits(nz)
            out[w.path + ":values"] = a.reshape(-1)[nz].astype(np.float32)
        else:
            out[w.path] = a
    return out


def save_sparse(path: str, model) -> int:
    """Write the sparse encoding as a compressed .npz; returns its size in bytes."""
    io.save_npz(path, sparse_arrays(model))
    return os.path.getsize(path)


def load_sparse(path: str, model) -> None:
    """Set `model`'s weights from a file written by `save_sparse` (the same architecture)."""
    with np.load(path) as z:
        for w in model.weights:
            if w.path + ":bits" in z.files:
                shape = tuple(w.shape)
                flat = np.zeros(int(np.prod(shape)), np.float32)
                flat[np.unpackbits(z[w.path + ":bits"], count=flat.size).astype(bool)] = z[w.path + ":values"]
                w.assign(flat.reshape(shape))
            else:
                w.assign(z[w.path])


def export_sizes(original, pruned, out: str | None = None, name: str = "pruned") -> dict:
    """Sizes in bytes of `original`'s and `pruned`'s weights: the Keras weights file, its gzip, and the
    pruned model's sparse encoding, each measured by writing it. With `out`, `{name}.sparse.npz` is kept there."""
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for label, model in (("original", original), (name, pruned)):
            path = os.path.join(tmp, f"{label}.weights.h5")
            sizes[f"{label}_weights_bytes"] = weights_file(model, path)
            sizes[f"{label}_weights_gzip_bytes"] = gzip_file(path)
        sparse = os.path.join(out if out is not None else tmp, f"{name}.sparse.npz")
        sizes[f"{name}_sparse_bytes"] = save_sparse(sparse, pruned)
    base = sizes["original_weights_bytes"]
    return {"model": name, **sizes,
            "gzip_ratio": base / sizes[f"{name}_weights_gzip_bytes"],
            "sparse_ratio": base / sizes[f"{name}_sparse_bytes"],
            "note": NOTE}
