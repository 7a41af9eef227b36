"""The Python API: prune any Keras model with Dense/Conv2D layers on the user's own arrays."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping, Sequence

import numpy as np

from . import models
from . import checkpoint, export, front, importance
from .algorithms import algorithm_class, importance_for
from .config import SearchConfig
from .errors import ConfigError
from .executors import make_executor
from .finetune import finetune_report
from .masks import Masks, sparsity_global, sparsity_layer_mean
from .problem import EvaluateMasks, PruningProblem
from .progress import LayerProgress
from .results import io
from .results.history import HistoryWriter
from .results.manifest import environment, now

RUN_FILES = ("history.csv", "summary.json", "run.json", "masks.npz", "pruned.keras", "checkpoint.pkl",
             "pruned.sparse.npz", "finetuned.keras", "finetuned.sparse.npz", front.FRONT_CSV, front.FRONT_MASKS)


@dataclass
class PruneResult:
    """What a search found: the masks, the pruned model, and the summary figures (test set)."""

    masks: Masks
    pruned_model: object
    summary: dict
    out: str | None
    front: list[dict] | None = None  # a multi-objective search's front.csv rows
    finetuned_model: object = None


def check_out(out: str, force: bool = False) -> list[str]:
    """The run files already in `out`; refuses a folder holding another run unless `force`."""
    existing = [f for f in RUN_FILES if os.path.exists(os.path.join(out, f))]
    if existing and not force:
        raise ConfigError(f"{out} already holds a run ({', '.join(existing)}); choose another --out or pass --force")
    return existing


def prepare_out(out: str, force: bool = False) -> str:
    """Create the output folder, clearing a previous run's files only when `force`."""
    for f in check_out(out, force):
        os.remove(os.path.join(out, f))
    os.makedirs(out, exist_ok=True)
    return out


def test_figures(model, masks: Mapping[str, np.ndarray], kernels: Mapping[str, np.ndarray], x, y) -> tuple[float, float]:
    """Keras' own loss and accuracy of `model` with `masks` applied (the model is restored afterwards)."""
    models.apply_masks(model, masks, kernels)
    try:
        return models.evaluate(model, x, y)
    finally:
        models.apply_masks(model, {k: np.ones_like(v, bool) for k, v in masks.items()}, kernels)


def prune(model, x_search: np.ndarray, y_search: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
          algorithm: str = "sa", config: SearchConfig | None = None, *, out: str | None = None,
          force: bool = False, executor: str = "serial", workers: int | None = None,
          executor_options: dict | None = None, progress: bool = True,
          customize: Callable | None = None, run_info: dict | None = None,
          x_train: np.ndarray | None = None, y_train: np.ndarray | None = None,
          checkpoint_every: int = 25, resume: bool = False, scores: dict | None = None,
          callbacks: Sequence = (), finetune_epochs: int = 0) -> PruneResult:
    """Search pruning masks for `model` with `algorithm`, deciding on (x_search, y_search), reporting on the test set.

    `executor` ("serial", "process" or "ray") decides where evaluations run, with `workers`
    processes and `executor_options` (e.g. `{"address": "HOST:6379"}` for a Ray cluster).
    `customize(toolbox)` may swap DEAP operators before the search starts, e.g.
    `customize=lambda tb: tb.register("mate", deap.tools.cxTwoPoint)`. With `out`, the run's
    files (history.csv, summary.json, run.json, masks.npz, pruned.keras) are written there,
    with a checkpoint after every layer and every `checkpoint_every` steps; `resume=True`
    continues the run in `out` from its last checkpoint, exactly as if it had not stopped.
    `scores` passes precomputed importance scores; `callbacks` are more `Callback`s.
    With `finetune_epochs` > 0 the pruned model is then fine-tuned on (x_train, y_train) with its
    masks held fixed (finetuned.keras, `finetune` in summary.json). NSGA-II also writes its front
    (front.csv with test figures computed after the search, front_masks.npz).
    """
    config = config or SearchConfig()
    cls = algorithm_class(algorithm, config)
    specs = models.prunable_layers(model)
    config.validate(algorithm, len(specs))
    kind = importance_for(algorithm, config)
    if kind in ("saliency", "reconstruction") and x_train is None:
        raise ConfigError(f"{kind} importance needs the training images (x_train, y_train)")
    if finetune_epochs > 0 and x_train is None:
        raise ConfigError("fine-tuning needs the training images (x_train, y_train)")
    state, run = None, None
    if resume:
        state, run = _resume_state(out)
    elif out is not None:
        prepare_out(out, force)
    problem = PruningProblem.from_model(model, x_search, y_search)
    if scores is None and kind is not None:
        scores = importance.compute(kind, model, specs, x_train, y_train)
    history = HistoryWriter(os.path.join(out, "history.csv")) if out is not None else None
    callbacks = [LayerProgress(progress), *callbacks]
    if history is not None:
        callbacks = [history, *callbacks, checkpoint.Checkpointer(out, checkpoint_every)]
    if run is None:
        run = {"algorithm": algorithm, "config": config.to_dict(), "executor": executor, "workers": workers,
               "executor_options": executor_options or {}, "checkpoint_every": checkpoint_every,
               "started": now(), **(run_info or {}), **environment()}
    if out is not None:
        io.write_json(os.path.join(out, "run.json"), run)
    ex = make_executor(executor, workers, **(executor_options or {}))
    try:
        with ex:
            ex.start(problem)
            search = cls(specs, config, partial(EvaluateMasks, problem.token), map_fn=ex.map,
                         layer_count=len(model.layers), callbacks=callbacks, scores=scores, state=state)
            if customize is not None:
                customize(search.toolbox)
            state = search.run()
    finally:
        problem.uninstall()
        if history is not None:
            history.close()

    summary = summarize(model, specs, state, algorithm, config, x_test, y_test)
    pruned = models.clone(model)
    models.apply_masks(pruned, state.masks)
    front_rows, tuned = None, None
    if hasattr(search, "front"):  # a multi-objective search: its whole front, test figures for reporting only
        front_rows = front.report(model, search.front(), state.masks, x_test, y_test, out)
        summary["front_points"] = len(front_rows)
    summary["export"] = export.export_sizes(model, pruned, out)
    if finetune_epochs > 0:
        tuned, summary["finetune"] = finetune_report(model, state.masks, x_train, y_train, x_test, y_test,
                                                     finetune_epochs)
        summary["finetune"]["export"] = export.export_sizes(model, tuned, out, "finetuned")
    if out is not None:
        io.save_npz(os.path.join(out, "masks.npz"), state.masks)
        io.save_keras(os.path.join(out, "pruned.keras"), pruned)
        if tuned is not None:
            io.save_keras(os.path.join(out, "finetuned.keras"), tuned)
        io.write_json(os.path.join(out, "summary.json"), summary)
        run.update(finished=now(), executor_events=run.get("executor_events", []) + getattr(ex, "events", []))
        io.write_json(os.path.join(out, "run.json"), run)
        done = os.path.join(out, checkpoint.CHECKPOINT)
        if os.path.exists(done):  # the run is complete: nothing to resume
            os.remove(done)
    return PruneResult(state.masks, pruned, summary, out, front_rows, tuned)


