"""The baseline: train LeNet-5 and record it (model.keras, baseline.json); the data and split it fixes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ..network import models
from ..problem.data import ENV_VAR, PreparedData, Split, hold_out, prepare
from ..results import io
from ..results.manifest import cpu, environment, package_versions
from ..search.config import EVAL_SETS

DEFAULT_DATASET = "mnist"
CACHE_ENV = "EVOPRUNE_BASELINES"
# The libraries whose version can change a trained baseline's weights. numpy is not among them: it only loads,
# splits and scales the images, and the key digests the images as they come out of that.
TRAINING_LIBRARIES = ("tensorflow", "keras")


def train_baseline(data: PreparedData, config: models.TrainConfig, out: str, progress: bool = True) -> dict:
    """Train the architecture `config` names (LeNet-5 by default) on `data`, write `out/model.keras` and
    `out/baseline.json`, and return the latter.

    The seed fixes the initial weights as well as the training order, so the same command on the
    same machine gives the same weights, bit for bit.
    """
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    models.set_seed(config.seed)
    model = models.ARCHITECTURES[config.architecture](data.x_train.shape[1:])
    models.train(model, data.x_train, data.y_train, data.x_val, data.y_val, config, progress=progress)
    test_loss, test_acc = models.evaluate(model, data.x_test, data.y_test)
    val_loss, val_acc = models.evaluate(model, data.x_val, data.y_val) if len(data.y_val) else (None, None)
    specs = models.prunable_layers(model)
    io.save_keras(os.path.join(out, "model.keras"), model)
    baseline = {
        "model": config.architecture, "test_loss": test_loss, "test_accuracy": test_acc,
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
    if eval_set not in EVAL_SETS:
        raise ConfigError(f"eval_set must be one of {', '.join(EVAL_SETS)}, got {eval_set!r}")
    if eval_set == "test":
        return data.x_test, data.y_test
    if eval_set == "train+validation":
        return np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    if len(data.y_val) == 0:
        raise ConfigError("the validation split is empty: train with --val-fraction > 0 or use --eval-set test")
    return data.x_val, data.y_val


def certification_split(data: PreparedData, config) -> tuple[PreparedData, tuple | None, dict | None]:
    """The data a run decides and reports on, its certification images (x, y) and their record for run.json.

    Without `config.certify`: the data as it is, None, None. Else `config.certify_fraction` of the validation
    split or of the test set (`config.certify_from`; auto: whichever gives more images, so the 5k file's 1,000
    validation images give way to half of its 10,000 test images), drawn with the split's seed and taken out
    of it: a search never decides on them, and reports are on the rest.
    """
    if not config.certify:
        return data, None, None
    fraction, source = config.certify_fraction, config.certify_from
    if source == "auto":
        source = "validation" if round(len(data.y_val) * fraction) >= round(len(data.y_test) * fraction) else "test"
    part = "val" if source == "validation" else "test"
    (x, y), certification = hold_out(getattr(data, f"x_{part}"), getattr(data, f"y_{part}"), fraction,
                                     data.split.seed)
    if not len(y) and (part == "test" or config.eval_set == "validation"):
        raise ConfigError(f"--certify-fraction {fraction:g} takes all {len(certification[1])} {source} images for "
                          f"certification and leaves none to {'report on' if part == 'test' else 'decide on'}")
    record = {"from": source, "fraction": fraction, "seed": data.split.seed, "images": len(certification[1])}
    return replace(data, **{f"x_{part}": x, f"y_{part}": y}), certification, record


@dataclass(frozen=True)
class LoadedData(PreparedData):
    """What `load_data` hands out: the prepared data and the images a search decides on."""

    x_search: np.ndarray
    y_search: np.ndarray


def load_data(dataset: str = DEFAULT_DATASET, path: str | None = None, *, split: Split = Split(0, 0.2),
              eval_set: str = "train+validation") -> LoadedData:
    """The arrays evoprune uses: float32 images (N, 28, 28, 1) scaled to [0, 1] and uint8 labels, as
    x_train/y_train, x_val/y_val (split off the training images by `split`), x_test/y_test and
    x_search/y_search (the `eval_set` images, by default training and validation pooled).

    Read from `path`, else $EVOPRUNE_DATA, else the Keras download; the default split is the one
    `evoprune compare` trains its baseline on.
    """
    data = prepare(dataset, path, split)
    x_search, y_search = search_data(data, eval_set)
    return LoadedData(**vars(data), x_search=x_search, y_search=y_search)


def run_info(model: str, preset: str | None, data: PreparedData, eval_set: str,
             certification: dict | None = None) -> dict:
    """What run.json records about the model and data, as `evoprune prune` records it (`data` as the run uses it,
    its certification images taken out; `certification`: their record)."""
    return {"model": os.path.abspath(model), "preset": preset,
            "data": {"name": data.name, "source": data.source, "split": data.split.to_dict(),
                     "sizes": data.sizes(), "search_set": eval_set,
                     **({"certification": certification} if certification else {})}}


# ----- the baseline cache -----
def default_cache() -> str:
    """Where trained baselines are kept: $EVOPRUNE_BASELINES, else evoprune/baselines in the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "evoprune", "baselines")


