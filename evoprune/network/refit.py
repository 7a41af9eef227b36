"""Closed-form re-fit of the kept weights: per output unit, ridge least squares on the pruned model's own inputs."""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Iterator, Mapping

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view

from .._tf import import_keras
from ..errors import ModelError
from . import models
from .masks import check_masks, digest

DEFAULT_RIDGE = 1e-3
"""The ridge per row: `ridge × rows × ||w||²` is added to a unit's squared error."""

TARGET_BYTES = 1 << 30
"""Re-fits that keep work (`Refitter(keep > 0)`) keep the unpruned pre-activations if all of them fit in this."""

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


def _batches(probe, x: np.ndarray, batch_size: int) -> Iterator:
    """`probe`'s output over `x`, batch by batch."""
    for i in range(0, len(x), batch_size):
        yield probe([x[i:i + batch_size]], training=False)  # a list, as the probes' inputs are


class Refitter:
    """Closed-form re-fits of one model's kept weights on fixed images, for one mask set after another.

    Layer by layer in model order, each output unit's kept weights and bias are the ridge least
    squares fit (`solve_unit`, ridge `ridge` × rows on the weights only) of the unpruned model's
    pre-activation on its own inputs, taking the inputs the re-fitted copy gives the layer over
    the images `x`, its earlier layers already re-fitted and pruned, so one layer's error is not
    passed on uncorrected. No gradient step; `model` is untouched; pruned weights are exactly 0.0.

    A layer's re-fit depends only on its mask and the masks before it (in `prunable_layers`
    order, which is topological). With `keep` > 0 the Gram statistics of each layer's inputs are
    kept per prefix of masks, and the solved weights per prefix including the layer, for the
    `keep` most recent prefixes of each layer: a mask set that changes only late layers then
    re-solves only those. Kept or not, the same mask set gives the same weights, bit for bit.
    """

    def __init__(self, model, x: np.ndarray, ridge: float = DEFAULT_RIDGE, batch_size: int = DEFAULT_BATCH,
                 keep: int = 0):
        keras = import_keras()
        self.model, self.x, self.ridge, self.batch_size, self.keep = model, x, ridge, batch_size, keep
        self.specs = models.prunable_layers(model)
        for s in self.specs:
            _check_supported(model.layers[s.index])
        self.fitted = models.clone(model)
        self.output = keras.Model(self.fitted.inputs, self.fitted.outputs)
        self._source = [keras.Model(model.inputs, model.layers[s.index].input) for s in self.specs]
        self._inputs = [keras.Model(self.fitted.inputs, self.fitted.layers[s.index].input) for s in self.specs]
        self._grams: list[OrderedDict] = [OrderedDict() for _ in self.specs]
        self._solved: list[OrderedDict] = [OrderedDict() for _ in self.specs]
        self._kept_targets: dict[int, list] = {}
        self.solves = 0  # layers solved (not taken from what was kept)

    def fit(self, masks: Mapping[str, np.ndarray]) -> list[dict]:
        """Give `self.fitted` the re-fit of `masks` (checked). Returns, for each layer solved now (not
        taken from what was kept), {name, rows, kept, size, error_before, error_after, seconds}: the
        relative reconstruction error `||XW + b − Y||² / ||Y||²` on its inputs X for the masked
        original weights (before) and the re-fitted ones (after)."""
        masks = check_masks(masks, self.specs)
        report = []
        for i, s in enumerate(self.specs):
            began = time.perf_counter()
            target = self.fitted.layers[s.index]
            key = digest({t.name: masks[t.name] for t in self.specs[:i + 1]})
            if key in self._solved[i]:
                self._solved[i].move_to_end(key)
                weights, biases = self._solved[i][key]
            else:
                stats = self._gram(i, digest({t.name: masks[t.name] for t in self.specs[:i]}))
                keep = masks[s.name].reshape(-1, s.shape[-1])
                weights, biases = stats.solve(keep, self.ridge, target.use_bias)
                weights, biases = weights.reshape(s.shape).astype(np.float32), biases.astype(np.float32)
                self._remember(self._solved[i], key, (weights, biases))
                self.solves += 1
                source = self.model.layers[s.index]
                kernel = source.kernel.numpy().reshape(keep.shape).astype(np.float64)
                bias = source.bias.numpy().astype(np.float64) if source.use_bias else np.zeros(keep.shape[1])
                report.append({"name": s.name, "rows": stats.rows, "kept": int(keep.sum()), "size": s.size,
                               "error_before": stats.relative_error(kernel * keep, bias),
                               "error_after": stats.relative_error(weights.reshape(keep.shape), biases),
                               "seconds": time.perf_counter() - began})
            target.kernel.assign(weights)
            if target.use_bias:
                target.bias.assign(biases)
        return report

    def _gram(self, i: int, prefix: str) -> LayerGram:
        """Layer i's LayerGram over the images, its inputs from the re-fitted copy as it now is (its earlier
        layers hold the re-fit of the prefix `prefix` digests), its targets the unpruned pre-activations."""
        if prefix in self._grams[i]:
            self._grams[i].move_to_end(prefix)
            return self._grams[i][prefix]
        s = self.specs[i]
        source, target = self.model.layers[s.index], self.fitted.layers[s.index]
        stats = LayerGram(s.size // s.shape[-1], s.shape[-1])
        for y, a_target in zip(self._targets(i), _batches(self._inputs[i], self.x, self.batch_size)):
            stats.add(kernel_inputs(target, a_target), y)
        self._remember(self._grams[i], prefix, stats)
        return stats

    def _targets(self, i: int) -> Iterator[np.ndarray]:
        """The unpruned model's pre-activations of layer i, batch by batch (rows, units) in float64; kept after
        their first use when every layer's fit in TARGET_BYTES (they never change)."""
        if i in self._kept_targets:
            yield from self._kept_targets[i]
            return
        s = self.specs[i]
        source = self.model.layers[s.index]
        batches = []
        for a in _batches(self._source[i], self.x, self.batch_size):
            y = np.asarray(_pre_activation(source, a), np.float64).reshape(-1, s.shape[-1])
            batches.append(y)
            yield y
        if self.keep and self._target_bytes() <= TARGET_BYTES:
            self._kept_targets[i] = batches

    def _target_bytes(self) -> int:
        """What every layer's pre-activations over the images take in float64."""
        return sum(8 * len(self.x) * int(np.prod(self.model.layers[s.index].output.shape[1:])) for s in self.specs)

    def _remember(self, kept: OrderedDict, key: str, value) -> None:
        if self.keep:
            kept[key] = value
            while len(kept) > self.keep:
                kept.popitem(last=False)


def refit(model, masks: Mapping[str, np.ndarray], x: np.ndarray, ridge: float = DEFAULT_RIDGE,
          batch_size: int = DEFAULT_BATCH) -> tuple[object, dict]:
    """A copy of `model` pruned by `masks` whose kept weights and biases are re-solved in closed form
    on the images `x` (see `Refitter`); `model` is untouched.

    The report: `{ridge, images, seconds, layers: [{name, rows, kept, size, error_before,
    error_after, seconds}]}` (`Refitter.fit`).
    """
    start = time.perf_counter()
    refitter = Refitter(model, x, ridge, batch_size)
    layers = refitter.fit(masks)
    return refitter.fitted, {"ridge": ridge, "images": len(x), "seconds": time.perf_counter() - start,
                             "layers": layers}
