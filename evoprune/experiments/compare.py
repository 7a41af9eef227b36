"""Batch comparisons: every algorithm × seed pruned with the same budget, then one table and set of figures for all."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from typing import Mapping

import numpy as np
from tqdm.auto import tqdm

from ..algorithms import check_budget, config_record, importance_for, make_algorithm, units
from ..api import prune
from ..errors import ConfigError
from ..network import models
from ..network.models import TrainConfig
from ..problem.data import PreparedData, Split, prepare
from ..results import io
from ..results.aggregate import MANIFEST, RUNS_DIR
from ..results.manifest import environment, now
from ..search import Callback
from ..search.config import SearchConfig, with_settings
from .baselines import data_for, read_baseline, run_info, search_data, train_baseline

# The baseline `compare` trains when no model is given: Adam converges in far fewer epochs than
# the study's SGD at 0.1, which makes one command from a fresh install practical.
DEFAULT_TRAINING = TrainConfig(epochs=100, optimizer="adam", learning_rate=0.005, batch_size=128, seed=0)
DEFAULT_VAL_FRACTION = 0.2
CACHE_DIR = ".baselines"


def algorithm_configs(base: SearchConfig, settings: Mapping[str, dict]) -> dict[str, SearchConfig]:
    """One config per algorithm: `base` with that algorithm's settings on top."""
    return {a: with_settings(base, **s) for a, s in settings.items()}


# ----- the baseline -----
def baseline_key(data: PreparedData, training: TrainConfig) -> str:
    """A digest of the images, labels, split and training settings: equal digests, interchangeable baselines.

    The data's content is hashed rather than its path, so a moved file still hits the cache
    and a changed one does not.
    """
    h = hashlib.sha256(json.dumps({"dataset": data.name, "split": data.split.to_dict(),
                                   "training": training.to_dict()}, sort_keys=True).encode())
    for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test):
        h.update(np.ascontiguousarray(a))
    return h.hexdigest()[:16]


def cached_baseline(data: PreparedData, training: TrainConfig, cache: str, progress: bool = True) -> str:
    """The model trained on `data` with `training`, from CACHE/<dataset>-<key>/ or trained there now."""
    folder = os.path.join(cache, f"{data.name}-{baseline_key(data, training)}")
    if not os.path.exists(os.path.join(folder, "baseline.json")):
        # Train in a private folder and rename it: an interrupted or concurrent training never
        # leaves a half-written baseline where another compare would take it.
        tmp = os.path.join(cache, f".training-{os.getpid()}-{os.path.basename(folder)}")
        os.makedirs(tmp, exist_ok=True)
        try:
            train_baseline(data, training, tmp, progress=progress)
            os.rename(tmp, folder)
        except OSError:
            if not os.path.exists(os.path.join(folder, "baseline.json")):
                raise
            # else another compare finished the same baseline first: use that one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone once renamed
    return os.path.join(folder, "model.keras")


def baseline_and_data(out: str, model: str | None = None, dataset: str | None = None, data_path: str | None = None,
                      training: TrainConfig | None = None, val_fraction: float | None = None,
                      cache: str | None = None, progress: bool = True) -> tuple[str, PreparedData]:
    """The model file and data of a comparison: `model` with the split recorded beside it, or a cached baseline.

    Without `model`, LeNet-5 is trained with `training` (default DEFAULT_TRAINING) on a split
    seeded by its seed, and cached in `cache` (default OUT/../.baselines) for the next compare.
    """
    if model is not None:
        return model, data_for(read_baseline(model), dataset, data_path)
    training = training or DEFAULT_TRAINING
    split = Split(training.seed, DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction)
    data = prepare(dataset or "mnist", data_path, split)
    cache = cache or os.path.join(os.path.dirname(os.path.abspath(out)), CACHE_DIR)
    return cached_baseline(data, training, cache, progress), data


# ----- the runs -----
def run_name(algorithm: str, seed: int) -> str:
    return f"{algorithm}-seed{seed}"