def baseline_key(data: PreparedData, training: models.TrainConfig) -> str:
    """A digest of everything that shapes a trained baseline's weights: equal digests, the same weights.

    The images and labels (their content, so a moved file still hits and a changed one does
    not), the split, the training settings, the architecture, the versions of the libraries
    that train it (TRAINING_LIBRARIES), and the CPU type (float results can differ in the last
    bits between them). Nothing else: installing Ray or upgrading evoprune keeps the baseline.
    """
    # Layer by layer: a model's own config also holds the running number Keras gives its input layer.
    architecture = [layer.get_config()
                    for layer in models.ARCHITECTURES[training.architecture](data.x_train.shape[1:]).layers]
    versions = {k: v for k, v in package_versions().items() if k in TRAINING_LIBRARIES}
    h = hashlib.sha256(json.dumps({"dataset": data.name, "split": data.split.to_dict(), "training": training.to_dict(),
                                   "architecture": architecture, "input": list(data.x_train.shape[1:]),
                                   "versions": versions, "cpu": cpu()}, sort_keys=True).encode())
    for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test):
        h.update(np.ascontiguousarray(a))
    return h.hexdigest()[:16]


def cached_baseline(data: PreparedData, training: models.TrainConfig, cache: str | None = None,
                    progress: bool = True, say: Callable[[str], None] = print) -> str:
    """The model trained on `data` with `training`: from CACHE/<dataset>-<key>/, or trained there now.

    Says which: "trained baseline → PATH" or "reused baseline PATH".
    """
    cache = cache or default_cache()
    folder = os.path.join(cache, f"{data.name}-{baseline_key(data, training)}")
    model = os.path.join(folder, "model.keras")
    if os.path.exists(os.path.join(folder, "baseline.json")):
        say(f"reused baseline {model}")
        return model
    # Train in a private folder and rename it: an interrupted or concurrent training never
    # leaves a half-written baseline where another run would take it.
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the baseline cache {cache} ({e.strerror}); choose one with --baselines") from None
    tmp = os.path.join(cache, f".training-{os.getpid()}-{os.path.basename(folder)}")
    try:
        train_baseline(data, training, tmp, progress=progress)
        os.rename(tmp, folder)
    except OSError:
        if not os.path.exists(os.path.join(folder, "baseline.json")):
            raise
        # else another process finished the same baseline first: use that one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone once renamed
    say(f"trained baseline → {model}")
    return model


def model_and_data(model: str | None, dataset: str | None, data_path: str | None,
                   training: models.TrainConfig | None, val_fraction: float, cache: str | None = None,
                   progress: bool = True, say: Callable[[str], None] = print) -> tuple[str, PreparedData]:
    """The model file and data of an experiment: `model` with the split recorded beside it, or a cached baseline
    trained with `training` on a split seeded by its seed."""
    data = experiment_data(model, dataset, data_path, training, val_fraction)
    return model_file(model, data, training, cache, progress, say), data


def experiment_data(model: str | None, dataset: str | None, data_path: str | None,
                    training: models.TrainConfig | None, val_fraction: float) -> PreparedData:
    """The data of `model_and_data`, read and checked without training anything."""
    if model is not None:
        return data_for(read_baseline(model), dataset, data_path)
    return prepare(dataset or DEFAULT_DATASET, data_path, Split(training.seed, val_fraction))


def model_file(model: str | None, data: PreparedData, training: models.TrainConfig | None, cache: str | None = None,
               progress: bool = True, say: Callable[[str], None] = print) -> str:
    """The model of `model_and_data`: `model` itself, or the cached baseline trained with `training` on `data`."""
    return model if model is not None else cached_baseline(data, training, cache, progress, say)
