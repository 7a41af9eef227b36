"""How a Keras model is run with substituted kernels: the compiled masked forwards and their pieces."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._tf import import_keras, import_tensorflow
from ..errors import ModelError
from ..network.masks import LayerSpec
from ..network.models import run_layers

# Two chunks in flight: measured ~20 % faster than one on 2 cores (one chunk's ops leave
# cores idle between them); more than two only adds contention.
PARALLEL_CHUNKS = 2


def kernel_variables(model, specs: Sequence[LayerSpec]) -> dict:
    """The kernel variable of each prunable layer: the one a masked kernel stands in for."""
    out = {}
    for s in specs:
        layer = model.layers[s.index]
        kernel = layer.kernel
        if not any(v is kernel for v in layer.weights):
            # e.g. LoRA or quantized layers, whose `kernel` is computed rather than stored
            raise ModelError(f"layer {s.name!r}: its kernel is not a plain variable, so it cannot be masked")
        out[s.name] = kernel
    return out


def example_floats(layer) -> int:
    """Floats per example in `layer`'s output(s); 0 if the layer has no symbolic output to read."""
    try:
        output = layer.output
    except (AttributeError, ValueError):  # subclassed models' layers, layers never called symbolically
        return 0
    tensors = output if isinstance(output, (list, tuple)) else [output]
    return sum(int(np.prod([d or 1 for d in t.shape[1:]])) for t in tensors)


def _loss_and_matches(y, out):
    """Per-example loss and 0/1 matches, computed as Keras' compiled sparse CE and accuracy do."""
    keras = import_keras()
    # Keras' sparse CE recognises a softmax output (by the logits Keras attaches to it, or by
    # its op) and then works from the logits; any other output is taken to be logits.
    softmax = hasattr(out, "_keras_logits") or getattr(getattr(out, "op", None), "type", None) == "Softmax"
    loss = keras.losses.sparse_categorical_crossentropy(y, out, from_logits=not softmax)
    return loss, keras.metrics.sparse_categorical_accuracy(y, out)


def compile_scorer(forward: Callable, varying_vars: list, fixed_vars: list, input_shape: tuple, chunk: int) -> Callable:
    """A compiled function scoring G candidates on chunked inputs.

    `forward(h)` runs the model (or its tail) on one chunk inside a StatelessScope that maps
    each varying kernel variable to the candidate's masked kernel and each fixed one to the
    context's. Every (candidate, chunk) pair runs the same ops on tensors of the same shape,
    so a candidate's scores do not depend on how many others share the call.

    (inputs (n_chunks, chunk, *input_shape), labels (n_chunks, chunk), varying [(G, *kernel shape)],
    fixed [kernel shape]) -> per-example losses and matches, each (G, n_chunks * chunk).
    """
    tf = import_tensorflow()
    keras = import_keras()
    signature = [
        tf.TensorSpec((None, chunk, *input_shape), tf.float32),
        tf.TensorSpec((None, chunk), tf.int32),
        [tf.TensorSpec((None, *v.shape), tf.float32) for v in varying_vars],
        [tf.TensorSpec(tuple(v.shape), tf.float32) for v in fixed_vars],
    ]

    # autograph off: nothing here needs it, and tracing is a one-off cost per searched layer.
    @tf.function(input_signature=signature, autograph=False)
    def score(inputs, labels, varying, fixed):
        n_chunks = tf.shape(inputs)[0]
        n_candidates = tf.shape(varying[0])[0]

        def one(i):
            g, c = i // n_chunks, i % n_chunks
            mapping = [(v, k[g]) for v, k in zip(varying_vars, varying)] + list(zip(fixed_vars, fixed))
            with keras.StatelessScope(state_mapping=mapping):
                out = forward(inputs[c])
            return _loss_and_matches(labels[c], out)

        per_chunk = tf.TensorSpec((chunk,), tf.float32)
        loss, matches = tf.map_fn(
            one, tf.range(n_candidates * n_chunks), fn_output_signature=(per_chunk, per_chunk),
            parallel_iterations=PARALLEL_CHUNKS,
        )
        return tf.reshape(loss, (n_candidates, -1)), tf.reshape(matches, (n_candidates, -1))

    return score


def compile_prefix(layers: list, fixed_vars: list, input_shape: tuple, chunk: int) -> Callable:
    """A compiled function running `layers`, with masked kernels for `fixed_vars`, on chunked inputs:
    (inputs (n_chunks, chunk, *input_shape), [kernel]) -> outputs (n_chunks, chunk, ...)."""
    tf = import_tensorflow()
    keras = import_keras()
    signature = [
        tf.TensorSpec((None, chunk, *input_shape), tf.float32),
        [tf.TensorSpec(tuple(v.shape), tf.float32) for v in fixed_vars],
    ]

    @tf.function(input_signature=signature, autograph=False)
    def prefix(inputs, fixed):
        def one(h):
            with keras.StatelessScope(state_mapping=list(zip(fixed_vars, fixed))):
                return run_layers(layers, h)

        return tf.map_fn(one, inputs, parallel_iterations=PARALLEL_CHUNKS)

    return prefix


def compile_chain(segments: Sequence[tuple], input_shape: tuple, kernel_vars: list,
                  scorer: tuple | None = None) -> Callable:
    """A compiled forward through consecutive segments of a chain, then optionally a scorer, in one call: the
    same compiled functions, run on the same chunks, as calling them one at a time, without a call each.

    `segments` are (`compile_prefix`'s function, its chunk, how many kernels it takes); `scorer` is
    (`compile_scorer`'s function, its chunk), scoring one candidate whose varying kernel is the last
    of `kernel_vars` and which has no fixed kernels. Between them the activations of the N images
    are chunked anew, the last chunk padded with copies of the last row (as `_chunked` in the engine
    does); the functions are traced once each, whatever chains include them.

    (h (N, *input_shape), labels (N,), kernels [kernel shape] in `kernel_vars` order) ->
    {"reached": each segment's output (N, ...)} and, with a scorer, "loss" and "matches" (N,).
    """
    tf = import_tensorflow()
    signature = [
        tf.TensorSpec((None, *input_shape), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        [tf.TensorSpec(tuple(v.shape), tf.float32) for v in kernel_vars],
    ]

    @tf.function(input_signature=signature, autograph=False)
    def chain(h, labels, kernels):
        n, x, at, out = tf.shape(h)[0], h, 0, {"reached": []}
        for fn, chunk, count in segments:
            y = fn(_in_chunks(x, n, chunk), kernels[at:at + count])
            x = tf.reshape(y, (-1, *y.shape[2:]))[:n]  # the next segment's input: the n rows, padding dropped
            at += count
            out["reached"].append(x)
        if scorer is not None:
            fn, chunk = scorer
            loss, matches = fn(_in_chunks(x, n, chunk), _in_chunks(labels, n, chunk), [kernels[at][None]], [])
            out.update(loss=loss[0, :n], matches=matches[0, :n])
        return out

    return chain


def _in_chunks(x, n, chunk: int):
    """Traced: the n rows of `x` as (n_chunks, chunk, ...), the last chunk padded with copies of the last row
    (as the engine's `_chunked`), gathered in one op."""
    tf = import_tensorflow()
    rows = tf.minimum(tf.range((n + chunk - 1) // chunk * chunk), n - 1)
    return tf.reshape(tf.gather(x, rows), (-1, chunk, *x.shape[1:]))
