"""The mask evaluator: compiled masked forwards, a per-context prefix cache and deterministic scoring."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Sequence

import numpy as np

from ..network import models
from .._tf import import_keras, import_tensorflow
from ..network.masks import digest, split
from .context import (Context, EvalResult, checked_images, per_image_result, unpack_genome, unpack_mask,
                      verified_fixed_masks)
from ..network.models import chain_layers, run_layers
from .graph import compile_chain, compile_prefix, compile_scorer, example_floats, kernel_variables

# Bytes of the largest activation of one chunk. Measured on LeNet-5 with 10,000 images (2 cores):
# 8 MiB (435 images at conv1) beats 2-4 MiB (per-op overheads) and 16-64 MiB (cache misses).
CHUNK_BYTES = 8 << 20
# Activations kept to start later evaluations from: what they may take in all, and how many masks
# prefixes each prunable layer's input keeps (the current solution's, and a few recent ones).
ACTIVATION_BYTES = 3 << 30
PREFIXES_PER_LAYER = 4


@dataclass
class _Scorer:
    fn: object  # graph.compile_scorer's compiled function
    chunk: int  # images per chunk
    start: int  # position in the chain of the first layer run (0: the whole model)
    fixed: tuple[str, ...]  # prunable layers it runs whose masked kernels come from the context


@dataclass
class _Entry:
    inputs: object  # tf.Tensor (n_chunks, chunk, ...): what enters the scorer's first layer
    fixed: list  # tf.Tensor masked kernels, in _Scorer.fixed order


class MaskEvaluator:
    """Holds a model's weights and evaluation images; scores masks without model.evaluate.

    For a linear chain of layers (Sequential, or functional where each layer feeds the next)
    the layers before the searched one are fixed: their output is computed once per context
    (resuming from the cached output entering an earlier prunable layer when its masks match)
    and every evaluation starts there. Other graphs, and whole-model genomes on any model, run
    a masked full forward. Both are compiled once per searched layer. Every candidate runs the
    same Keras ops on chunks of one shape, so its score is bit-for-bit the same however
    candidates are grouped, and the same as Keras' own forward pass gives.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, chunk_size: int | None = None, cache_keys: int = 4,
                 incremental: bool = True):
        """`chunk_size` caps the images per compiled chunk (default: per layer, from CHUNK_BYTES);
        `cache_keys` is how many contexts keep their masked kernels; with `incremental`, a whole-model
        genome starts from the cached activations of the longest prefix of masks it shares with a
        genome evaluated before (chain models), as exact as the full forward."""
        self.model = model
        self.specs = models.prunable_layers(model)
        self._x, self._y = checked_images(x, y)
        self.n = len(self._y)
        self.chunk_size = chunk_size
        self.cache_keys = cache_keys
        self.incremental = incremental
        self.prefix_computations = 0  # times the activations entering a searched layer had to be computed
        self._vars = kernel_variables(model, self.specs)
        self._kernels = {name: np.asarray(v.numpy(), np.float32) for name, v in self._vars.items()}
        self._chain = chain_layers(model)
        self._scorers: dict[str | None, _Scorer] = {}
        self._segments: dict[tuple, tuple] = {}
        self._runs: dict[tuple, tuple] = {}  # (chain positions, scored) -> see _run
        self._chunked: dict[int, tuple] = {}
        self._tensors: tuple | None = None  # the images and labels as tensors, made on first use
        self._cache: OrderedDict[tuple, _Entry] = OrderedDict()  # (layer, key) -> verified context's entry
        # (position, digest of masks before it) -> the activations (N, ...) as a tf.Tensor, fed back without a copy
        self._acts: OrderedDict[tuple, object] = OrderedDict()
        self._acts_bytes = 0

    @property
    def is_chain(self) -> bool:
        """Whether evaluations of one layer start from cached activations (else a masked full forward)."""
        return self._chain is not None

    def evaluate(self, context: Context, candidates: Sequence[np.ndarray]) -> list[EvalResult]:
        """Score packed masks of `context.layer`, or packed whole-model genomes (all prunable layers'
        flattened masks concatenated in `specs` order) when it is None.

        Raises StaleContextError if the context's key is not the digest of its fixed masks, and
        ValueError if the context or a candidate does not fit the model.
        """
        fixed_masks = verified_fixed_masks(context, self.specs)
        if not len(candidates):
            return []
        if context.layer is None and self.incremental and self.is_chain:
            total = sum(s.size for s in self.specs)
            return [self._genome(split(unpack_genome(p, total), self.specs)) for p in candidates]
        stacks = self._candidate_kernels(context.layer, candidates)
        scorer = self._scorer(context.layer)
        entry = self._entry(context, fixed_masks, scorer)
        _, labels = self._chunks(scorer.chunk)
        loss, matches = scorer.fn(entry.inputs, labels, stacks, entry.fixed)
        return [per_image_result(row_loss, row_matches) for row_loss, row_matches in
                zip(loss.numpy()[:, : self.n], matches.numpy()[:, : self.n])]

    def _genome(self, masks: dict) -> EvalResult:
        """A whole-model genome on a chain model, from the deepest prefix of its masks whose activations are cached.

        The layers after it run segment by segment up to the last prunable layer, whose scorer ends
        the forward, in one compiled call: the same segments, chunks and ops as every other path, so
        the same bits. The activations reached at each prunable layer are cached for later genomes
        sharing that prefix.
        """
        bounds = [s.index for s in self.specs]
        keys = [self._prefix_key(pos, masks) for pos in bounds]
        first = max((i for i, key in enumerate(keys) if key in self._acts), default=None)
        if first is None:
            first, h = 0, self._activations(bounds[0], masks) if self._has_prefix(bounds[0]) else self._data()[0]
        else:
            h = self._cached(keys[first])
        fn, names, _ = self._run(tuple(bounds[first:]), scored=True)
        out = fn(h, self._data()[1], self._masked_kernels(names, masks))
        for key, activations in zip(keys[first + 1:], out["reached"]):
            self._keep(key, activations)
        return per_image_result(np.asarray(out["loss"]), np.asarray(out["matches"]))

    def _prefix_key(self, pos: int, masks: dict) -> tuple:
        """The cache key of the activations entering chain position `pos` under `masks`."""
        return pos, digest({s.name: masks[s.name] for s in self.specs if s.index < pos})

    def _keep(self, key: tuple, activations) -> None:
        """Cache activations (a tf.Tensor) under `key`: at most PREFIXES_PER_LAYER per position and
        ACTIVATION_BYTES in all, the least recently used going first."""
        if key in self._acts:
            self._acts.move_to_end(key)
            return
        if _nbytes(activations) > ACTIVATION_BYTES // PREFIXES_PER_LAYER:
            return  # too large to keep a few: recomputed when needed
        self._acts[key] = activations
        self._acts_bytes += _nbytes(activations)
        same = [k for k in self._acts if k[0] == key[0]]
        while len(same) > PREFIXES_PER_LAYER or self._acts_bytes > ACTIVATION_BYTES:
            old = same.pop(0) if len(same) > PREFIXES_PER_LAYER else next(iter(self._acts))
            self._acts_bytes -= _nbytes(self._acts.pop(old))
            same = [k for k in self._acts if k[0] == key[0]]

    def _cached(self, key: tuple):
        """The activations cached under `key` (a tf.Tensor), now the most recently used."""
        self._acts.move_to_end(key)
        return self._acts[key]

    def images_per_chunk(self, layer: str | None) -> int:
        """Images per compiled chunk when evaluating `layer` (None: whole-model genomes)."""
        return self._scorer(layer).chunk

    # -- compiled functions ---------------------------------------------------------------

    def _scorer(self, layer: str | None) -> _Scorer:
        if layer not in self._scorers:
            names = [s.name for s in self.specs]
            varying = names if layer is None else [layer]
            if self._chain is not None:
                start = 0 if layer is None else self.specs[names.index(layer)].index
                layers = self._chain[start:]
                fixed = tuple(s.name for s in self.specs if s.index > start and s.name not in varying)
                forward, input_shape = partial(run_layers, layers), self._input_shape(start)
            else:
                start, layers = 0, self.model.layers
                fixed = tuple(n for n in names if n not in varying)
                forward, input_shape = partial(self.model, training=False), self._x.shape[1:]
            chunk = self._chunk_for(layers)
            fn = compile_scorer(
                forward, [self._vars[n] for n in varying], [self._vars[n] for n in fixed], input_shape, chunk
            )
            self._scorers[layer] = _Scorer(fn, chunk, start, fixed)
        return self._scorers[layer]

    def _segment(self, begin: int, end: int) -> tuple:
        """(compiled run of chain positions [begin, end), its chunk, the prunable layers in it)."""
        if (begin, end) not in self._segments:
            layers = self._chain[begin:end]
            chunk = self._chunk_for(layers)
            fixed = tuple(s.name for s in self.specs if begin <= s.index < end)
            fn = compile_prefix(layers, [self._vars[n] for n in fixed], self._input_shape(begin), chunk)
            self._segments[begin, end] = (fn, chunk, fixed)
        return self._segments[begin, end]

    def _run(self, bounds: tuple, scored: bool) -> tuple:
        """(one compiled call running the segments between consecutive chain positions `bounds`, then with
        `scored` the scorer of the layer at bounds[-1]; the prunable layers whose masked kernels it takes, in
        order; the chunk of the first segment or scorer it runs)."""
        if (bounds, scored) not in self._runs:
            segments = [self._segment(begin, end) for begin, end in zip(bounds, bounds[1:])]
            names = tuple(n for _, _, fixed in segments for n in fixed)
            scorer = None
            if scored:
                last = next(s.name for s in self.specs if s.index == bounds[-1])
                scorer = (self._scorer(last).fn, self._scorer(last).chunk)
                names += (last,)
            chain = compile_chain([(run, chunk, len(fixed)) for run, chunk, fixed in segments],
                                  self._input_shape(bounds[0]), [self._vars[n] for n in names], scorer)
            self._runs[bounds, scored] = (chain, names, segments[0][1] if segments else scorer[1])
        return self._runs[bounds, scored]

    def _activations(self, start: int, fixed_masks: dict):
        """The activations (N, ...) entering chain position `start` under the context's fixed masks, a tf.Tensor.

        They are always computed the same way, segment by segment between the positions of
        consecutive prunable layers (in one compiled call), each segment with its own fixed chunk;
        so resuming from a cached earlier segment end gives the same bits as starting from the images.
        """
        bounds = [0] + sorted({s.index for s in self.specs if s.index <= start and self._has_prefix(s.index)})
        keys = [self._prefix_key(pos, fixed_masks) for pos in bounds]
        first = max((i for i, key in enumerate(keys) if key in self._acts), default=0)
        h = self._cached(keys[first]) if keys[first] in self._acts else self._data()[0]
        if first == len(bounds) - 1:
            return h
        self.prefix_computations += 1
        fn, names, _ = self._run(tuple(bounds[first:]), scored=False)
        reached = fn(h, self._data()[1], self._masked_kernels(names, fixed_masks))["reached"]
        for key, activations in zip(keys[first + 1:], reached):
            self._keep(key, activations)
        return reached[-1]

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

    # -- data and cache -------------------------------------------------------------------

    def _chunks(self, chunk: int) -> tuple:
        """The evaluation images and labels as (n_chunks, chunk, ...) tensors."""
        if chunk not in self._chunked:
            tf = import_tensorflow()
            self._chunked[chunk] = (tf.constant(_chunked(self._x, chunk)), tf.constant(_chunked(self._y, chunk)))
        return self._chunked[chunk]

    def _data(self) -> tuple:
        """The evaluation images and labels as tensors (N, ...) and (N,)."""
        if self._tensors is None:
            tf = import_tensorflow()
            self._tensors = (tf.constant(self._x), tf.constant(self._y))
        return self._tensors

    def _entry(self, context: Context, fixed_masks: dict, scorer: _Scorer) -> _Entry:
        """The inputs and masked fixed kernels of a context whose key was verified, built on first use."""
        key = (context.layer, context.key)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        tf = import_tensorflow()
        if self._has_prefix(scorer.start):
            inputs = tf.constant(_chunked(np.asarray(self._activations(scorer.start, fixed_masks)), scorer.chunk))
        else:
            inputs = self._chunks(scorer.chunk)[0]
        entry = _Entry(inputs, self._masked_kernels(scorer.fixed, fixed_masks))
        _remember(self._cache, key, entry, self.cache_keys)
        return entry

    def _candidate_kernels(self, layer: str | None, candidates: Sequence[np.ndarray]) -> list:
        """Each varying layer's masked kernels, stacked over the candidates (checks their sizes)."""
        tf = import_tensorflow()
        specs = self.specs if layer is None else [s for s in self.specs if s.name == layer]
        if layer is None:
            total = sum(s.size for s in specs)
            genomes = [split(unpack_genome(p, total), specs) for p in candidates]
            masks = [[g[s.name] for g in genomes] for s in specs]
        else:
            masks = [[unpack_mask(p, specs[0]) for p in candidates]]
        return [
            tf.constant(np.stack([self._masked(s.name, m) for m in layer_masks]))
            for s, layer_masks in zip(specs, masks)
        ]

    def _masked_kernels(self, names: Sequence[str], masks: dict) -> list:
        tf = import_tensorflow()
        return [tf.constant(self._masked(n, masks[n])) for n in names]

    def _masked(self, name: str, mask: np.ndarray) -> np.ndarray:
        # The same product as models.apply_masks, so kernels are bit-for-bit those Keras would use.
        return self._kernels[name] * mask.astype(np.float32)


def _remember(cache: OrderedDict, key, value, bound: int) -> None:
    """Store as the most recent entry, dropping the least recently used beyond `bound`."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > bound:
        cache.popitem(last=False)


def _nbytes(tensor) -> int:
    """Bytes of a tf.Tensor's values."""
    return tensor.shape.num_elements() * tensor.dtype.size


def _chunked(a: np.ndarray, chunk: int) -> np.ndarray:
    """`a` as (n_chunks, chunk, ...), the last chunk padded with copies of the last row (scored, then dropped)."""
    n_chunks = -(-len(a) // chunk)
    pad = n_chunks * chunk - len(a)
    if pad:
        a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
    return a.reshape(n_chunks, chunk, *a.shape[1:])
