"""Closed-form re-fit of the kept weights: per output unit, ridge least squares on the pruned model's own inputs."""
from __future__ import annotations

import time
from collections import OrderedDict
from functools import partial
from typing import Iterator, Mapping

import numpy as np
import scipy.linalg
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import ThreadpoolController

from .._tf import import_keras, import_tensorflow
from ..errors import ModelError
from . import models
from .masks import check_masks, digest

DEFAULT_RIDGE = 1e-3
"""The ridge per row: `ridge × rows × ||w||²` is added to a unit's squared error."""

TARGET_BYTES = 1 << 30
"""Re-fits that keep work (`Refitter(keep > 0)`) keep each layer's unpruned pre-activations while all they keep fits
in this (a big model's wide early layers are computed again when needed; its later, narrower ones are kept)."""

ACTIVATION_BYTES = 1 << 30
"""What the re-fitted copy's kept activations may take in all; an activation larger than its share
(this over the entries kept per bound) is computed anew when needed."""

DEFAULT_BATCH = 500
"""Images per forward pass; a LeNet-5 conv1 batch of 500 is 392,000 patch rows (78 MB in float64)."""


def _kept_system(gram: np.ndarray, kept: np.ndarray, ridge: float, bias: bool) -> tuple[np.ndarray, int, np.ndarray]:
    """A unit's least squares over its kept inputs: their indices in `gram` (then the bias's, the last, with
    `bias`), how many are weights (k), and `gram` over them with `ridge` added on the weights' diagonal."""
    idx = np.flatnonzero(kept)
    k = len(idx)
    if bias:
        idx = np.append(idx, len(kept))
    a = gram[np.ix_(idx, idx)]
    a[np.arange(k), np.arange(k)] += ridge
    return idx, k, a


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
    idx, k, a = _kept_system(gram, kept, ridge, bias)
    weights = np.zeros(len(kept))
    if len(idx) == 0:
        return weights, 0.0
    try:
        theta = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), rhs[idx])
    except np.linalg.LinAlgError:  # singular without a ridge (an input that is always zero): least norm
        theta = np.linalg.lstsq(a, rhs[idx], rcond=None)[0]
    weights[idx[:k]] = theta[:k]
    return weights, float(theta[k]) if bias else 0.0


def removal_costs(gram: np.ndarray, theta: np.ndarray, kept: np.ndarray, ridge: float,
                  bias: bool = True) -> np.ndarray:
    """For one unit solved by `solve_unit` (its n weights then its bias in `theta`), how much its objective
    `||X_kept w + b − y||² + ridge · ||w||²` rises if one kept weight alone is pruned and the unit's other kept
    weights and bias are re-solved: `w_q² / [A⁻¹]_qq`, A the ridged Gram over its kept inputs (and the bias) —
    Optimal Brain Surgeon's saliency, exact for this quadratic objective. Returns n costs, 0.0 where pruned."""
    idx, k, a = _kept_system(gram, kept, ridge, bias)
    costs = np.zeros(len(kept))
    if k == 0:
        return costs
    inverse_diagonal = np.diag(scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), np.eye(len(idx))))[:k]
    costs[idx[:k]] = theta[idx[:k]] ** 2 / inverse_diagonal
    return costs


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

    def removal_costs(self, keep: np.ndarray, weights: np.ndarray, biases: np.ndarray, ridge: float,
                      bias: bool) -> np.ndarray:
        """Every unit's `removal_costs` for its solved weights (n_in, n_out) and biases, ridge `ridge` per row,
        over the unit's target energy `Σ y²` (so that units and layers of any scale compare): (n_in, n_out)."""
        theta = np.vstack([weights, biases[None, :]])
        return np.stack([removal_costs(self.gram, theta[:, j], keep[:, j], ridge * self.rows, bias)
                         / max(float(self.yy[j]), 1e-300) for j in range(keep.shape[1])], axis=1)


def _check_supported(layer) -> None:
    if type(layer).__name__ == "Conv2D" and (layer.groups != 1 or layer.data_format != "channels_last"):
        raise ModelError(f"layer {layer.name!r}: re-fit supports Conv2D with groups=1 and channels_last only")


def _pre_activation(layer, a):
    """`layer`'s output before its activation, by its own operation (its patches would cost more)."""
    ops = import_keras().ops
    y = layer.convolution_op(a, layer.kernel) if len(layer.kernel.shape) == 4 else ops.matmul(a, layer.kernel)
    return y + layer.bias if layer.use_bias else y


def _probe(probe, a):
    """A sub-model's output for one batch of the model's (single) input."""
    return probe(a, training=False)


def _probe_pre_activation(probe, layer, a):
    """`layer`'s pre-activation for one batch of the model's inputs, `probe` giving what enters it."""
    return _pre_activation(layer, _probe(probe, a))


