"""Closed-form re-fit of the kept weights: per output unit, ridge least squares on the pruned model's own inputs."""
from __future__ import annotations

import time
from typing import Iterator, Mapping

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

from .._tf import import_keras
from ..errors import ModelError
from . import models
from .masks import check_masks

DEFAULT_RIDGE = 1e-3
"""The ridge per row: `ridge × rows × ||w||²` is added to a unit's squared error."""

DEFAULT_BATCH = 500
"""Images per forward pass; a LeNet-5 conv1 batch of 500 is 392,000 patch rows (78 MB in float64)."""


def solve_unit(gram: np.ndarray, rhs: np.ndarray, kept: np.ndarray, ridge: float,
               bias: bool = True) -> tuple[np.ndarray, float]:
    """One output unit's weights and bias by ridge least squares over its kept inputs.

    `gram` is `[X 1]ᵀ[X 1]` over the rows X (n + 1 square, the ones column last), `rhs` is
    `[X 1]ᵀ y` for the unit's target y (n + 1) and `kept` its n-input keep mask. Minimizes
    `||X_kept w + b − y||² + ridge · ||w||²` (the bias is not penalized; without `bias` there is
    none and the last row and column of `gram` are ignored), so `ridge` is in the Gram's units:
    ridge per row × rows for summed Gram matrices. Returns the n weights, exactly 0.0 where
    pruned, and the bias (0.0 without one); a unit with nothing kept gets the mean target as bias.
    """
    n = len(kept)
    idx = np.flatnonzero(kept)
    k = len(idx)
    if bias:
        idx = np.append(idx, n)
    weights = np.zeros(n)
    if len(idx) == 0:
        return weights, 0.0
    a = gram[np.ix_(idx, idx)]
    a[np.arange(k), np.arange(k)] += ridge
    try:
        theta = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), rhs[idx])
    except np.linalg.LinAlgError:  # singular without a ridge (an input that is always zero): least norm
        theta = np.linalg.lstsq(a, rhs[idx], rcond=None)[0]
    weights[idx[:k]] = theta[:k]
    return weights, float(theta[k]) if bias else 0.0


def kernel_inputs(layer, a) -> np.ndarray:
    """What `layer`'s kernel multiplies, one row per output value: (rows, kernel inputs) in float64.

    A Dense layer's inputs; a Conv2D layer's patches (channels_last input), flattened (kh, kw, cin)
    as the kernel is, at the layer's strides, padding and dilation. Numpy strided windows: three
    times faster than `tf.image.extract_patches` followed by the cast.
    """
    shape = tuple(layer.kernel.shape)
    a = np.asarray(a, np.float64)
    if len(shape) == 2:
        return a.reshape(-1, shape[0])
    strides, dilation = layer.strides, layer.dilation_rate
    spans = [(k - 1) * d + 1 for k, d in zip(shape[:2], dilation)]
    if layer.padding == "same":
        a = np.pad(a, [(0, 0), *(_same_padding(n, span, s) for n, span, s in zip(a.shape[1:3], spans, strides)),
                       (0, 0)])
    windows = sliding_window_view(a, spans, axis=(1, 2))[:, ::strides[0], ::strides[1], :, ::dilation[0],
                                                         ::dilation[1]]
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(-1, int(np.prod(shape[:-1])))


