"""The mask evaluator: compiled masked forwards, a per-context prefix cache and deterministic scoring."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import models
from .._tf import import_keras, import_tensorflow
from .context import Context, EvalResult, unpack_mask, verified_fixed_masks
from .graph import chain_layers, compile_prefix, compile_scorer, example_floats, kernel_variables, run_layers

# Largest activation of one chunk, in bytes: big enough that per-op overheads vanish, small
# enough that a chunk's activations stay in cache and memory stays bounded.
CHUNK_BYTES = 32 << 20


@dataclass
class _Scorer:
    fn: object  # compiled graph.compile_scorer function
    chunk: int
    start: int  # chain position of the first layer run (0 for a full forward)
    varying: tuple[str, ...]  # layers whose kernels come from the candidates
    fixed: tuple[str, ...]  # layers whose masked kernels come from the context


@dataclass
class _Entry:
    inputs: object  # tf.Tensor (n_chunks, chunk, ...): what enters the scorer's first layer
    fixed: list  # tf.Tensor masked kernels, in _Scorer.fixed order


class MaskEvaluator:
    """Holds a model's weights and evaluation images; scores masks without model.evaluate.

    For a linear chain of layers (Sequential, or functional where each layer feeds the next)
    the layers before the searched one are fixed, so their output is computed once per context
    and every evaluation starts there. Other graphs, and whole-model genomes, run a masked full
    forward. Both are compiled once per searched layer; every candidate runs the same ops on
    chunks of the same shape, so its score is bit-for-bit the same however candidates are grouped.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, chunk_size: int | None = None, cache_keys: int = 4):
        """`chunk_size` caps the images per compiled chunk (default: sized per layer from CHUNK_BYTES);
        `cache_keys` is how many contexts keep their prefix and masked kernels."""
        self.model = model
        self.specs = models.prunable_layers(model)
        self._x = np.asarray(x, dtype=np.float32)
        self._y = np.asarray(y).reshape(-1).astype(np.int32)
        if len(self._x) != len(self._y) or not len(self._y):
            raise ValueError(f"need as many labels as images, and at least one: got {len(self._x)} images, {len(self._y)} labels")
        self.n = len(self._y)
        self.chunk_size = chunk_size
        self.cache_keys = cache_keys
        self.prefix_computations = 0  # how often the activations entering a searched layer were computed
        self._vars = kernel_variables(model, self.specs)
        self._kernels = {name: np.asarray(v.numpy(), np.float32) for name, v in self._vars.items()}
        self._chain = chain_layers(model)
        self._scorers: dict[tuple, _Scorer] = {}
        self._prefixes: dict[int, tuple] = {}
        self._chunked: dict[int, tuple] = {}
        self._cache: OrderedDict[tuple, _Entry] = OrderedDict()

    @property
    def is_chain(self) -> bool:
        """Whether evaluations of one layer start from cached activations (else a masked full forward)."""
        return self._chain is not None

    def evaluate(self, context: Context, candidates: Sequence[np.ndarray]) -> list[EvalResult]:
        """Score packed candidate masks of `context.layer` (or whole-model genomes if it is None)."""
        fixed_masks = verified_fixed_masks(context, self.specs)
        if not len(candidates):
            return []
        scorer = self._scorer(context.layer)
        entry = self._entry(context, fixed_masks, scorer)
        stacks = self._candidate_kernels(context.layer, candidates)
        _, labels = self._chunks(scorer.chunk)
        loss, matches = scorer.fn(entry.inputs, labels, stacks, entry.fixed)
        loss, matches = loss.numpy()[:, : self.n], matches.numpy()[:, : self.n]
        results = []
        for row_loss, row_matches in zip(loss, matches):
            correct = int(np.count_nonzero(row_matches))
            # One 1-D float64 reduction over N per-example losses: a fixed order, whatever the batch.
            results.append(EvalResult(float(np.sum(row_loss.astype(np.float64))) / self.n, correct / self.n, correct))
        return results

    # -- compiled functions ---------------------------------------------------------------

    def _scorer(self, layer: str | None) -> _Scorer:
        names = tuple(s.name for s in self.specs)
        varying = names if layer is None else (layer,)
        if self._chain is not None:
            start = 0 if layer is None else self.specs[names.index(layer)].index
            run = self._chain[start:]
            fixed = tuple(s.name for s in self.specs if s.index > start and s.name not in varying)
        else:
            start, run = 0, None
            fixed = tuple(n for n in names if n not in varying)
        key = (start, varying)
        if key not in self._scorers:
            if run is not None:
                layers = run
                chunk = self._chunk_for(run)
                forward = lambda h: run_layers(layers, h)  # noqa: E731
                input_shape = self._input_shape(start)
            else:
                chunk = self._chunk_for(self.model.layers)
                forward = lambda h: self.model(h, training=False)  # noqa: E731
                input_shape = self._x.shape[1:]
            fn = compile_scorer(
                forward, [self._vars[n] for n in varying], [self._vars[n] for n in fixed], input_shape, chunk
            )
            self._scorers[key] = _Scorer(fn, chunk, start, varying, fixed)
        return self._scorers[key]

    def _prefix(self, start: int) -> tuple:
        """The compiled run of the chain's layers before `start`, with its chunk and fixed layers."""
        if start not in self._prefixes:
            layers = self._chain[:start]
            chunk = self._chunk_for(layers)
            fixed = tuple(s.name for s in self.specs if s.index < start)
            fn = compile_prefix(layers, [self._vars[n] for n in fixed], self._x.shape[1:], chunk)
            self._prefixes[start] = (fn, chunk, fixed)
        return self._prefixes[start]

    def _has_prefix(self, start: int) -> bool:
        """Whether layers other than the input run before chain position `start`."""
        keras = import_keras()
        return any(not isinstance(layer, keras.layers.InputLayer) for layer in (self._chain or [])[:start])

    def _input_shape(self, start: int) -> tuple:
        if not self._has_prefix(start):
            return self._x.shape[1:]
        return tuple(int(d) for d in self._chain[start - 1].output.shape[1:])

    def _chunk_for(self, layers) -> int:
        """Images per chunk: as many as CHUNK_BYTES allows in the largest activation, split evenly."""
        largest = max([example_floats(layer) for layer in layers] + [int(np.prod(self._x.shape[1:]))])
        cap = self.chunk_size or max(1, CHUNK_BYTES // (4 * largest))
        n_chunks = -(-self.n // cap)
        return -(-self.n // n_chunks)

    # -- data -----------------------------------------------------------------------------

    def _chunks(self, chunk: int) -> tuple:
        """The evaluation images and labels as (n_chunks, chunk, ...) tensors, the last padded by repetition."""
        if chunk not in self._chunked:
            tf = import_tensorflow()
            self._chunked[chunk] = (tf.constant(_chunked(self._x, chunk)), tf.constant(_chunked(self._y, chunk)))
        return self._chunked[chunk]

    def _entry(self, context: Context, fixed_masks: dict, scorer: _Scorer) -> _Entry:
        """The cached inputs and masked fixed kernels of a verified context, built on first use."""
        key = (context.layer, context.key)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        tf = import_tensorflow()
        fixed = [tf.constant(self._kernels[n] * fixed_masks[n]) for n in scorer.fixed]
        if not self._has_prefix(scorer.start):
            inputs = self._chunks(scorer.chunk)[0]
        else:
            fn, chunk, prefix_fixed = self._prefix(scorer.start)
            kernels = [tf.constant(self._kernels[n] * fixed_masks[n]) for n in prefix_fixed]
            out = fn(self._chunks(chunk)[0], kernels).numpy()
            out = out.reshape(-1, *out.shape[2:])[: self.n]
            inputs = tf.constant(_chunked(out, scorer.chunk))
            self.prefix_computations += 1
        entry = self._cache[key] = _Entry(inputs, fixed)
        while len(self._cache) > self.cache_keys:
            self._cache.popitem(last=False)
        return entry

    def _candidate_kernels(self, layer: str | None, candidates: Sequence[np.ndarray]) -> list:
        """Each varying layer's masked kernels, stacked over the candidates."""
        tf = import_tensorflow()
        specs = self.specs if layer is None else [s for s in self.specs if s.name == layer]
        if layer is None:
            total = sum(s.size for s in specs)
            bounds = np.cumsum([0] + [s.size for s in specs])
            genomes = [_unpack_genome(p, total) for p in candidates]
            masks = [[g[bounds[i]: bounds[i + 1]].reshape(s.shape) for g in genomes] for i, s in enumerate(specs)]
        else:
            masks = [[unpack_mask(p, specs[0]) for p in candidates]]
        return [
            tf.constant(np.stack([self._kernels[s.name] * m for m in layer_masks]))
            for s, layer_masks in zip(specs, masks)
        ]


def _unpack_genome(packed: np.ndarray, total: int) -> np.ndarray:
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if packed.size != (total + 7) // 8:
        raise ValueError(f"packed genome has {packed.size} bytes, expected {(total + 7) // 8} for {total} weights")
    return np.unpackbits(packed, count=total).astype(bool)


def _chunked(a: np.ndarray, chunk: int) -> np.ndarray:
    """`a` reshaped to (n_chunks, chunk, ...), padded at the end with copies of its last row."""
    n_chunks = -(-len(a) // chunk)
    pad = n_chunks * chunk - len(a)
    if pad:
        a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
    return a.reshape(n_chunks, chunk, *a.shape[1:])
