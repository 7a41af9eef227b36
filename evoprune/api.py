"""The Python API: prune any Keras model with Dense/Conv2D layers on the user's own arrays, into a run folder."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import _faults
from .algorithms import config_record, importance_for
from .errors import ConfigError
from .evaluation import registry
from .executors import executor_name, make_executor
from .network import models
from .network.calibration import calibration_images
from .network.masks import Masks
from .network.refit import refit
from .problem import importance
from .problem.data import hold_out
from .problem.problem import Problem
from .pruned import export, front
from .pruned.finetune import finetune_report
from .pruned.certify import certify_run, check_images
from .pruned.report import coverage, say_skipped, summarize
from .results import io
from .results.checkpoint import warn
from .results.manifest import environment, now
from .results.progress import LayerProgress
from .results.run_folder import SEARCH_MASKS, RunFolder
from .search import SearchConfig, prepare, search


@dataclass
class PruneResult:
    """What a search found: the masks, the pruned model, and the summary figures (test set)."""

    masks: Masks
    pruned_model: object
    summary: dict
    out: str | None
    front: list[dict] | None = None  # a multi-objective search's front.csv rows
    finetuned_model: object = None


def refit_step(model, masks: Masks, x_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
               summary: dict, calibration: str = "images") -> object:
    """Re-fit the kept weights of `masks` on the `calibration` images of `x_fit`; the summary's final figures
    become the re-fitted model's (the masked model's are kept beside them). Returns the re-fitted model."""
    refitted, report = refit(model, masks, calibration_images(x_fit, calibration))
    loss, accuracy = models.evaluate(refitted, x_test, y_test)
    summary.update(refit=True, final_accuracy_before_refit=summary["final_accuracy"],
                   final_loss_before_refit=summary["final_loss"], final_accuracy=accuracy, final_loss=loss,
                   trade_off=summary["sparsity_layer_mean"] * accuracy / summary["baseline_accuracy"],
                   refit_report=report)
    return refitted


def prune(model, x_search: np.ndarray, y_search: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
          algorithm: str = "sa", config: SearchConfig | None = None, *, x_train: np.ndarray | None = None,
          y_train: np.ndarray | None = None, out: str | None = None, force: bool = False, resume: bool = False,
          checkpoint_every: int = 25, checkpoint_seconds: float = 60.0, executor: str | None = None,
          workers: int | None = None,
          executor_options: dict | None = None, progress: bool = True, customize: Callable | None = None,
          callbacks: Sequence = (), scores: dict | None = None, run_info: dict | None = None,
          finetune_epochs: int = 0, imports: Sequence[str] = (), say: Callable[[str], None] = warn,
          certification: tuple[np.ndarray, np.ndarray] | None = None) -> PruneResult:
    """Search masks for `model` with `algorithm`, deciding on (x_search, y_search), reporting on the test set.

    The steps, each usable on its own: `Problem` + `search()` (where evaluations run:
    `executor` "serial", "process" or "ray", with `workers` and `executor_options` such as
    `{"address": "HOST:6379"}`; by default serial, or a process pool when `workers` are given),
    a `RunFolder` in `out` (history.csv as it goes, a checkpoint after every genome and at most
    every `checkpoint_every` evaluations or `checkpoint_seconds` seconds, mid-step included, and
    run.json; `resume=True` continues the run in `out` exactly), `summarize` (test figures), then the front of a
    multi-objective search (front.csv, front_masks.npz), the compressed export and, with
    `finetune_epochs` > 0, masked fine-tuning on (x_train, y_train).

    `customize(toolbox)` swaps DEAP operators once, before the first evaluation, e.g.
    `customize=lambda tb: tb.register("mate", deap.tools.cxTwoPoint)`. `scores` passes
    precomputed importance scores (else computed from x_train); `callbacks` are more search
    callbacks (`search.Callback`). `imports` are modules registering the model's custom Keras classes,
    imported by every worker (and recorded in run.json); `say` gets the run's opening notice: the layers
    holding weights that are not pruned.

    With `config.certify` (the default) the answer is certified (`pruned.certify`) on the `certification`
    images (x, y), which the search never sees; without them `config.certify_fraction` of the search images
    are held out for it. masks.npz and pruned.keras are then the certified answer, search_masks.npz the
    search's own masks, and summary.json's headline figures the answer's, the search's kept under "search".
    """
    config = config or SearchConfig()
    executor = executor_name(executor, workers)
    if config.certify:
        if certification is None:  # the user's search images: a share of them is never shown to the search
            (x_search, y_search), certification = hold_out(x_search, y_search, config.certify_fraction, 0)
        check_images(len(certification[1]), config.delta, config.confidence)
    problem = Problem(model, x_search, y_search, **config.objective_settings(), refit=config.refit == "loop",
                      refit_folds=config.refit_folds, calibration=config.calibration, imports=imports)
    algo, config = prepare(problem, algorithm, config)
    kind = importance_for(algo, config)
    if kind not in (None, "magnitude") and x_train is None:
        raise ConfigError(f"{kind} importance needs the training images (x_train, y_train)")
    if (finetune_epochs > 0 or config.refit == "after") and x_train is None:
        raise ConfigError("fine-tuning and re-fitting need the training images (x_train, y_train)")
    folder = RunFolder(out, force=force, resume=resume, checkpoint_every=checkpoint_every,
                       checkpoint_seconds=checkpoint_seconds) if out else None
    say_skipped(model, say)
    if scores is None and kind is not None:
        scores = importance.compute(kind, model, problem.specs, x_train, y_train, config.calibration)
    recording = [] if folder is None else folder.start({
        "algorithm": algo.name, "config": config_record(algo, config), "executor": executor, "workers": workers,
        "executor_options": executor_options or {}, "checkpoint_every": checkpoint_every,
        "checkpoint_seconds": checkpoint_seconds, "imports": list(problem.imports), "started": now(),
        **(run_info or {}), **environment()})
    ex = make_executor(executor, workers, **(executor_options or {}))
    try:
        with ex:
            ex.start(problem)
            result = search(problem, algo, config, map_fn=ex.map, scores=scores,
                            callbacks=[*recording[:1], LayerProgress(progress), *callbacks, *recording[1:]],
                            state=folder.state if folder else None, customize=customize)
    finally:
        registry.uninstall(problem.token)
        if folder is not None:
            folder.close()

    summary = summarize(model, result, x_test, y_test)
    masks, pruned = result.masks, models.masked_copy(model, result.masks)
    fit = None if config.refit == "no" else x_train if config.refit == "after" else x_search
    if fit is not None:  # on the training images, or on the search images the search re-fitted on
        pruned = refit_step(model, result.masks, fit, x_test, y_test, summary, config.calibration)
    if config.certify:
        _faults.before_certification()  # tests kill the process here: its search done, its answer not yet chosen
        answer = certify_run(model, result.masks, scores if scores is not None else
                             importance.magnitude(model, problem.specs), certification, (x_test, y_test), config, fit)
        masks, pruned = answer.masks, answer.model
        _certified_summary(summary, model, answer, x_test, y_test)
    front_rows, tuned = None, None
    if result.front is not None:  # a multi-objective search's whole front, with test figures for reporting only
        front_rows = front.report(model, result.front, result.masks, x_test, y_test, out)
        summary["front_points"] = len(front_rows)
    summary["export"] = export.export_sizes(model, pruned, out)
    if finetune_epochs > 0:  # from the re-fitted weights when there are
        tuned, summary["finetune"] = finetune_report(pruned, masks, x_train, y_train, x_test, y_test,
                                                     finetune_epochs)
        summary["finetune_epochs"] = finetune_epochs
        summary["finetune"]["export"] = export.export_sizes(model, tuned, out, "finetuned")
    if folder is not None:
        if config.certify:
            io.save_npz(folder.path(SEARCH_MASKS), dict(result.masks))
        folder.finish(masks, summary, {"pruned": pruned, **({"finetuned": tuned} if tuned else {})},
                      getattr(ex, "events", []))
    return PruneResult(masks, pruned, summary, out, front_rows, tuned)


def _certified_summary(summary: dict, model, answer, x_test: np.ndarray, y_test: np.ndarray) -> None:
    """The answer's figures become summary.json's headline ones; the search's own are kept under "search"."""
    keys = ("sparsity_global", "sparsity_layer_mean", "sparsity_all_weights", "final_accuracy", "final_loss",
            "trade_off")
    summary["search"] = {k: summary[k] for k in keys}
    loss, accuracy = models.evaluate(answer.model, x_test, y_test)
    record = answer.record
    summary.update(final_accuracy=accuracy, final_loss=loss, sparsity_global=record["sparsity_global"],
                   sparsity_layer_mean=record["sparsity_layer_mean"],
                   trade_off=record["sparsity_layer_mean"] * accuracy / summary["baseline_accuracy"],
                   certified=record, **coverage(model, answer.masks))
