"""The Python API: prune any Keras model with Dense/Conv2D layers on the user's own arrays, into a run folder."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from . import _faults
from .algorithms import config_record, importance_for
from .errors import ConfigError
from .evaluation import registry
from .executors import executor_name, make_executor
from .network import models
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


Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Images:
    """The images of a pruning run, each an (x, y) pair: those the search decides on, those it is reported on, the
    training images (for importances computed from images, a re-fit after the search and fine-tuning), and the
    certification images no search sees (default: `config.certify_fraction` of the search images held out)."""

    search: Pair
    test: Pair
    train: Pair | None = None
    certification: Pair | None = None


@dataclass(frozen=True)
class Folder:
    """Where a run is written: history.csv as it goes, a checkpoint after every genome and at most every
    `checkpoint_every` evaluations or `checkpoint_seconds` seconds (mid-step included), run.json (with `record`
    added) and the final files. `resume=True` continues the run in `out` exactly; `force=True` overwrites another."""

    out: str
    force: bool = False
    resume: bool = False
    checkpoint_every: int = 25
    checkpoint_seconds: float = 60.0
    record: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class Execution:
    """Where evaluations run: `executor` "serial", "process" or "ray" with `workers` (default: serial, or a
    process pool when `workers` are given) and its `options` (e.g. {"address": "HOST:6379"}); `imports` are modules
    registering the model's custom Keras classes, imported by every worker (and recorded in run.json)."""

    executor: str | None = None
    workers: int | None = None
    options: Mapping = field(default_factory=dict)
    imports: Sequence[str] = ()


@dataclass(frozen=True)
class Hooks:
    """What a caller plugs into a run: `customize(toolbox)` swaps DEAP operators once, before the first evaluation
    (e.g. `lambda tb: tb.register("mate", deap.tools.cxTwoPoint)`); `callbacks` are more search callbacks
    (`search.Callback`); `progress` shows progress bars; `say` gets the run's opening notice (the layers holding
    weights that are not pruned)."""

    customize: Callable | None = None
    callbacks: Sequence = ()
    progress: bool = True
    say: Callable[[str], None] = warn


def refit_step(model, masks: Masks, x_fit: np.ndarray, test: Pair, summary: dict) -> object:
    """Re-fit the kept weights of `masks` on `x_fit`; the summary's final figures become the re-fitted model's on
    `test` (the masked model's are kept beside them). Returns the re-fitted model."""
    refitted, report = refit(model, masks, x_fit)
    loss, accuracy = models.evaluate(refitted, *test)
    summary.update(refit=True, final_accuracy_before_refit=summary["final_accuracy"],
                   final_loss_before_refit=summary["final_loss"], final_accuracy=accuracy, final_loss=loss,
                   trade_off=summary["sparsity_layer_mean"] * accuracy / summary["baseline_accuracy"],
                   refit_report=report)
    return refitted


