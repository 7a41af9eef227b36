"""Weight importance: magnitude, the loss-aware saliency ½·w²·F (F the empirical Fisher diagonal), greedy
reconstruction damage, and the orders of pruning step by step with the re-fit, by magnitude or by OBS saliency."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .._tf import import_keras, import_tensorflow
from ..network.masks import LayerSpec, Masks, flatten, split

Scores = dict[str, np.ndarray]
"""One non-negative score per kernel weight, kernel-shaped: higher means more important."""

IMPORTANCES = ("magnitude", "saliency", "reconstruction", "refitted", "obs")

# The re-fitted orders' schedule (refitted, obs): plain magnitude prunes the first REFIT_FIRST of the weights, then
# each step keeps REFIT_SHRINK of what was kept, chosen from the previous step's re-fit (by magnitude, or OBS
# saliency), until REFIT_LAST is pruned: steps of about 1 point of sparsity near 90 %, where each weight pruned
# matters most. Fixed once, before any search used it; obs took it as it was.
REFIT_FIRST, REFIT_SHRINK, REFIT_LAST = 0.5, 0.9, 0.99


def magnitude(model, specs: Sequence[LayerSpec]) -> Scores:
    """|w| of every prunable weight."""
    return {s.name: np.abs(model.layers[s.index].kernel.numpy()) for s in specs}


def empirical_fisher_diagonal(model, specs: Sequence[LayerSpec], x: np.ndarray, y: np.ndarray,
                              batch_size: int = 64) -> Scores:
    """`F = mean over examples n of g_n²`, with g_n the gradient of example n's own loss.

    This is per-example: squaring the batch-mean gradient instead would give
    `(mean g_n)²`, which cancels opposite gradients and is not the Fisher.
    """
    tf = import_tensorflow()
    keras = import_keras()
    kernels = [model.layers[s.index].kernel for s in specs]
    from_logits = _from_logits(model)

    @tf.function
    def squared_grads(xb, yb):
        with tf.GradientTape() as tape:
            out = model(xb, training=False)
            losses = keras.losses.sparse_categorical_crossentropy(yb, out, from_logits=from_logits)
        jac = tape.jacobian(losses, kernels)  # per example: (batch, *kernel_shape)
        return [tf.reduce_sum(tf.square(j), axis=0) for j in jac]

    total = [np.zeros(s.shape, np.float64) for s in specs]
    for i in range(0, len(x), batch_size):
        for acc, g2 in zip(total, squared_grads(tf.constant(x[i:i + batch_size], tf.float32),
                                                tf.constant(y[i:i + batch_size], tf.int32))):
            acc += g2.numpy()
    return {s.name: (t / len(x)).astype(np.float32) for s, t in zip(specs, total)}


def saliency(model, specs: Sequence[LayerSpec], x: np.ndarray, y: np.ndarray, batch_size: int = 64) -> Scores:
    """Optimal-Brain-Damage saliency `½ · w² · F_ww` with the empirical Fisher diagonal over (x, y)."""
    fisher = empirical_fisher_diagonal(model, specs, x, y, batch_size)
    return {s.name: 0.5 * np.square(model.layers[s.index].kernel.numpy()) * fisher[s.name] for s in specs}


def input_second_moments(model, specs: Sequence[LayerSpec], x: np.ndarray, batch_size: int = 250
                         ) -> dict[str, np.ndarray]:
    """`E[a aᵀ]` of what each prunable kernel multiplies: a Dense layer's inputs, a Conv2D layer's patches."""
    tf, keras = import_tensorflow(), import_keras()
    layers = [model.layers[s.index] for s in specs]
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    sums = {s.name: np.zeros((s.size // s.shape[-1],) * 2) for s in specs}
    count = dict.fromkeys(sums, 0)
    for i in range(0, len(x), batch_size):
        outs = probe([x[i:i + batch_size]], training=False)  # a list, as the probe's inputs are
        for s, layer, a in zip(specs, layers, outs if len(specs) > 1 else [outs]):
            if len(s.shape) == 4:  # the kernel multiplies patches: (kh, kw, cin) flattened, as the kernel is
                a = tf.image.extract_patches(a, [1, *s.shape[:2], 1], [1, *layer.strides, 1],
                                             [1, *layer.dilation_rate, 1], layer.padding.upper())
            a = np.asarray(a, np.float64).reshape(-1, sums[s.name].shape[0])
            sums[s.name] += a.T @ a
            count[s.name] += len(a)
    return {k: v / count[k] for k, v in sums.items()}


def greedy_damage(kernel: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """Per output unit, prune greedily the weight that least increases `E[(Σ_pruned w·a)²]`.

    The change of a unit's pre-activation when a set P of its weights is pruned is
    `Σ_{i∈P} w_i a_i`; its mean square `w_Pᵀ E[a aᵀ]_P w_P` counts cross terms, so weights
    whose contributions cancel (a sigmoid network's inputs have large positive means) can go
    together. A weight's score is the unit's damage when the greedy order reaches it,
    relative to the unit's whole signal `E[(w·a)²]` (so scores compare across units and
    layers), made strictly increasing along that order: any threshold then prunes a prefix
    of each unit's greedy order, never half of a cancelling pair. Cost: O(inputs² × outputs).
    """
    W = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
    n_in, n_out = W.shape
    cols = np.arange(n_out)
    diag = np.diag(moments)[:, None]
    power = np.maximum(np.einsum("ij,ik,kj->j", W, moments, W), 1e-30)
    cross = np.zeros_like(W)       # (E[a aᵀ] w_P) per unit: the pruned set's cross terms
    pruned = np.zeros(W.shape, bool)
    damage, level, score = np.zeros(n_out), np.zeros(n_out), np.zeros_like(W)
    for _ in range(n_in):
        step = W * W * diag + 2.0 * W * cross
        step[pruned] = np.inf
        i = np.argmin(step, axis=0)
        damage += step[i, cols]
        level = np.maximum(damage / power, level * (1 + 1e-9) + 1e-300)  # the running maximum, strictly rising
        score[i, cols] = level
        pruned[i, cols] = True
        cross += moments[:, i] * W[i, cols][None, :]
    return score.reshape(kernel.shape)


def reconstruction(model, specs: Sequence[LayerSpec], x: np.ndarray) -> Scores:
    """Importance as the pre-activation damage of greedy per-unit pruning, from activations on `x`."""
    moments = input_second_moments(model, specs, x)
    return {s.name: greedy_damage(model.layers[s.index].kernel.numpy(), moments[s.name]) for s in specs}


def refit_schedule(first: float = REFIT_FIRST, shrink: float = REFIT_SHRINK,
                   last: float = REFIT_LAST) -> list[float]:
    """The global sparsities of `refitted`'s steps: `first`, then the kept share times `shrink` each step,
    up to `last`."""
    if not 0.0 < first <= last < 1.0 or not 0.0 < shrink < 1.0:
        raise ValueError(f"need 0 < first <= last < 1 and 0 < shrink < 1, got {first}, {last} and {shrink}")
    steps, kept = [first], 1.0 - first
    while 1.0 - kept * shrink <= last:
        kept *= shrink
        steps.append(1.0 - kept)
    return steps


def refitted(model, specs: Sequence[LayerSpec], x: np.ndarray, schedule: Sequence[float] | None = None) -> Scores:
    """Importance as the order of iterative magnitude pruning with the closed-form re-fit, no gradient step.

    At each step of `schedule` (global sparsities, rising; default `refit_schedule()`) the weights
    still kept with the smallest magnitudes are pruned, globally, up to the step's sparsity; the
    kept weights are then re-fitted on `x` (`network.refit.Refitter`) and the next step reads the
    re-fitted magnitudes. The first step reads the model's own. A weight's score is its place in
    that pruning order, over the number of weights (higher is more important; the weights left
    after the last step by their last re-fitted magnitude): a global threshold at a step's sparsity
    gives exactly that step's masks. Re-fitting lets the later steps see which weights the others
    took over, which one-shot magnitude cannot (5k MNIST LeNet-5 at 92 %, both re-fitted: 1.87 test
    points lost by one-shot magnitude, 1.02 by these steps; `results/refit-curve`).
    """
    return _pruning_order(model, specs, x, schedule, lambda refitter: magnitude(refitter.fitted, specs))


def obs(model, specs: Sequence[LayerSpec], x: np.ndarray, schedule: Sequence[float] | None = None) -> Scores:
    """Importance as the order of `refitted`'s steps, each step after the first pruning the kept weights whose
    removal costs least instead of the smallest: Optimal Brain Surgeon's saliency on the re-fit's own least
    squares (`Refitter.removal_costs`: a weight's squared magnitude over its entry of the inverse ridged Gram of
    its unit's kept inputs, relative to the unit's target energy), so a small weight on a large or
    uncorrelated input is kept and a large one that the others can take over goes."""
    return _pruning_order(model, specs, x, schedule, lambda refitter: refitter.removal_costs())


def _pruning_order(model, specs: Sequence[LayerSpec], x: np.ndarray, schedule: Sequence[float] | None,
                   measure) -> Scores:
    """Prune by the model's magnitudes to the schedule's first sparsity, re-fit (`Refitter` on `x`), then at each
    next step the weights still kept that `measure(refitter)` scores lowest, re-fitting after each; a weight's
    score is its place in that order over the number of weights (the weights never pruned by the last measure)."""
    from ..network.refit import Refitter  # here: it loads SciPy, which no other importance needs

    total = sum(s.size for s in specs)
    schedule = refit_schedule() if schedule is None else list(schedule)
    if any(b <= a for a, b in zip(schedule, schedule[1:])) or not all(0.0 < s < 1.0 for s in schedule):
        raise ValueError(f"the schedule must rise strictly inside (0, 1), got {schedule}")
    # keep=1: what a step's re-fit computed (its Gram statistics) is there for its measure
    refitter = Refitter(model, x, keep=1)
    size = flatten(magnitude(model, specs), specs)
    place = np.empty(total)
    kept = np.ones(total, bool)
    done = 0
    for sparsity in schedule:
        left = np.flatnonzero(kept)
        going = left[np.argsort(size[left], kind="stable")[:int(round(sparsity * total)) - done]]
        place[going] = done + np.arange(going.size)
        kept[going] = False
        done += going.size
        refitter.fit(split(kept.copy(), specs), report=False)
        size = flatten(measure(refitter), specs)
    left = np.flatnonzero(kept)
    place[left[np.argsort(size[left], kind="stable")]] = done + np.arange(left.size)
    return split((place + 1.0) / total, specs)


def compute(kind: str, model, specs: Sequence[LayerSpec], x_train=None, y_train=None) -> Scores:
    """The scores of `kind` (one of IMPORTANCES), those computed from images on `x_train` (and `y_train`)."""
    if kind == "magnitude":
        return magnitude(model, specs)
    if x_train is None:
        raise ValueError(f"{kind} importance needs the training images")
    if kind == "saliency":
        return saliency(model, specs, x_train, y_train)
    if kind == "refitted":
        return refitted(model, specs, x_train)
    if kind == "obs":
        return obs(model, specs, x_train)
    return reconstruction(model, specs, x_train)


def _from_logits(model) -> bool:
    act = getattr(model.layers[-1], "activation", None)
    return getattr(act, "__name__", "") != "softmax"


def global_threshold_masks(scores: Mapping[str, np.ndarray], sparsity: float) -> Masks:
    """Prune the `sparsity` fraction of all weights with the lowest scores, across layers (ties by position)."""
    flat = np.concatenate([v.reshape(-1) for v in scores.values()])
    n_prune = int(round(sparsity * flat.size))
    keep = np.ones(flat.size, bool)
    keep[np.argsort(flat, kind="stable")[:n_prune]] = False
    out, at = {}, 0
    for name, v in scores.items():
        out[name] = keep[at: at + v.size].reshape(v.shape)
        at += v.size
    return out


def layer_uniform_masks(scores: Mapping[str, np.ndarray], sparsity: float) -> Masks:
    """Prune the `sparsity` fraction of each layer's weights with the lowest scores."""
    return {name: global_threshold_masks({name: v}, sparsity)[name] for name, v in scores.items()}


def random_scores(specs: Sequence[LayerSpec], rng: np.random.Generator) -> Scores:
    """Uniform random scores: thresholding them prunes a random subset."""
    return {s.name: rng.random(s.shape) for s in specs}
