"""How a Keras model is run with substituted kernels: chain detection and the compiled masked forwards."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._tf import import_keras, import_tensorflow
from ..errors import ModelError
from ..masks import LayerSpec

# Two chunks in flight keep both cores busy between the ops of one chunk.
PARALLEL_CHUNKS = 2


def chain_layers(model) -> list | None:
    """`model.layers` if each layer feeds the next with nothing else (a linear chain), else None.

    The list is `model.layers` itself, so a layer's position in it is its LayerSpec.index; a
    functional model's InputLayer stays in it and `run_layers` passes over it.
    """
    keras = import_keras()
    layers = list(model.layers)
    if isinstance(model, keras.Sequential):
        return layers
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    order = []
    tensor = model.outputs[0]
    while True:
        op, node_index, _ = tensor._keras_history
        if isinstance(op, keras.layers.InputLayer):
            order.append(op)
            break
        node = op._inbound_nodes[node_index]
        args = node.arguments
        if not isinstance(op, keras.layers.Layer) or len(args.args) != 1 or args.kwargs:
            return None
        if not isinstance(args.args[0], keras.KerasTensor):
            return None
        order.append(op)
        tensor = args.args[0]
    order.reverse()
    same = len(order) == len(layers) and all(a is b for a, b in zip(order, layers))
    return layers if same else None


def kernel_variables(model, specs: Sequence[LayerSpec]) -> dict:
    """The kernel variable of each prunable layer, the one a masked kernel replaces."""
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
    """Floats per example in `layer`'s output (what a chunk of images costs in memory there)."""
    shapes = layer.output.shape if not isinstance(layer.output, (list, tuple)) else [t.shape for t in layer.output]
    shapes = shapes if isinstance(shapes, list) else [shapes]
    return sum(int(np.prod([d for d in shape[1:]])) for shape in shapes)


def _loss_and_matches(y, out):
    """Per-example loss and 0/1 matches exactly as Keras' compiled sparse CE and accuracy compute them."""
    keras = import_keras()
    # Keras' own sparse CE takes the logits behind a softmax output (it finds them on the
    # tensor or its op); any other output is taken as logits, as the brief for this engine says.
    softmax = hasattr(out, "_keras_logits") or getattr(getattr(out, "op", None), "type", None) == "Softmax"
    loss = keras.losses.sparse_categorical_crossentropy(y, out, from_logits=not softmax)
    return loss, keras.metrics.sparse_categorical_accuracy(y, out)


def compile_scorer(forward: Callable, varying_vars: list, fixed_vars: list, input_shape, chunk: int):
    """A compiled function scoring G candidates on chunked inputs.

    `forward(h)` runs the model part on one chunk; it is traced inside a StatelessScope that
    maps each varying kernel variable to the candidate's masked kernel and each fixed one to its
    masked kernel. Every (candidate, chunk) pair runs the same ops on tensors of the same shape,
    so a candidate's scores do not depend on how many others share the call.

    Signature: (inputs (n_chunks, chunk, *input_shape), labels (n_chunks, chunk),
    varying [(G, *kernel shape)], fixed [kernel shape]) -> (losses (G, n_chunks*chunk), matches (same)).
    """
    tf = import_tensorflow()
    keras = import_keras()
    spec = [
        tf.TensorSpec((None, chunk, *input_shape), tf.float32),
        tf.TensorSpec((None, chunk), tf.int32),
        [tf.TensorSpec((None, *v.shape), tf.float32) for v in varying_vars],
        [tf.TensorSpec(tuple(v.shape), tf.float32) for v in fixed_vars],
    ]

    @tf.function(input_signature=spec)
    def score(inputs, labels, varying, fixed):
        n_chunks = tf.shape(inputs)[0]
        n_candidates = tf.shape(varying[0])[0]

        def one(i):
            g, c = i // n_chunks, i % n_chunks
            mapping = [(v, k[g]) for v, k in zip(varying_vars, varying)] + list(zip(fixed_vars, fixed))
            with keras.StatelessScope(state_mapping=mapping):
                out = forward(inputs[c])
            return _loss_and_matches(labels[c], out)

        loss, matches = tf.map_fn(
            one, tf.range(n_candidates * n_chunks),
            fn_output_signature=(tf.TensorSpec((chunk,), tf.float32), tf.TensorSpec((chunk,), tf.float32)),
            parallel_iterations=PARALLEL_CHUNKS,
        )
        return tf.reshape(loss, (n_candidates, -1)), tf.reshape(matches, (n_candidates, -1))

    return score


def compile_prefix(layers: list, fixed_vars: list, input_shape, chunk: int):
    """A compiled function running `layers` (with masked kernels for `fixed_vars`) on chunked inputs."""
    tf = import_tensorflow()
    keras = import_keras()
    spec = [
        tf.TensorSpec((None, chunk, *input_shape), tf.float32),
        [tf.TensorSpec(tuple(v.shape), tf.float32) for v in fixed_vars],
    ]

    @tf.function(input_signature=spec)
    def prefix(inputs, fixed):
        def one(h):
            with keras.StatelessScope(state_mapping=list(zip(fixed_vars, fixed))):
                return run_layers(layers, h)

        return tf.map_fn(one, inputs, parallel_iterations=PARALLEL_CHUNKS)

    return prefix


def run_layers(layers: list, h):
    """Call `layers` in sequence, in inference mode."""
    keras = import_keras()
    for layer in layers:
        if not isinstance(layer, keras.layers.InputLayer):
            h = layer(h, training=False)
    return h
