"""Gradual pruning while training (Zhu & Gupta 2017), Keras 3 native: tfmot's polynomial-decay schedule."""
from __future__ import annotations

import itertools
import math
import resource
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from .._tf import import_keras
from ..errors import ConfigError
from ..evaluation import registry
from ..network import models
from ..network.masks import (LayerSpec, Masks, check_masks, full_masks, layer_sparsity, sparsity_global,
                             sparsity_layer_mean)
from ..problem import importance
from ..problem.operators import mut_swap
from ..problem.problem import Problem
from ..search import make_config, search
from .finetune import MaskConstraint, Recipe
from .report import coverage

Rule = Callable[[object, float, Masks], Masks]
"""`rule(model, sparsity, previous_masks) -> masks`: the masks at a pruning step, from the model as it is."""


@dataclass(frozen=True)
class PolynomialDecay:
    """TensorFlow Model Optimization's `PolynomialDecay`: `s(t) = s_f + (s_i − s_f)·(1 − (t − t0)/(n·Δt))^power`.

    Steps are optimizer steps (batches) counted from 0 at the start of training. The masks are
    recomputed before the batch of each step t0 = `begin_step`, t0 + Δt, …, t0 + n·Δt = `end_step`
    (Δt = `frequency`), as tfmot does; `end_step − begin_step` must be a multiple of Δt, so the
    last pruning step reaches `final_sparsity` (tfmot would silently stop short of it).
    """

    initial_sparsity: float
    final_sparsity: float
    begin_step: int
    end_step: int
    frequency: int = 100
    power: int = 3

    def __post_init__(self):
        if not 0.0 <= self.initial_sparsity <= self.final_sparsity < 1.0:
            raise ConfigError(f"sparsities must satisfy 0 <= initial <= final < 1, got {self.initial_sparsity} "
                              f"and {self.final_sparsity}")
        if self.frequency < 1 or not 0 <= self.begin_step <= self.end_step:
            raise ConfigError(f"need 0 <= begin_step <= end_step and frequency >= 1, got {self.begin_step}, "
                              f"{self.end_step} and {self.frequency}")
        if (self.end_step - self.begin_step) % self.frequency:
            raise ConfigError(f"end_step - begin_step ({self.end_step - self.begin_step}) must be a multiple of "
                              f"frequency ({self.frequency}), or the final sparsity is never reached")

    def sparsity(self, step: int) -> float:
        """The target sparsity at `step` (initial before `begin_step`, final from `end_step` on)."""
        span = self.end_step - self.begin_step
        p = 1.0 if span == 0 else min(1.0, max(0.0, (step - self.begin_step) / span))
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power

    def prunes_at(self, step: int) -> bool:
        """Whether the masks are recomputed before `step`'s batch."""
        return self.begin_step <= step <= self.end_step and (step - self.begin_step) % self.frequency == 0

    def steps(self) -> list[int]:
        """Every pruning step, in order."""
        return list(range(self.begin_step, self.end_step + 1, self.frequency))


def score_rule(scores: Callable[[object, Sequence[LayerSpec]], importance.Scores]) -> Rule:
    """A rule that prunes the lowest `scores(model, specs)` globally, the previously pruned weights first."""

    def rule(model, sparsity: float, previous: Masks) -> Masks:
        current = scores(model, models.prunable_layers(model))
        return importance.global_threshold_masks(
            {name: np.where(previous[name], v, -np.inf) for name, v in current.items()}, sparsity)

    return rule


magnitude_rule: Rule = score_rule(importance.magnitude)
"""Global magnitude pruning of the weights as they are at the pruning step."""

RULES = ("magnitude", "reconstruction", "saliency", "search")

SEARCH_BUDGET = 25
"""Evaluations of the search rule's short search per pruning step (41 steps: about a default search's 1,000)."""


