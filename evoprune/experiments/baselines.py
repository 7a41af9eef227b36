"""The baseline: train LeNet-5 and record it (model.keras, baseline.json); the data and split it fixes."""
from __future__ import annotations

import os
import time

import numpy as np

from ..network import models
from ..problem.data import ENV_VAR, PreparedData, Split, prepare
from ..errors import ConfigError
from ..results import io
from ..results.manifest import environment

DEFAULT_DATASET = "mnist"


def train_baseline(data: PreparedData, config: models.TrainConfig, out: str, progress: bool = True) -> dict:
    """Train LeNet-5 on `data`, write `out/model.keras` and `out/baseline.json`, and return the latter."""
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    model = models.build_lenet5(data.x_train.shape[1:])
    models.train(model, data.x_train, data.y_train, data.x_val, data.y_val, config, progress=progress)
    test_loss, test_acc = models.evaluate(model, data.x_test, data.y_test)
    val_loss, val_acc = models.evaluate(model, data.x_val, data.y_val) if len(data.y_val) else (None, None)
    specs = models.prunable_layers(model)
    io.save_keras(os.path.join(out, "model.keras"), model)
    baseline = {
        "model": "lenet5", "test_loss": test_loss, "test_accuracy": test_acc,
        "val_loss": val_loss, "val_accuracy": val_acc,
        "prunable_layers": [s.to_dict() for s in specs],
        "total_prunable_weights": sum(s.size for s in specs), "model_layers": len(model.layers),
        "dataset": {"name": data.name, "source": data.source, "sizes": data.sizes()},
        "split": data.split.to_dict(), "training": config.to_dict(),
        "seconds": round(time.perf_counter() - start, 2), **environment(),
    }
    io.write_json(os.path.join(out, "baseline.json"), baseline)
    return baseline


def read_baseline(model_path: str) -> dict | None:
    """The baseline.json beside a model file, if there is one."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "baseline.json")
    return io.read_json(path) if os.path.exists(path) else None


def data_for(baseline: dict | None, dataset: str | None = None, path: str | None = None) -> PreparedData:
    """The dataset and validation split recorded with a baseline, so validation never overlaps training.

    An explicit `dataset` or `path` wins; without a path or $EVOPRUNE_DATA the file the
    baseline was trained from is read again if it is still there.
    """
    recorded = (baseline or {}).get("dataset", {})
    name = dataset or recorded.get("name") or DEFAULT_DATASET
    source = recorded.get("source")
    if path is None and not os.environ.get(ENV_VAR) and source not in (None, "keras") and os.path.exists(source):
        path = source
    split = Split.from_dict(baseline["split"]) if baseline and "split" in baseline else Split(0, 0.2)
    return prepare(name, path, split)


def search_data(data: PreparedData, eval_set: str) -> tuple[np.ndarray, np.ndarray]:
    """The images a search decides on: training and validation images pooled (default), the validation split
    alone, or the test set (the study's protocol)."""
    if eval_set == "test":
        return data.x_test, data.y_test
    if eval_set == "train+validation":
        return np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    if len(data.y_val) == 0:
        raise ConfigError("the validation split is empty: train with --val-fraction > 0 or use --eval-set test")
    return data.x_val, data.y_val


def run_info(model: str, preset: str | None, data: PreparedData, eval_set: str) -> dict:
    """What run.json records about the model and data, as `evoprune prune` records it."""
    return {"model": os.path.abspath(model), "preset": preset,
            "data": {"name": data.name, "source": data.source, "split": data.split.to_dict(),
                     "sizes": data.sizes(), "search_set": eval_set}}
