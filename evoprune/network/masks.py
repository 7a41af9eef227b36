"""Per-layer pruning masks: layer specs, sparsity measures, packing and the masks.npz file."""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import EvopruneError

Masks = dict[str, np.ndarray]
"""One boolean array per prunable layer (True = keep), shaped like its kernel, in model order."""

WHOLE = "all"
"""The name of the pseudo-layer a whole-model search searches: every prunable layer's mask in one genome."""


@dataclass(frozen=True)
class LayerSpec:
    """A prunable layer: its name, its index in `model.layers` and its kernel's shape."""

    name: str
    index: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict:
        return {"name": self.name, "index": self.index, "shape": list(self.shape), "size": self.size}

    @classmethod
    def from_dict(cls, d: Mapping) -> "LayerSpec":
        return cls(str(d["name"]), int(d["index"]), tuple(int(s) for s in d["shape"]))


def full_masks(specs: Sequence[LayerSpec]) -> Masks:
    """Masks that keep every weight."""
    return {s.name: np.ones(s.shape, dtype=bool) for s in specs}


def layer_sparsity(mask: np.ndarray) -> float:
    """Fraction of a layer's weights that are pruned."""
    return 1.0 - float(np.count_nonzero(mask)) / mask.size


def sparsity_layer_mean(masks: Mapping[str, np.ndarray]) -> float:
    """The study's sparsity: the mean over layers of each layer's pruned fraction."""
    return float(np.mean([layer_sparsity(m) for m in masks.values()]))


def sparsity_global(masks: Mapping[str, np.ndarray]) -> float:
    """Fraction of all prunable weights that are pruned."""
    total = sum(m.size for m in masks.values())
    kept = sum(int(np.count_nonzero(m)) for m in masks.values())
    return 1.0 - kept / total


def flatten(arrays: Mapping[str, np.ndarray], specs: Sequence[LayerSpec]) -> np.ndarray:
    """A whole-model genome's layout: per-layer arrays (masks or scores) flattened and concatenated in `specs` order."""
    return np.concatenate([np.asarray(arrays[s.name]).reshape(-1) for s in specs])


def split(genome: np.ndarray, specs: Sequence[LayerSpec]) -> Masks:
    """Inverse of `flatten`: each layer's slice of a whole-model genome, shaped like its kernel."""
    out, at = {}, 0
    for s in specs:
        out[s.name] = genome[at: at + s.size].reshape(s.shape)
        at += s.size
    return out


def pack(bits) -> np.ndarray:
    """Pack a flat 0/1 sequence (a DEAP bit list or an array) into bytes for transport."""
    return np.packbits(np.asarray(bits, dtype=np.uint8))


def unpack(packed: np.ndarray, size: int) -> np.ndarray:
    """Inverse of `pack`: a flat boolean array of `size` bits."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=size).astype(bool)


def digest(masks: Mapping[str, np.ndarray], skip: str | None = None) -> str:
    """A short hash of the masks (all layers but `skip`), used as a cache key."""
    h = hashlib.sha1()
    for name, m in masks.items():
        if name == skip:
            continue
        h.update(name.encode())
        h.update(np.packbits(m.reshape(-1)).tobytes())
    return h.hexdigest()[:16]


def check_masks(masks: Mapping[str, np.ndarray], specs: Sequence[LayerSpec]) -> Masks:
    """Return `masks` as boolean arrays in model order, or raise if they do not fit the layers."""
    names = [s.name for s in specs]
    if sorted(masks) != sorted(names):
        missing = sorted(set(names) - set(masks))
        extra = sorted(set(masks) - set(names))
        raise EvopruneError(
            f"masks do not fit the model: missing layers {missing}, unknown layers {extra}"
        )
    out: Masks = {}
    for s in specs:
        m = np.asarray(masks[s.name])
        if m.shape != s.shape:
            raise EvopruneError(
                f"masks do not fit the model: layer {s.name!r} has kernel shape {s.shape}, mask shape {m.shape}"
            )
        if m.dtype != bool and not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
            raise EvopruneError(f"masks do not fit the model: layer {s.name!r} holds values other than 0/1 "
                                f"(dtype {m.dtype})")
        out[s.name] = m.astype(bool)
    return out


def read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of a masks .npz file, with one clear error for anything else (never pickled data)."""
    if not os.path.exists(path):
        raise EvopruneError(f"{path}: no such masks file")
    if not zipfile.is_zipfile(path):
        raise EvopruneError(f"{path}: not a masks file (expected the masks.npz of `evoprune prune`, a zip of "
                            "numpy arrays)")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise EvopruneError(f"{path}: not a readable masks .npz file ({e})") from None


def load_masks(path: str, specs: Sequence[LayerSpec]) -> Masks:
    """Read a masks.npz file and check it against the model's prunable layers."""
    return check_masks(read_npz(path), specs)
