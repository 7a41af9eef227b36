"""What an evaluation request carries: its result type and the fixed context it is made in (no TensorFlow here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..network.masks import LayerSpec, digest


@dataclass(frozen=True)
class EvalResult:
    """The score of one mask on the evaluation images."""

    loss: float  # mean sparse categorical cross-entropy over the evaluation images
    accuracy: float  # correct / N
    correct: int
    error: str | None = None  # set by executors when an evaluation raised; None here
    images: int = 0  # N
    # np.packbits of the N per-image 0/1 matches: what a paired comparison with another mask needs
    # (1/8 byte an image, since every scored mask is kept in the search's cache and snapshots).
    matches: bytes = b""


def per_image_result(loss: np.ndarray, matches: np.ndarray) -> EvalResult:
    """An EvalResult from the per-image losses and 0/1 matches of len(loss) images."""
    correct, n = int(np.count_nonzero(matches)), len(loss)
    # One 1-D float64 reduction of the per-example losses: the same order whatever the batch.
    return EvalResult(float(np.sum(loss.astype(np.float64))) / n, correct / n, correct, images=n,
                      matches=np.packbits(matches != 0).tobytes())


class StaleContextError(ValueError):
    """A context whose key is not the digest of the fixed masks it carries."""


@dataclass(frozen=True)
class Context:
    """What is fixed during a request: which layer's mask varies, and the masks of all other layers."""

    layer: str | None  # name of the searched prunable layer; None = candidates are whole-model genomes
    key: str  # masks.digest(all layer masks, skip=layer) of the fixed masks
    fixed: dict[str, np.ndarray]  # packed masks of every prunable layer except `layer` (empty when layer is None)

    @classmethod
    def make(cls, masks: Mapping[str, np.ndarray], layer: str | None) -> "Context":
        """The context of searching `layer` while every other layer keeps its mask in `masks`.

        With `layer` None nothing is fixed: the key is the digest of no masks.
        """
        if layer is not None and layer not in masks:
            raise ValueError(f"layer {layer!r} has no mask (masks cover {', '.join(masks)})")
        fixed = {} if layer is None else {n: np.asarray(m, bool) for n, m in masks.items() if n != layer}
        return cls(layer, digest(fixed), {n: np.packbits(m.reshape(-1)) for n, m in fixed.items()})


def verified_fixed_masks(context: Context, specs: Sequence[LayerSpec]) -> dict[str, np.ndarray]:
    """The context's fixed masks, unpacked and kernel-shaped, once its key is checked against them.

    Raises ValueError if the context does not fit the layers and StaleContextError if its
    key is not the digest of its fixed masks (a cache keyed by it would then serve wrong scores).
    """
    names = [s.name for s in specs]
    if context.layer is not None and context.layer not in names:
        raise ValueError(f"unknown layer {context.layer!r} (prunable layers: {', '.join(names)})")
    expected = [s for s in specs if s.name != context.layer] if context.layer is not None else []
    if sorted(context.fixed) != sorted(s.name for s in expected):
        raise ValueError(
            f"context for layer {context.layer!r} fixes layers {sorted(context.fixed)}, "
            f"expected {sorted(s.name for s in expected)}"
        )
    by_name = {s.name: s for s in expected}
    # Unpack in the order the sender packed (the key was computed in that order).
    masks = {name: unpack_mask(packed, by_name[name]) for name, packed in context.fixed.items()}
    if digest(masks) != context.key:
        raise StaleContextError(
            f"context key {context.key} for layer {context.layer!r} is not the digest of its fixed masks"
        )
    return masks


def unpack_mask(packed: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """A packed flat mask as a kernel-shaped boolean array, checking its length."""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if packed.size != (spec.size + 7) // 8:
        raise ValueError(
            f"packed mask of layer {spec.name!r} has {packed.size} bytes, expected {(spec.size + 7) // 8}"
        )
    return np.unpackbits(packed, count=spec.size).astype(bool).reshape(spec.shape)


def unpack_genome(packed: np.ndarray, total: int) -> np.ndarray:
    """A packed whole-model genome of `total` bits as a flat boolean array, checking its length."""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if packed.size != (total + 7) // 8:
        raise ValueError(f"packed genome has {packed.size} bytes, expected {(total + 7) // 8} for {total} weights")
    return np.unpackbits(packed, count=total).astype(bool)


def checked_images(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation images as float32 and their labels as a flat int32 array, one label per image, at least one."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).reshape(-1).astype(np.int32)
    if len(x) != len(y) or not len(y):
        raise ValueError(f"need one label per image and at least one image: got {len(x)} images, {len(y)} labels")
    return x, y
