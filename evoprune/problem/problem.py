"""The public pruning problem: a model, the images a search decides on, and how a mask is judged."""
from __future__ import annotations

import uuid
from typing import Mapping, Sequence

import numpy as np
from deap import base

from ..errors import ConfigError
from ..evaluation import registry
from ..network import models
from ..network.calibration import calibration_images, check_calibration
from ..network.custom import import_modules, modules_for
from ..network.masks import Masks, check_masks, full_masks, sparsity_global, sparsity_layer_mean
from .chance import output_classes, warn_near_chance
from .genome import FITNESS_FORMS, bits
from .importance import magnitude
from .layout import Layout
from .objectives import OBJECTIVES, make_objective
from .toolbox import bind, build_toolbox

SCOPES = ("model", "layer")


class Problem:
    """What is pruned and how a mask is judged: a Keras model, search images and an objective.

    `toolbox(seed)` hands out a DEAP toolbox whose `evaluate(individual)` returns a fitness
    tuple, so DEAP's own algorithms run on it; `masks(individual)` decodes an individual and
    `report(masks, x_test, y_test)` gives its test figures. The genome is every prunable
    layer's mask (`scope="model"`), or one layer's (`scope="layer", layer=NAME`) with the
    others fixed at `masks` (default: nothing pruned).

    Objectives: "floor" (the most global sparsity whose accuracy drop from the unpruned model
    is at most `delta` at one-sided `confidence`, paired image by image), or "study" (the
    reference study's cost under its warm-up loss threshold). Both give DEAP the fitness
    (feasible, cost), feasible first, cost minimised.

    A problem pickles small enough to travel to pool workers (model file bytes and the
    images; no TensorFlow objects): `evoprune.init_worker(problem)` prepares a worker.
    `incremental=False` makes its evaluators run every whole-model genome's full forward instead
    of starting from cached activations of a shared prefix (the same scores, bit for bit; slower).
    `refit=True` scores every mask set after re-fitting its kept weights in closed form on the
    problem's images (`evaluation.refitted.RefitEvaluator`): a search then sees the re-fitted
    accuracy, and `problem.refit(masks)` gives the model it saw. With `refit_folds` = K ≥ 2 each image is
    scored by the re-fit solved on the other folds' images instead (cross-fitting), so a search's floor is
    not judged on the images the re-fit matched; `problem.refit(masks)` then solves on all the images.
    `calibration="shifted"` solves every re-fit on the images and their one-pixel shifts
    (`network.calibration`); masks are still scored on the images alone.
    `imports` are modules every process imports before it rebuilds the model (`init_worker`): those
    registering its custom Keras classes; the modules of its own layer classes are added to them.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, *, objective: str = "floor", delta: float = 0.005,
                 confidence: float = 0.95, loss_weight: float = 1e-4, loss_to_warmup: float = 1.0,
                 relative_threshold: bool = False, scope: str = "model", layer: str | None = None,
                 masks: Mapping[str, np.ndarray] | None = None, importance: str = "magnitude",
                 scores: Mapping[str, np.ndarray] | None = None, incremental: bool = True, refit: bool = False,
                 refit_folds: int = 1, calibration: str = "images", imports: Sequence[str] = ()):
        if objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if scope not in SCOPES or (scope == "layer") != (layer is not None):
            raise ConfigError("scope is 'model' (every layer in one genome), or 'layer' with layer=NAME")
        if refit_folds < 1 or (refit_folds > 1 and not refit):
            raise ConfigError(f"refit_folds must be 1, or at least 2 with refit=True, got {refit_folds}")
        check_calibration(calibration)
        import_modules(imports)
        if importance not in ("magnitude", "none"):
            raise ConfigError(f"Problem computes magnitude importance or none, got {importance!r}; pass other "
                              "scores (evoprune.problem.importance.compute) as scores=")
        x, y = np.asarray(x, np.float32), np.asarray(y).reshape(-1)
        if len(x) != len(y) or not len(y):
            raise ConfigError(f"need one label per image and at least one image: got {len(x)} images, {len(y)} labels")
        models.check_input_shape(model, x)
        self.specs = models.prunable_layers(model)
        self.layout = Layout(tuple(self.specs), layer)  # checks the layer's name
        self.fixed = check_masks(masks, self.specs) if masks is not None else full_masks(self.specs)
        self.layer_count = len(model.layers)  # the study's warm-up divides by model layers, not prunable ones
        self.classes = output_classes(model)
        self.model_bytes = models.to_bytes(model)
        self.imports = modules_for(model, imports)
        self.x, self.y = x, y
        self.objective_name, self.delta, self.confidence = objective, delta, confidence
        self.loss_weight, self.loss_to_warmup, self.relative_threshold = loss_weight, loss_to_warmup, relative_threshold
        self.importance, self.incremental, self.refits = importance, incremental, refit
        self.refit_folds, self.calibration = refit_folds, calibration
        self.token = uuid.uuid4().hex
        self._model, self._scores, self._baseline = model, scores, None

    # ----- pickling: what travels to workers -----
    def __getstate__(self) -> dict:
        # The live model (TensorFlow objects) and the importance scores stay in the process that made them.
        return {**vars(self), "_model": None, "_scores": None}

    def settings(self) -> dict:
        """The objective's settings, as a search config names them."""
        return {"objective": self.objective_name, "delta": self.delta, "confidence": self.confidence,
                "loss_weight": self.loss_weight, "loss_to_warmup": self.loss_to_warmup,
                "relative_threshold": self.relative_threshold}

    # ----- evaluation -----
    def build_evaluator(self):
        """This problem's mask evaluator, for the process it is called in (see `evaluation.registry`)."""
        from ..evaluation import MaskEvaluator, RefitEvaluator

        if self.refits:
            return RefitEvaluator(models.from_bytes(self.model_bytes), self.x, self.y, folds=self.refit_folds,
                                  calibration=self.calibration)
        return MaskEvaluator(models.from_bytes(self.model_bytes), self.x, self.y, incremental=self.incremental)

    def objective(self, baseline):
        """The objective judging masks against `baseline`, the unpruned model's EvalResult on the search images.

        Every search, and `toolbox`, builds it once the unpruned model is scored, so a baseline near chance is
        said here (a warning): the objectives are relative to the baseline, and against chance any mask passes."""
        warn_near_chance(baseline.accuracy, self.y, self.classes)
        return make_objective(baseline, {s.index: s.size for s in self.specs}, self.layer_count, **self.settings())

    def baseline(self):
        """The unpruned model's EvalResult on the search images, scored in this process (once)."""
        if self._baseline is None:
            from .target import Target

            registry.install(self.token, self.build_evaluator)
            full = full_masks(self.specs)
            target = Target.make(self.token, Layout(tuple(self.specs)), full)
            (self._baseline,) = target.results([np.packbits(np.ones(target.layout.size, np.uint8))])
        return self._baseline

    def model(self):
        """The Keras model (the one given, in the process that made the problem; else rebuilt from its bytes)."""
        if self._model is None:
            self._model = models.from_bytes(self.model_bytes)
        return self._model

    def scores(self) -> dict | None:
        """The importance scores guiding evoprune's operators (given, magnitude, or None)."""
        if self._scores is None and self.importance == "magnitude":
            self._scores = magnitude(self.model(), self.specs)
        return self._scores

    # ----- the DEAP seam -----
    def toolbox(self, seed: int = 0, *, fitness: str = "single", rate: float = 0.02, moves: str = "informed",
                restore: float = 0.5, focus: float = 4.0, start: str = "informed", start_sparsity: float = 0.6,
                start_spread: float = 0.3, zero_share: float = 0.1) -> base.Toolbox:
        """A DEAP toolbox for this problem: individual, population, evaluate, mate, mutate, select, map.

        `evaluate(individual)` returns the fitness tuple of the `fitness` form: "single"
        (feasible, cost) for `creator.MaskIndividual`, or "front" (search accuracy, global
        sparsity, both maximised, for NSGA-II) for `creator.FrontIndividual`. The unpruned model
        is scored here, in this process, so the objective knows its baseline; `map` is the
        built-in map until you register a pool's. `seed` fixes evoprune's operators (a numpy
        generator); DEAP's own operators draw from Python's `random`, which you seed yourself.
        The other arguments choose evoprune's operators (`build_toolbox`).
        """
        if fitness not in FITNESS_FORMS:
            raise ConfigError(f"fitness must be one of {', '.join(FITNESS_FORMS)}, got {fitness!r}")
        scores = self.scores()
        tb = build_toolbox(self.token, self.layout, np.random.default_rng(seed),
                           informed_start=start == "informed" and scores is not None, fitness=fitness, rate=rate,
                           moves=moves, restore=restore, focus=focus, start_spread=start_spread, zero_share=zero_share)
        bind(tb, self.layout, self.fixed, self.objective(self.baseline()), scores, start_sparsity)
        return tb

    def masks(self, individual) -> Masks:
        """Every prunable layer's mask (kernel-shaped, True = keep) with `individual` as the genome."""
        return self.layout.merged(self.fixed, bits(individual))

    def refit(self, masks: Mapping[str, np.ndarray], x: np.ndarray | None = None, ridge: float = 1e-3):
        """The model with `masks` and its kept weights (and biases) re-solved in closed form, layer by layer,
        so that each layer's pre-activations on `x` (default: the problem's images) match the unpruned model's
        (`network.refit.refit`), with the problem's calibration copies of `x`; pruned weights stay exactly zero.
        Returns the re-fitted Keras model."""
        from ..network.refit import refit

        x = calibration_images(self.x if x is None else x, self.calibration)
        return refit(self.model(), check_masks(masks, self.specs), x, ridge)[0]

    def report(self, masks: Mapping[str, np.ndarray], x_test: np.ndarray, y_test: np.ndarray) -> dict:
        """Keras' test accuracy and loss of the model with `masks` (and unpruned), and both sparsities."""
        masks = check_masks(masks, self.specs)
        loss, accuracy = models.evaluate_masked(self.model(), masks, x_test, y_test)
        base_loss, base_accuracy = models.evaluate_masked(self.model(), full_masks(self.specs), x_test, y_test)
        return {"test_accuracy": accuracy, "test_loss": loss, "baseline_test_accuracy": base_accuracy,
                "baseline_test_loss": base_loss, "sparsity_global": sparsity_global(masks),
                "sparsity_layer_mean": sparsity_layer_mean(masks)}