def check_plan(configs: Mapping[str, SearchConfig], seeds: int, n_layers: int) -> None:
    """Raise ConfigError for a seed count or any algorithm's setting that cannot run on `n_layers` layers."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    for algorithm, config in configs.items():
        algo = make_algorithm(algorithm, config.validate())
        check_budget(algo, config, units(algo, config, n_layers))


def _finished(folder: str, algorithm: str, config: SearchConfig, model: str) -> bool:
    """Whether `folder` holds this very run, finished; a finished run of other settings is an error."""
    if not os.path.exists(os.path.join(folder, "summary.json")):
        return False
    info = io.read_json(os.path.join(folder, "run.json"))
    record = config_record(make_algorithm(algorithm, config), config)
    if info.get("config") != record or info.get("model") != os.path.abspath(model):
        raise ConfigError(f"{folder} holds a run with another model or other settings; "
                          "pass --force to redo it or choose another --out")
    return True


class _CountEvaluations(Callback):
    """Advances the overall progress bar by every evaluation a run makes."""

    def __init__(self, bar):
        self.bar, self.seen = bar, 0

    def on_step_end(self, search) -> None:
        self.bar.update(search.state.evaluations - self.seen)
        self.seen = search.state.evaluations

    def on_unit_end(self, search, entry: dict) -> None:
        self.on_step_end(search)


def _scores(cache: dict, algorithm: str, config: SearchConfig, model, data: PreparedData):
    """Importance scores, computed once per kind for all runs (they depend on the model and data only)."""
    from ..problem import importance

    kind = importance_for(make_algorithm(algorithm, config), config)
    if kind is not None and kind not in cache:
        cache[kind] = importance.compute(kind, model, models.prunable_layers(model), data.x_train, data.y_train)
    return cache.get(kind)


def compare(model: str, data: PreparedData, configs: Mapping[str, SearchConfig], seeds: int, out: str, *,
            preset: str | None = None, executor: str = "serial", workers: int | None = None,
            executor_options: dict | None = None, force: bool = False, progress: bool = True) -> dict[str, dict]:
    """Prune `model` with every algorithm × seed 0..seeds-1 into OUT/runs/<algorithm>-seed<k>/ and write the report.

    `configs` maps each algorithm to its settings (the seed is replaced per run); `executor`,
    `workers` and `executor_options` go to every `prune` call. A run whose folder already has
    a summary.json is kept unless `force`, so an interrupted compare resumes. Returns every
    run's summary by run name.
    """
    first = models.load_model(model)
    models.check_input_shape(first, data.x_test)
    check_plan(configs, seeds, len(models.prunable_layers(first)))
    plan = [(a, replace(c, seed=k)) for a, c in configs.items() for k in range(seeds)]
    os.makedirs(os.path.join(out, RUNS_DIR), exist_ok=True)
    io.write_json(os.path.join(out, MANIFEST), {
        "algorithms": list(configs), "seeds": seeds, "configs": {a: config_record(make_algorithm(a, c), c) for a, c in configs.items()},
        "model": os.path.abspath(model), "baseline": read_baseline(model), "started": now(), **environment()})

    folders = {run_name(a, c.seed): os.path.join(out, RUNS_DIR, run_name(a, c.seed)) for a, c in plan}
    todo = [(a, c) for a, c in plan if force or not _finished(folders[run_name(a, c.seed)], a, c, model)]
    scores: dict = {}
    done_budget = sum(c.budget for _, c in plan) - sum(c.budget for _, c in todo)
    with tqdm(total=sum(c.budget for _, c in plan), initial=done_budget, unit="eval", disable=not progress,
              dynamic_ncols=True) as bar:
        for i, (algorithm, config) in enumerate(todo, 1):
            name = run_name(algorithm, config.seed)
            bar.set_description(f"run {len(plan) - len(todo) + i}/{len(plan)} {name}")
            x, y = search_data(data, config.eval_set)
            # Each run starts from the model file, exactly as `evoprune prune` would; one that was
            # stopped midway continues from its checkpoint.
            fresh = models.load_model(model)
            resume = not force and os.path.exists(os.path.join(folders[name], "checkpoint.pkl"))
            result = prune(fresh, x, y, data.x_test, data.y_test, algorithm, config,
                           out=folders[name], force=True, resume=resume, executor=executor, workers=workers,
                           executor_options=executor_options, progress=False, x_train=data.x_train,
                           y_train=data.y_train, scores=_scores(scores, algorithm, config, fresh, data),
                           callbacks=[_CountEvaluations(bar)] if progress else (),
                           run_info=run_info(model, preset, data, config.eval_set))
            done_budget += config.budget
            bar.update(done_budget - bar.n)  # a search may stop short of its budget
            s = result.summary
            bar.write(f"{name}: test accuracy {s['final_accuracy']:.4f}, sparsity {s['sparsity_layer_mean']:.4f} "
                      f"(layer mean), {s['evaluations']} evaluations in {s['seconds']:.1f} s")
    report(out)
    return {name: io.read_json(os.path.join(folder, "summary.json")) for name, folder in folders.items()}


def report(out: str) -> list[str]:
    """Write OUT/summary.md, summary.csv, results.png and tradeoff.png from the run files alone (no TensorFlow)."""
    from ..results import aggregate, plots

    runs = aggregate.load_runs(out)
    if not runs:
        raise ConfigError(f"{out}: no finished runs (no {RUNS_DIR}/*/summary.json)")
    return aggregate.write_tables(out, runs) + plots.write_figures(out, runs)