def search_rule(x: np.ndarray, y: np.ndarray, budget: int = SEARCH_BUDGET, seed: int = 0) -> Rule:
    """A short search at each step: from the magnitude rule's masks, evoprune's hill climbing (`hc`) trades
    kept weights for the ones this step would prune, one for one (`operators.mut_swap`, registered as the
    toolbox's `mutate`, ranked by |w|), and keeps a trade only when it lowers the loss on (x, y); `budget`
    evaluations per step. The sparsity is the schedule's; weights pruned at earlier steps stay pruned."""
    if budget < 2:
        raise ConfigError(f"the search rule needs a budget of at least 2 evaluations per step, got {budget}")
    steps = itertools.count()  # the pruning steps seen, seeding each step's search apart

    def rule(model, sparsity: float, previous: Masks) -> Masks:
        start = magnitude_rule(model, sparsity, previous)
        step = next(steps)
        if sparsity_global(start) == sparsity_global(previous):
            return start  # nothing to choose at this step
        # δ = 1: no accuracy floor, so every mask of the step's sparsity is feasible and the cost orders them by
        # loss alone; the informed start at the step's sparsity is `start` (pruned weights are exactly 0).
        config = make_config(budget=budget, seed=int(np.random.SeedSequence([seed, step]).generate_state(1)[0]),
                             start_sparsity=sparsity_global(start), delta=1.0, loss_weight=1.0)
        problem = Problem(model, x, y, config.goal())
        movable = problem.layout.genome(previous).astype(bool)

        def swaps(tb):
            tb.register("mutate", mut_swap, rng=tb.rng, genome=tb.genome, movable=movable)

        try:
            found = search(problem, "hc", config, customize=swaps).masks
        finally:
            registry.uninstall(problem.token)
        return found

    return rule


def named_rule(name: str, x_train: np.ndarray | None = None, y_train: np.ndarray | None = None,
               budget: int = SEARCH_BUDGET, seed: int = 0) -> Rule:
    """The rule `name` of `RULES`: |w|, `problem.importance`'s reconstruction or saliency scores computed on
    (x_train, y_train) from the weights as they are at each pruning step, or `search_rule` deciding on them
    (`budget` evaluations a step, seeded by `seed`)."""
    if name == "magnitude":
        return magnitude_rule
    if name not in RULES:
        raise ConfigError(f"unknown rule {name!r} (choose from {', '.join(RULES)})")
    if x_train is None or (name in ("saliency", "search") and y_train is None):
        raise ConfigError(f"the {name} rule needs the training images")
    if name == "search":
        return search_rule(x_train, y_train, budget, seed)
    if name == "reconstruction":
        return score_rule(lambda model, specs: importance.reconstruction(model, specs, x_train))
    return score_rule(lambda model, specs: importance.saliency(model, specs, x_train, y_train))


@dataclass
class GradualResult:
    """The trained model (uncompiled), its final masks, one row per epoch and one per pruning step."""

    model: object
    masks: Masks
    history: list[dict] = field(default_factory=list)
    pruning_steps: list[dict] = field(default_factory=list)


def _hold(model, masks: Masks) -> None:
    """Apply `masks` and keep them: each kernel's constraint multiplies it by its mask after every update."""
    models.apply_masks(model, masks)
    for name, mask in masks.items():
        kernel = model.get_layer(name).kernel
        kernel.constraint = MaskConstraint(mask, kernel.dtype)


def _pruner(schedule: PolynomialDecay, rule: Rule, specs: Sequence[LayerSpec],
            on_epoch: Callable[[dict], None] | None = None):
    keras = import_keras()

    class GradualPruning(keras.callbacks.Callback):
        """Recomputes the masks at the schedule's steps; pruned weights never come back."""

        def __init__(self):
            super().__init__()
            self.step, self.masks = 0, full_masks(specs)
            self.rows: list[dict] = []
            self.log: list[dict] = []

        def on_train_batch_begin(self, batch, logs=None):
            if schedule.prunes_at(self.step):
                target = schedule.sparsity(self.step)
                new = check_masks(rule(self.model, target, self.masks), specs)
                self.masks = {name: m & self.masks[name] for name, m in new.items()}
                _hold(self.model, self.masks)
                # The constraints' masks are constants of the traced train step: trace it again.
                self.model.make_train_function(force=True)
                self.log.append({"step": self.step, "target_sparsity": target,
                                 "sparsity": sparsity_global(self.masks)})
            self.step += 1

        def on_epoch_end(self, epoch, logs=None):
            # Keras' epoch logs (loss, accuracy, val_*) are what its History records for the epoch.
            row = {"epoch": epoch + 1, "sparsity": sparsity_global(self.masks),
                   **{key: float(value) for key, value in (logs or {}).items()}}
            self.rows.append(row)
            if on_epoch is not None:
                on_epoch(dict(row))

    return GradualPruning()