def _compiled(fn, shape: tuple):
    """`fn` over one batch (None, *shape) of float32 inputs as a compiled graph: one trace, no Keras per-layer
    Python on every call (the eager forward was most of a re-fit's time)."""
    tf = import_tensorflow()
    return tf.function(fn, input_signature=[tf.TensorSpec((None, *shape), tf.float32)], autograph=False)


def _over_batches(fn, x: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """`fn`'s output over `x`, batch by batch, as numpy arrays."""
    for i in range(0, len(x), batch_size):
        yield np.asarray(fn(x[i:i + batch_size]))


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
        self._chain = models.chain_layers(self.fitted)
        self._steps = self._compile_steps()
        self._targets_of = [_compiled(partial(_probe_pre_activation,
                                              keras.Model(model.inputs, model.layers[s.index].input),
                                              model.layers[s.index]), x.shape[1:]) for s in self.specs]
        self._grams: list[OrderedDict] = [OrderedDict() for _ in self.specs]
        self._solved: list[OrderedDict] = [OrderedDict() for _ in self.specs]
        self._acts: list[OrderedDict] = [OrderedDict() for _ in range(len(self.specs) + 1)]
        self._keys: list[str] = []  # the digests of the last fitted mask set's prefixes, of 0 to all layers
        self._kept_targets: dict[int, list] = {}
        self._masks: dict = {}  # the last fitted mask set
        self.solves = 0  # layers solved (not taken from what was kept)
        self._blas = ThreadpoolController()

    def _compile_steps(self) -> list:
        """Step i gives the re-fitted copy's activations entering bound i, the prunable layer `specs[i]` or, for
        i = len(specs), the output. On a chain it runs the layers between bound i − 1 and bound i on what entered
        bound i − 1 (the images for i = 0; None when nothing runs before the first prunable layer), so a prefix
        of masks already seen starts where it ended; on other graphs, the copy from the images."""
        keras = import_keras()
        if self._chain is None:
            ends = [self.fitted.layers[s.index].input for s in self.specs] + [self.fitted.output]
            return [_compiled(partial(_probe, keras.Model(self.fitted.inputs, end)), self.x.shape[1:]) for end in ends]
        bounds = [0] + [s.index for s in self.specs] + [len(self._chain)]
        steps = []
        for begin, end in zip(bounds, bounds[1:]):
            layers = [layer for layer in self._chain[begin:end] if not isinstance(layer, keras.layers.InputLayer)]
            shape = self.x.shape[1:] if begin == 0 else tuple(self._chain[begin].input.shape[1:])
            steps.append(_compiled(partial(models.run_layers, layers), shape) if layers else None)
        return steps

    def fit(self, masks: Mapping[str, np.ndarray], report: bool = True) -> list[dict]:
        """Give `self.fitted` the re-fit of `masks` (checked). With `report`, returns for each layer solved now
        (not taken from what was kept) {name, rows, kept, size, error_before, error_after, seconds}: the
        relative reconstruction error `||XW + b − Y||² / ||Y||²` on its inputs X for the masked
        original weights (before) and the re-fitted ones (after); without (a search's hot path: two
        products with each Gram matrix spared), an empty list."""
        masks = check_masks(masks, self.specs)
        self._masks = masks
        # One BLAS thread: a unit's factorization is small, and threads that wait for a busy core (another
        # worker's, TensorFlow's) made them 20x slower; and the bits then do not depend on the thread count.
        with self._blas.limit(limits=1, user_api="blas"):
            return self._fit(masks, report)

    def _fit(self, masks: dict, report: bool) -> list[dict]:
        """`fit` for checked masks."""
        self._keys = [digest({t.name: masks[t.name] for t in self.specs[:i]}) for i in range(len(self.specs) + 1)]
        layers = []
        for i, s in enumerate(self.specs):
            began = time.perf_counter()
            target = self.fitted.layers[s.index]
            key = self._keys[i + 1]
            if key in self._solved[i]:
                self._solved[i].move_to_end(key)
                weights, biases = self._solved[i][key]
            else:
                stats = self._gram(i)
                keep = masks[s.name].reshape(-1, s.shape[-1])
                weights, biases = stats.solve(keep, self.ridge, target.use_bias)
                weights, biases = weights.reshape(s.shape).astype(np.float32), biases.astype(np.float32)
                _remember(self._solved[i], key, (weights, biases), self.keep)
                self.solves += 1
                if report:
                    source = self.model.layers[s.index]
                    kernel = source.kernel.numpy().reshape(keep.shape).astype(np.float64)
                    bias = source.bias.numpy().astype(np.float64) if source.use_bias else np.zeros(keep.shape[1])
                    layers.append({"name": s.name, "rows": stats.rows, "kept": int(keep.sum()), "size": s.size,
                                   "error_before": stats.relative_error(kernel * keep, bias),
                                   "error_after": stats.relative_error(weights.reshape(keep.shape), biases),
                                   "seconds": time.perf_counter() - began})
            target.kernel.assign(weights)
            if target.use_bias:
                target.bias.assign(biases)
        return layers

    def removal_costs(self) -> dict[str, np.ndarray]:
        """For the mask set `fit` was last given, each kept weight's cost of being pruned alone, its unit re-solved
        (`LayerGram.removal_costs`, relative to the unit's target energy), kernel-shaped; 0.0 where pruned. Keep
        (`keep` ≥ 1) the Gram statistics, or each layer's is computed again."""
        costs = {}
        with self._blas.limit(limits=1, user_api="blas"):
            for i, s in enumerate(self.specs):
                layer = self.fitted.layers[s.index]
                keep = self._masks[s.name].reshape(-1, s.shape[-1])
                weights = layer.kernel.numpy().reshape(keep.shape).astype(np.float64)
                biases = layer.bias.numpy().astype(np.float64) if layer.use_bias else np.zeros(keep.shape[1])
                costs[s.name] = self._gram(i).removal_costs(keep, weights, biases, self.ridge,
                                                            layer.use_bias).reshape(s.shape)
        return costs

    def outputs(self, rows: int | None = None) -> np.ndarray:
        """The re-fitted copy's outputs over the images (N, ...), or over the first `rows` of them, for the mask set
        `fit` was last given. On a chain the first rows run only the last step, from what entered it."""
        last = len(self.specs)
        if rows is None or rows == len(self.x):
            return self._activations(last)
        if self._chain is None:
            return self.predict(self.x[:rows])
        return np.concatenate(list(_over_batches(self._steps[last], self._activations(last - 1)[:rows],
                                                 self.batch_size)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The re-fitted copy's outputs (N, ...) over other images `x`, for the mask set `fit` was last given: the
        same steps as `outputs`, run on `x` and kept nowhere."""
        if self._chain is None:
            return np.concatenate(list(_over_batches(self._steps[-1], x, self.batch_size)))
        for step in self._steps:
            if step is not None:
                x = np.concatenate(list(_over_batches(step, x, self.batch_size)))
        return x

    def _gram(self, i: int) -> LayerGram:
        """Layer i's LayerGram over the images, its inputs from the re-fitted copy as it now is (its earlier
        layers hold the re-fit of the last fitted masks' prefix), its targets the unpruned pre-activations."""
        prefix = self._keys[i]
        if prefix in self._grams[i]:
            self._grams[i].move_to_end(prefix)
            return self._grams[i][prefix]
        s = self.specs[i]
        target = self.fitted.layers[s.index]
        stats = LayerGram(s.size // s.shape[-1], s.shape[-1])
        inputs = self._activations(i)
        for y, begin in zip(self._targets(i), range(0, len(self.x), self.batch_size)):
            stats.add(kernel_inputs(target, inputs[begin:begin + self.batch_size]), y)
        _remember(self._grams[i], prefix, stats, self.keep)
        return stats

    def _activations(self, i: int) -> np.ndarray:
        """What enters bound i (`_compile_steps`) in the re-fitted copy, whose layers before it hold the re-fit of
        the last fitted masks' prefix: kept per prefix, and computed the same way whether the step before was kept
        or not, so the same bits either way."""
        key, kept = self._keys[i], self._acts[i]
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        if self._steps[i] is None:
            return self.x
        source = self.x if self._chain is None or i == 0 else self._activations(i - 1)
        out = np.concatenate(list(_over_batches(self._steps[i], source, self.batch_size)))
        # the last one of each bound at least: a chain's next step starts from it
        if out.nbytes <= ACTIVATION_BYTES // (max(self.keep, 1) * len(self._acts)):
            _remember(kept, key, out, max(self.keep, 1))
        return out

    def _targets(self, i: int) -> Iterator[np.ndarray]:
        """The unpruned model's pre-activations of layer i, batch by batch (rows, units) in float64; kept after
        their first use while the ones kept fit in TARGET_BYTES (they never change)."""
        if i in self._kept_targets:
            yield from self._kept_targets[i]
            return
        s = self.specs[i]
        kept_bytes = sum(y.nbytes for kept in self._kept_targets.values() for y in kept)
        keep = self.keep and kept_bytes + 8 * len(self.x) * int(np.prod(self.model.layers[s.index].output.shape[1:])) \
            <= TARGET_BYTES
        batches = []
        for y in _over_batches(self._targets_of[i], self.x, self.batch_size):
            y = y.astype(np.float64).reshape(-1, s.shape[-1])
            if keep:
                batches.append(y)
            yield y
        if keep:
            self._kept_targets[i] = batches


def _remember(kept: OrderedDict, key: str, value, bound: int) -> None:
    """Keep `value` as the most recent entry, dropping the least recent beyond `bound` (0: keep nothing)."""
    if bound:
        kept[key] = value
        while len(kept) > bound:
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