def _resume_state(out: str | None):
    """The checkpointed state of the run in `out`, with its history cut back to match, and its run.json."""
    if out is None or not os.path.exists(os.path.join(out, checkpoint.CHECKPOINT)):
        raise ConfigError(f"{out}: no checkpoint to resume from")
    state = checkpoint.load(out)
    checkpoint.truncate_history(os.path.join(out, "history.csv"), state.history_rows)
    run = io.read_json(os.path.join(out, "run.json"))
    run.setdefault("resumes", []).append({"time": now(), "evaluations": state.evaluations,
                                          "layer": state.layer_pos, "history_rows": state.history_rows})
    return state, run


def summarize(model, specs, state, algorithm: str, config: SearchConfig, x_test, y_test) -> dict:
    """The run's figures: search-set figures from the search, every reported figure from the test set."""
    kernels = models.kernels(model, specs)
    ones = {s.name: np.ones(s.shape, bool) for s in specs}
    base_loss, base_acc = test_figures(model, ones, kernels, x_test, y_test)
    layers, masks_so_far = [], dict(ones)
    for layer in state.layers:
        masks_so_far[layer["name"]] = state.masks[layer["name"]]
        loss, acc = test_figures(model, masks_so_far, kernels, x_test, y_test)
        layers.append({**layer, "accuracy": acc, "loss": loss})
    final_loss, final_acc = test_figures(model, state.masks, kernels, x_test, y_test)
    s_mean = sparsity_layer_mean(state.masks)
    return {
        "algorithm": algorithm, "seed": config.seed, "eval_set": config.eval_set,
        "baseline_accuracy": base_acc, "baseline_loss": base_loss,
        "final_accuracy": final_acc, "final_loss": final_loss,
        "search_baseline_accuracy": state.baseline.accuracy, "search_baseline_loss": state.baseline.loss,
        "search_final_accuracy": state.current.accuracy, "search_final_loss": state.current.loss,
        "sparsity_layer_mean": s_mean, "sparsity_global": sparsity_global(state.masks),
        "trade_off": s_mean * final_acc / base_acc if base_acc > 0 else 0.0,
        "evaluations": state.evaluations, "budget": config.budget,
        "seconds": state.seconds,
        "evaluations_per_second": state.evaluations / state.seconds if state.seconds > 0 else 0.0,
        "layers": layers,
    }
