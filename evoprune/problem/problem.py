"""The public pruning problem: a model, the images a search decides on, and how a mask is judged."""
from __future__ import annotations

import uuid
from typing import Mapping, Sequence

import numpy as np
from deap import base

from ..errors import ConfigError
from ..evaluation import registry
from ..network import models
from ..network.custom import import_modules, modules_for
from ..network.masks import Masks, check_masks, full_masks, sparsity_global, sparsity_layer_mean
from .chance import output_classes, warn_near_chance
from .genome import FITNESS_FORMS, bits
from .importance import magnitude
from .layout import Layout
from .objectives import Floor, Study
from .toolbox import Moves, bind, build_toolbox

SCORINGS = ("incremental", "full", "refit")


class Problem:
    """What is pruned and how a mask is judged: a Keras model, search images and an objective.

    `toolbox(seed)` hands out a DEAP toolbox whose `evaluate(individual)` returns a fitness
    tuple, so DEAP's own algorithms run on it; `masks(individual)` decodes an individual and
    `report(masks, x_test, y_test)` gives its test figures.

    `objective`: `Floor(delta, confidence)` (the most global sparsity whose accuracy drop from the unpruned model
    is at most delta at one-sided confidence, paired image by image; the default) or `Study()` (the reference
    study's cost under its warm-up loss threshold). Both give DEAP the fitness (feasible, cost), feasible first,
    cost minimised.

    `layer`: the genome is every prunable layer's mask (None), one layer's (its name) with the others unpruned,
    or (name, masks) with the others fixed at `masks`. `scores`: the importance scores guiding evoprune's
    operators (default: weight magnitudes).

    `scoring`: how a mask is scored. "incremental" (default) starts each whole-model genome's forward from
    cached activations of a shared prefix; "full" runs every forward whole (the same scores, bit for bit;
    slower); "refit" scores every mask after re-fitting its kept weights in closed form on the problem's images
    (`evaluation.refitted.RefitEvaluator`): a search then sees the re-fitted accuracy, and `problem.refit(masks)`
    gives the model it saw.

    A problem pickles small enough to travel to pool workers (model file bytes and the
    images; no TensorFlow objects): `evoprune.init_worker(problem)` prepares a worker.
    `imports` are modules every process imports before it rebuilds the model (`init_worker`): those
    registering its custom Keras classes; the modules of its own layer classes are added to them.
    """

    def __init__(self, model, x: np.ndarray, y: np.ndarray, objective: Floor | Study = Floor(), *,
                 layer: str | tuple[str, Mapping[str, np.ndarray]] | None = None,
                 scores: Mapping[str, np.ndarray] | None = None, scoring: str = "incremental",
                 imports: Sequence[str] = ()):
        if not isinstance(objective, (Floor, Study)):
            raise ConfigError(f"objective must be evoprune.Floor(delta, confidence) or evoprune.Study(), "
                              f"got {objective!r}")
        if scoring not in SCORINGS:
            raise ConfigError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")
        name, masks = layer if isinstance(layer, tuple) else (layer, None)
        import_modules(imports)
        x, y = np.asarray(x, np.float32), np.asarray(y).reshape(-1)
        if len(x) != len(y) or not len(y):
            raise ConfigError(f"need one label per image and at least one image: got {len(x)} images, {len(y)} labels")
        models.check_input_shape(model, x)
        self.specs = models.prunable_layers(model)
        self.layout = Layout(tuple(self.specs), name)  # checks the layer's name
        self.fixed = check_masks(masks, self.specs) if masks is not None else full_masks(self.specs)
        self.layer_count = len(model.layers)  # the study's warm-up divides by model layers, not prunable ones
        self.classes = output_classes(model)
        self.model_bytes = models.to_bytes(model)
        self.imports = modules_for(model, imports)
        self.x, self.y = x, y
        self.goal, self.scoring = objective, scoring
        self.token = uuid.uuid4().hex
        self._model, self._scores, self._baseline = model, scores, None

    # ----- pickling: what travels to workers -----
    def __getstate__(self) -> dict:
        # The live model (TensorFlow objects) and the importance scores stay in the process that made them.
        return {**vars(self), "_model": None, "_scores": None}

    @property
    def refits(self) -> bool:
        """Whether masks are scored after their re-fit (scoring "refit")."""
        return self.scoring == "refit"

    # ----- evaluation -----
    def build_evaluator(self):
        """This problem's mask evaluator, for the process it is called in (see `evaluation.registry`)."""
        from ..evaluation import MaskEvaluator, RefitEvaluator

        if self.refits:
            return RefitEvaluator(models.from_bytes(self.model_bytes), self.x, self.y)
        return MaskEvaluator(models.from_bytes(self.model_bytes), self.x, self.y,
                             incremental=self.scoring == "incremental")

    def objective(self, baseline):
        """The objective judging masks against `baseline`, the unpruned model's EvalResult on the search images.

        Every search, and `toolbox`, builds it once the unpruned model is scored, so a baseline near chance is
        said here (a warning): the objectives are relative to the baseline, and against chance any mask passes."""
        warn_near_chance(baseline.accuracy, self.y, self.classes)
        return self.goal.build(baseline, {s.index: s.size for s in self.specs}, self.layer_count)

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
        if self._scores is None:
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
                           Moves(moves, rate, restore, focus, start_spread, zero_share),
                           informed_start=start == "informed" and scores is not None, fitness=fitness)
        bind(tb, self.layout, self.fixed, self.objective(self.baseline()), scores, start_sparsity)
        return tb

    def masks(self, individual) -> Masks:
        """Every prunable layer's mask (kernel-shaped, True = keep) with `individual` as the genome."""
        return self.layout.merged(self.fixed, bits(individual))

    def refit(self, masks: Mapping[str, np.ndarray], x: np.ndarray | None = None, ridge: float = 1e-3):
        """The model with `masks` and its kept weights (and biases) re-solved in closed form, layer by layer,
        so that each layer's pre-activations on `x` (default: the problem's images) match the unpruned model's
        (`network.refit.refit`); pruned weights stay exactly zero. Returns the re-fitted Keras model."""
        from ..network.refit import refit

        return refit(self.model(), check_masks(masks, self.specs), self.x if x is None else x, ridge)[0]

    def report(self, masks: Mapping[str, np.ndarray], x_test: np.ndarray, y_test: np.ndarray) -> dict:
        """Keras' test accuracy and loss of the model with `masks` (and unpruned), and both sparsities."""
        masks = check_masks(masks, self.specs)
        loss, accuracy = models.evaluate_masked(self.model(), masks, x_test, y_test)
        base_loss, base_accuracy = models.evaluate_masked(self.model(), full_masks(self.specs), x_test, y_test)
        return {"test_accuracy": accuracy, "test_loss": loss, "baseline_test_accuracy": base_accuracy,
                "baseline_test_loss": base_loss, "sparsity_global": sparsity_global(masks),
                "sparsity_layer_mean": sparsity_layer_mean(masks)}