def gradual_prune(model, x_train: np.ndarray, y_train: np.ndarray, schedule: PolynomialDecay, epochs: int,
                  validation: tuple[np.ndarray, np.ndarray] | None = None, rule: Rule = magnitude_rule,
                  recipe: Recipe = Recipe(), callbacks: list | None = None,
                  on_epoch: Callable[[dict], None] | None = None) -> GradualResult:
    """Train a copy of `model` while pruning it by `schedule`; `model` is untouched.

    At each of the schedule's steps (optimizer steps from 0, see `PolynomialDecay`), before that
    step's batch, `rule(model, target sparsity, previous masks)` gives new masks (global magnitude
    by default); they are intersected with the previous ones, so a pruned weight never comes back
    even if the rule would revive it (the achieved sparsity can then exceed the target: the
    pruning-step log says both). The masks are applied and held by `MaskConstraint` after every
    update, so pruned weights are exactly zero whenever a batch runs and at the end. Seeded; the
    last epoch's weights are kept. `history` has per epoch the global sparsity at its end and
    Keras' loss and accuracy (and validation ones with `validation`, (x, y)); `on_epoch(row)` receives each row as
    its epoch ends (e.g. to write history.csv as training goes). `recipe`: the optimizer, learning rate, batch size
    and seed.
    """
    total = epochs * math.ceil(len(x_train) / recipe.batch_size)
    if schedule.end_step >= total:
        raise ConfigError(f"the schedule ends at step {schedule.end_step}, but {epochs} epochs of batches of "
                          f"{recipe.batch_size} are only {total} steps")
    models.set_seed(recipe.seed)
    pruned = models.clone(model)
    specs = models.prunable_layers(pruned)
    pruner = _pruner(schedule, rule, specs, on_epoch)
    models.compile_model(pruned, recipe.optimizer, recipe.learning_rate)
    try:
        pruned.fit(x_train, y_train, epochs=epochs, batch_size=recipe.batch_size, verbose=0,
                   validation_data=validation, callbacks=[pruner, *(callbacks or [])])
    finally:
        for s in specs:
            pruned.layers[s.index].kernel.constraint = None
    return GradualResult(models.clone(pruned), pruner.masks, pruner.rows, pruner.log)


def summarize(model, result: GradualResult, x_test: np.ndarray, y_test: np.ndarray, schedule: PolynomialDecay,
              epochs: int, settings: dict) -> dict:
    """summary.json of a gradual run: the figures `prune`'s summary has (test set; `baseline_*` are `model`'s, the
    unpruned one), with `"algorithm": "gradual"`, `finetune_epochs`, the schedule and the pruning-step log.

    Per layer there is no "accuracy after this layer" (every mask was learnt with the weights, together), so each
    layer's `accuracy` and `loss` are None; `pruned_weights_nonzero` is counted in the trained model (0 by
    construction).
    """
    base_loss, base_acc = models.evaluate(models.clone(model), x_test, y_test)
    final_loss, final_acc = models.evaluate(models.clone(result.model), x_test, y_test)
    specs = models.prunable_layers(result.model)
    masks = result.masks
    s_mean = sparsity_layer_mean(masks)
    nonzero = sum(int(np.count_nonzero(result.model.layers[s.index].kernel.numpy()[~masks[s.name]])) for s in specs)
    last = result.history[-1] if result.history else {}
    return {
        "algorithm": "gradual", "seed": settings.get("seed"), "eval_set": "train", "rule": settings.get("rule"),
        "baseline_accuracy": base_acc, "baseline_loss": base_loss,
        "final_accuracy": final_acc, "final_loss": final_loss,
        "sparsity_layer_mean": s_mean, "sparsity_global": sparsity_global(masks), **coverage(model, masks),
        "trade_off": s_mean * final_acc / base_acc if base_acc > 0 else 0.0,
        # No candidate masks are evaluated: the masks come from the weights as training goes.
        "evaluations": 0, "budget": 0,
        "finetune_epochs": epochs, "settings": dict(settings),
        "schedule": {**asdict(schedule), "kind": "polynomial_decay"},
        "val_accuracy_last_epoch": last.get("val_accuracy"), "pruned_weights_nonzero": nonzero,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "layers": [{"name": s.name, "index": s.index, "kernel_size": s.size,
                    "weights_kept": int(masks[s.name].sum()), "sparsity": layer_sparsity(masks[s.name]),
                    "accuracy": None, "loss": None} for s in specs],
        "pruning_steps": list(result.pruning_steps),
    }