def prune(model, images: Images, algorithm: str = "sa", config: SearchConfig | None = None, *,
          folder: Folder | str | None = None, execution: Execution = Execution(), hooks: Hooks = Hooks(),
          scores: dict | None = None, finetune_epochs: int = 0) -> PruneResult:
    """Search masks for `model` with `algorithm`, deciding on `images.search`, reporting on `images.test`.

    The steps, each usable on its own: `Problem` + `search()` (evaluations where `execution` says), a `RunFolder`
    in `folder` (a path, or a `Folder` with its checkpoint and resume options), `summarize` (test figures), then
    the front of a multi-objective search (front.csv, front_masks.npz), the compressed export and, with
    `finetune_epochs` > 0, masked fine-tuning on `images.train`. `scores` passes precomputed importance scores (else
    computed from the training images).

    With `config.certify` (the default) the answer is certified (`pruned.certify`) on `images.certification`,
    which the search never sees; without them `config.certify_fraction` of the search images are held out for it.
    masks.npz and pruned.keras are then the certified answer, search_masks.npz the search's own masks, and
    summary.json's headline figures the answer's, the search's kept under "search".
    """
    config = config or SearchConfig()
    folder = Folder(folder) if isinstance(folder, str) else folder
    executor = executor_name(execution.executor, execution.workers)
    (x_search, y_search), certification, train = images.search, images.certification, images.train
    if config.certify:
        if certification is None:  # the user's search images: a share of them is never shown to the search
            (x_search, y_search), certification = hold_out(x_search, y_search, config.certify_fraction, 0)
        check_images(len(certification[1]), config.delta, config.confidence)
    problem = Problem(model, x_search, y_search, config.goal(), scoring="refit" if config.refit == "loop"
                      else "incremental", imports=execution.imports)
    algo, config = prepare(problem, algorithm, config)
    kind = importance_for(algo, config)
    if kind not in (None, "magnitude") and train is None:
        raise ConfigError(f"{kind} importance needs the training images (Images(train=(x, y)))")
    if (finetune_epochs > 0 or config.refit == "after") and train is None:
        raise ConfigError("fine-tuning and re-fitting need the training images (Images(train=(x, y)))")
    run_folder = RunFolder(folder.out, force=folder.force, resume=folder.resume,
                           checkpoint_every=folder.checkpoint_every,
                           checkpoint_seconds=folder.checkpoint_seconds) if folder else None
    out = folder.out if folder else None
    say_skipped(model, hooks.say)
    if scores is None and kind is not None:
        scores = importance.compute(kind, model, problem.specs, *(train or (None, None)))
    recording = [] if run_folder is None else run_folder.start({
        "algorithm": algo.name, "config": config_record(algo, config), "executor": executor,
        "workers": execution.workers, "executor_options": dict(execution.options),
        "checkpoint_every": folder.checkpoint_every, "checkpoint_seconds": folder.checkpoint_seconds,
        "imports": list(problem.imports), "started": now(), **folder.record, **environment()})
    ex = make_executor(executor, execution.workers, **execution.options)
    try:
        with ex:
            ex.start(problem)
            result = search(problem, algo, config, map_fn=ex.map, scores=scores,
                            callbacks=[*recording[:1], LayerProgress(hooks.progress), *hooks.callbacks,
                                       *recording[1:]],
                            state=run_folder.state if run_folder else None, customize=hooks.customize)
    finally:
        registry.uninstall(problem.token)
        if run_folder is not None:
            run_folder.close()

    test = images.test
    summary = summarize(model, result, *test)
    masks, pruned = result.masks, models.masked_copy(model, result.masks)
    fit = None if config.refit == "no" else train[0] if config.refit == "after" else x_search
    if fit is not None:  # on the training images, or on the search images the search re-fitted on
        pruned = refit_step(model, result.masks, fit, test, summary)
    if config.certify:
        _faults.before_certification()  # tests kill the process here: its search done, its answer not yet chosen
        answer = certify_run(model, result.masks, scores if scores is not None else
                             importance.magnitude(model, problem.specs), certification, test, config, fit)
        masks, pruned = answer.masks, answer.model
        _certified_summary(summary, model, answer, *test)
    front_rows, tuned = None, None
    if result.front is not None:  # a multi-objective search's whole front, with test figures for reporting only
        front_rows = front.report(model, result.front, result.masks, *test, out)
        summary["front_points"] = len(front_rows)
    summary["export"] = export.export_sizes(model, pruned, out)
    if finetune_epochs > 0:  # from the re-fitted weights when there are
        tuned, summary["finetune"] = finetune_report(pruned, masks, *train, *test, finetune_epochs)
        summary["finetune_epochs"] = finetune_epochs
        summary["finetune"]["export"] = export.export_sizes(model, tuned, out, "finetuned")
    if run_folder is not None:
        if config.certify:
            io.save_npz(run_folder.path(SEARCH_MASKS), dict(result.masks))
        run_folder.finish(masks, summary, {"pruned": pruned, **({"finetuned": tuned} if tuned else {})},
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
