"""One-shot pruning curves (test accuracy against global sparsity) to set search results against."""
from __future__ import annotations

from typing import Iterable, Sequence

from ..network import models
from ..problem import importance
from ..problem.data import PreparedData

CURVE_FIELDS = ("importance", "sparsity", "test_accuracy", "test_loss", "val_accuracy")


def curve(model, data: PreparedData, kind: str, sparsities: Iterable[float], scores=None) -> list[dict]:
    """Test (and validation) figures of the global-threshold mask of `kind` at every sparsity."""
    specs = models.prunable_layers(model)
    kernels = models.kernels(model, specs)
    scores = scores or importance.compute(kind, model, specs, data.x_train, data.y_train)
    rows = []
    for s in sparsities:
        masks = importance.global_threshold_masks(scores, float(s))
        test_loss, test_acc = models.evaluate_masked(model, masks, data.x_test, data.y_test, kernels)
        _, val_acc = models.evaluate_masked(model, masks, data.x_val, data.y_val, kernels)
        rows.append({"importance": kind, "sparsity": float(s), "test_accuracy": test_acc, "test_loss": test_loss,
                     "val_accuracy": val_acc})
    return rows


def reach(rows: Sequence[dict], baseline_accuracy: float, drop: float = 0.01) -> float:
    """The highest sparsity on a curve whose test accuracy is within `drop` of the baseline (0 if none)."""
    ok = [r["sparsity"] for r in rows if baseline_accuracy - r["test_accuracy"] <= drop + 1e-12]
    return max(ok, default=0.0)
