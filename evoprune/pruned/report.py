"""A run's report: its figures on the test set the search never saw, beside what it found on its search images,
and the layers its sparsities leave out."""
from __future__ import annotations

import resource
from typing import Callable, Mapping

import numpy as np

from ..network import models
from ..network.masks import sparsity_global, sparsity_layer_mean

MACHINE_KEYS = frozenset({"seconds", "evaluations_per_second", "seconds_per_evaluation", "peak_memory_mib", "export"})
"""summary.json keys that measure the machine (time, memory, file sizes), not the run: the rest is the same,
bit for bit, when a run is repeated, resumed or spread over workers."""


def summarize(model, result, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """summary.json's figures: search-set figures from the search, every reported figure from the test set.

    `result` is a `search.SearchResult`; per layer, the test figures are those of the model
    with the masks of that layer and every layer before it (the state after its pass).
    """
    state, config = result.state, result.config
    specs = models.prunable_layers(model)
    kernels = models.kernels(model, specs)
    ones = {s.name: np.ones(s.shape, bool) for s in specs}
    base_loss, base_acc = models.evaluate_masked(model, ones, x_test, y_test, kernels)
    layers, masks_so_far = [], dict(ones)
    for layer in state.layers:
        masks_so_far[layer["name"]] = state.masks[layer["name"]]
        loss, acc = models.evaluate_masked(model, masks_so_far, x_test, y_test, kernels)
        layers.append({**layer, "accuracy": acc, "loss": loss})
    final_loss, final_acc = models.evaluate_masked(model, state.masks, x_test, y_test, kernels)
    s_mean = sparsity_layer_mean(state.masks)
    return {
        "algorithm": result.algorithm.name, "seed": config.seed, "eval_set": config.eval_set,
        "baseline_accuracy": base_acc, "baseline_loss": base_loss,
        "final_accuracy": final_acc, "final_loss": final_loss,
        "search_baseline_accuracy": state.baseline.accuracy, "search_baseline_loss": state.baseline.loss,
        "search_final_accuracy": state.current.accuracy, "search_final_loss": state.current.loss,
        "sparsity_layer_mean": s_mean, "sparsity_global": sparsity_global(state.masks),
        **coverage(model, state.masks),
        "trade_off": s_mean * final_acc / base_acc if base_acc > 0 else 0.0,
        "evaluations": state.evaluations, "budget": config.budget, "images_evaluated": state.images,
        "images_per_evaluation": state.images / state.evaluations if state.evaluations else 0.0,
        "seconds": state.seconds,
        "seconds_per_evaluation": state.seconds / state.evaluations if state.evaluations else 0.0,
        # The process's peak resident memory so far: the model, the images, the cache, cached activations.
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "evaluations_per_second": state.evaluations / state.seconds if state.seconds > 0 else 0.0,
        "layers": layers,
    }


def coverage(model, masks: Mapping[str, np.ndarray]) -> dict:
    """What the sparsities leave out: the weight-bearing layers that are not pruned, and the share of every weight
    of the model (biases and those layers' weights included) that pruning zeroes, beside `sparsity_global`, which
    counts the pruned kernels alone."""
    pruned = sum(int(m.size - np.count_nonzero(m)) for m in masks.values())
    return {"sparsity_all_weights": pruned / models.weight_count(model), "skipped_layers": models.skipped_layers(model)}


def say_skipped(model, say: Callable[[str], None]) -> None:
    """Name, in one line, the weight-bearing layers that are not pruned, with their weight counts (nothing if none)."""
    skipped = models.skipped_layers(model)
    if skipped:
        names = ", ".join(f"{s['name']} ({s['type']}, {s['weights']:,} weights)" for s in skipped)
        say(f"not pruned (only Dense and Conv2D kernels are): {names}; sparsity_global counts the pruned kernels "
            "alone, sparsity_all_weights every weight of the model")