def _same_padding(size: int, span: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: the output is ceil(size / stride), the odd pixel after."""
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


class LayerGram:
    """`[X 1]ᵀ[X 1]`, `[X 1]ᵀ Y` and `Σ y²` per unit, accumulated in float64 over batches of rows."""

    def __init__(self, n_in: int, n_out: int):
        self.gram = np.zeros((n_in + 1, n_in + 1))
        self.rhs = np.zeros((n_in + 1, n_out))
        self.yy = np.zeros(n_out)

    @property
    def rows(self) -> int:
        """How many rows were added."""
        return int(self.gram[-1, -1])

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add rows `x` (rows, n_in) with targets `y` (rows, n_out)."""
        self.gram[:-1, :-1] += x.T @ x
        sums = x.sum(axis=0)
        self.gram[:-1, -1] += sums
        self.gram[-1, :-1] += sums
        self.gram[-1, -1] += len(x)
        self.rhs[:-1] += x.T @ y
        self.rhs[-1] += y.sum(axis=0)
        self.yy += np.einsum("ij,ij->j", y, y)

    def relative_error(self, weights: np.ndarray, bias: np.ndarray) -> float:
        """`||X W + b − Y||² / ||Y||²` over all units, from the accumulated sums alone."""
        theta = np.vstack([weights, bias[None, :]])
        sq = np.sum(theta * (self.gram @ theta)) - 2.0 * np.sum(theta * self.rhs) + self.yy.sum()
        return max(float(sq), 0.0) / max(float(self.yy.sum()), 1e-300)

    def solve(self, keep: np.ndarray, ridge: float, bias: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every unit's `solve_unit` with a ridge of `ridge` per row: (weights (n_in, n_out), biases (n_out))."""
        solved = [solve_unit(self.gram, self.rhs[:, j], keep[:, j], ridge * self.rows, bias)
                  for j in range(keep.shape[1])]
        return np.stack([w for w, _ in solved], axis=1), np.array([b for _, b in solved])


def _check_supported(layer) -> None:
    if type(layer).__name__ == "Conv2D" and (layer.groups != 1 or layer.data_format != "channels_last"):
        raise ModelError(f"layer {layer.name!r}: re-fit supports Conv2D with groups=1 and channels_last only")


def _pre_activation(layer, a):
    """`layer`'s output before its activation, by its own operation (its patches would cost more)."""
    ops = import_keras().ops
    y = layer.convolution_op(a, layer.kernel) if len(layer.kernel.shape) == 4 else ops.matmul(a, layer.kernel)
    return y + layer.bias if layer.use_bias else y


def _layer_inputs(model, layer, x: np.ndarray, batch_size: int) -> Iterator:
    """`layer`'s input in `model` over `x`, batch by batch (read through a sub-model, so any graph works)."""
    probe = import_keras().Model(model.inputs, layer.input)
    for i in range(0, len(x), batch_size):
        yield probe([x[i:i + batch_size]], training=False)  # a list, as the probe's inputs are


def refit(model, masks: Mapping[str, np.ndarray], x: np.ndarray, ridge: float = DEFAULT_RIDGE,
          batch_size: int = DEFAULT_BATCH) -> tuple[object, dict]:
    """A copy of `model` pruned by `masks` whose kept weights and biases are re-solved in closed form.

    Layer by layer in model order, each output unit's kept weights and bias are the ridge least
    squares fit (`solve_unit`, ridge `ridge` × rows on the weights only) of the unpruned model's
    pre-activation on its own inputs, from the inputs the copy gives the layer over the images
    `x`, its earlier layers already re-fitted and pruned, so one layer's error is not passed on
    uncorrected. No gradient step; `model` is untouched; pruned weights are exactly 0.0.

    The report: `{ridge, images, seconds, layers: [{name, rows, kept, size, error_before,
    error_after, seconds}]}`, with each layer's relative reconstruction error
    `||XW + b − Y||² / ||Y||²` on those inputs X, for the masked original weights (before) and
    the re-fitted ones (after).
    """
    specs = models.prunable_layers(model)
    masks = check_masks(masks, specs)
    for s in specs:
        _check_supported(model.layers[s.index])
    fitted = models.masked_copy(model, masks)
    layers, start = [], time.perf_counter()
    for s in specs:
        began = time.perf_counter()
        source, target = model.layers[s.index], fitted.layers[s.index]
        kernel = source.kernel.numpy().reshape(-1, s.shape[-1]).astype(np.float64)
        bias = source.bias.numpy().astype(np.float64) if source.use_bias else np.zeros(s.shape[-1])
        stats = LayerGram(*kernel.shape)
        for a_source, a_target in zip(_layer_inputs(model, source, x, batch_size),
                                      _layer_inputs(fitted, target, x, batch_size)):
            stats.add(kernel_inputs(target, a_target),
                      np.asarray(_pre_activation(source, a_source), np.float64).reshape(-1, s.shape[-1]))
        keep = masks[s.name].reshape(kernel.shape)
        weights, biases = stats.solve(keep, ridge, source.use_bias)
        target.kernel.assign(weights.reshape(s.shape).astype(target.kernel.dtype))
        if source.use_bias:
            target.bias.assign(biases.astype(target.bias.dtype))
        layers.append({"name": s.name, "rows": stats.rows, "kept": int(keep.sum()), "size": s.size,
                       "error_before": stats.relative_error(kernel * keep, bias),
                       "error_after": stats.relative_error(weights, biases),
                       "seconds": time.perf_counter() - began})
    return fitted, {"ridge": ridge, "images": len(x), "seconds": time.perf_counter() - start, "layers": layers}
