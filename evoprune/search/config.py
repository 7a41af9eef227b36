"""Search settings shared by every algorithm, the study preset, and the checks that run before any work.

Each algorithm declares its own settings beside it (`algorithms/<name>.py`); a config carries
them by name in `settings` until the algorithm resolves them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from ..errors import ConfigError
from ..network.calibration import CALIBRATIONS
from ..problem.importance import IMPORTANCES as SCORES
from ..problem.objectives import OBJECTIVES
from ..problem.toolbox import MOVES, STARTS

EVAL_SETS = ("train+validation", "validation", "test")
CERTIFY_FROM = ("auto", "validation", "test")
SCOPES = ("layers", "model")
IMPORTANCES = (*SCORES, "none")  # scores guiding informed starts and moves
REFITS = ("no", "after", "loop")
OBJECTIVE_SETTINGS = ("objective", "delta", "confidence", "loss_weight", "loss_to_warmup", "relative_threshold")


@dataclass(frozen=True)
class SearchConfig:
    """The settings every search shares; the defaults are evoprune's own search, `--preset study` the study's.

    `settings` holds algorithm settings by name (e.g. {"t0": 0.004, "population": 20}); each
    algorithm takes the ones it declares.
    """

    budget: int = 1000              # evaluations actually made, all included (cache hits are free)
    seed: int = 0
    # objective: "floor" maximises global sparsity with accuracy ≥ baseline − delta on the search
    # data; "study" is the study's cost with its warm-up loss threshold.
    objective: str = "floor"
    delta: float = 0.005            # allowed accuracy drop (0.005 = half a point), fixed before the run
    # floor objective: the drop must be ≤ delta at this one-sided confidence (paired, image by image),
    # not only on the point estimate, which a search pushed to the floor overfits; 0.5: the point estimate.
    confidence: float = 0.95
    loss_weight: float = 1e-4       # floor objective: cost of one unit of loss, in units of global sparsity
    loss_to_warmup: float = 1.0     # study objective: warm-up loss allowance
    relative_threshold: bool = False
    # how candidates are made
    importance: str = "magnitude"   # scores guiding starts and moves: one of IMPORTANCES
    # informed: prune unimportant / restore important bits anywhere; layer: the same inside one layer per move
    # (chosen ∝ its weights), which keeps most evaluations short; study: the study's moves
    moves: str = "informed"
    restore: float = 0.5            # informed moves restore this many bits per bit pruned
    focus: float = 4.0              # how strongly informed moves follow the ranking
    start: str = "informed"         # informed: start from the importance mask; study: from the current mask
    start_sparsity: float = 0.6     # informed start: the global sparsity of the importance mask
    # informed start of a local search stepped down (×0.5, ×0.25) because it broke the constraint: halve the gap
    # between the feasible sparsity and the infeasible one above it this many times (one evaluation each)
    start_refine: int = 0
    start_spread: float = 0.3       # relative spread of informed initial individuals' sparsities
    init_zero_share: float = 0.1    # study start: share of kept bits turned off
    rate0: float = 0.02             # initial mutation / neighbour rate, decays as rate0 × (1 − t/T)
    layer_budget: str = "weights"   # scope layers: shares ∝ kernel size ** budget_power; equal: the study's
    budget_power: float = 0.5
    # layers: one layer at a time in model order, finished layers fixed (the study's); model: one
    # genome holding every layer's mask, ranked and moved across layers at once.
    scope: str = "model"
    stall_limit: int = 50           # a layer ends after this many steps in a row that needed no new evaluation
    # Data the search decides on. The default pools the training images with the validation split:
    # 1,000 validation images resolve accuracy to about ±0.5 point, so a floor on them alone either
    # overfits them (the measured drop) or stops early (its confidence bound). "test" is the study's.
    eval_set: str = "train+validation"
    # Racing: a candidate is scored on 1/8 of the search images, then 1/2, then all, and dropped as soon as
    # its drop from the baseline exceeds delta at one-sided `race_confidence` (floor objective only).
    race: bool = False
    race_confidence: float = 0.999
    # after: re-fit the found masks' kept weights in closed form on the training images, once the search is done;
    # loop: score every mask after its re-fit on the search images, and keep the re-fit the search saw
    refit: str = "no"
    # with refit loop, K ≥ 2 scores each image by the re-fit solved on the other folds' images (K-fold
    # cross-fitting, K re-fits an evaluation); 1 re-fits on the scored images, which flatters the re-fit
    refit_folds: int = 1
    # the images the re-fit (after or loop) and image-driven importances are computed on: the search or training
    # images, or those and their one-pixel shifts (network.calibration); masks are judged on the search images
    calibration: str = "images"
    # Certification: the run's answer is chosen among nested candidate masks by a fixed-sequence test on images
    # no search decision touched (`pruned.certify`): `certify_fraction` of the validation split or of the test
    # set (`certify_from`; auto: whichever gives more images), taken out of the images the search decides on.
    certify: bool = True
    certify_fraction: float = 0.5
    certify_from: str = "auto"
    settings: Mapping[str, Any] = field(default_factory=dict)

    def shared(self) -> dict:
        """The shared settings as JSON has them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}

    def objective_settings(self) -> dict:
        return {k: getattr(self, k) for k in OBJECTIVE_SETTINGS}

    @classmethod
    def from_dict(cls, d: Mapping) -> "SearchConfig":
        """Inverse of a run.json "config" (shared settings, then the algorithm's): shared keys to fields."""
        known = shared_names()
        d = {**BEFORE, **d}
        return cls(**{k: v for k, v in d.items() if k in known},
                   settings={k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k not in known})

    def validate(self) -> "SearchConfig":
        """Raise ConfigError with one readable line for any impossible shared setting."""
        for name in ("rate0", "init_zero_share", "delta", "restore", "start_sparsity", "start_spread"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 1], got {v}")
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError(f"--confidence must be in [0.5, 1), got {self.confidence}")
        if not 0.5 < self.race_confidence < 1.0:
            raise ConfigError(f"--race-confidence must be in (0.5, 1), got {self.race_confidence}")
        if self.race and self.refit == "loop":
            raise ConfigError("--race cannot be combined with --refit loop: a re-fit needs every search image")
        if self.race and self.objective != "floor":
            raise ConfigError("--race drops masks that cannot meet the accuracy floor: it needs --objective floor")
        for name, choices in (("objective", OBJECTIVES), ("importance", IMPORTANCES), ("moves", MOVES),
                              ("start", STARTS), ("layer_budget", ("weights", "equal")), ("eval_set", EVAL_SETS),
                              ("scope", SCOPES), ("refit", REFITS), ("calibration", CALIBRATIONS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                                  f"got {getattr(self, name)!r}")
        if self.start_refine < 0:
            raise ConfigError(f"--start-refine must be at least 0, got {self.start_refine}")
        if self.refit_folds < 1 or (self.refit_folds > 1 and self.refit != "loop"):
            raise ConfigError(f"--refit-folds must be 1, or at least 2 with --refit loop, got {self.refit_folds}")
        if self.calibration != "images" and self.refit == "no" and self.importance in ("magnitude", "none"):
            raise ConfigError(f"--calibration {self.calibration} changes the images of a re-fit or of an importance "
                              "computed from images: it needs --refit, or --importance other than magnitude")
        if not 0.0 < self.certify_fraction < 1.0:
            raise ConfigError(f"--certify-fraction must be strictly between 0 and 1, got {self.certify_fraction}")
        if self.certify_from not in CERTIFY_FROM:
            raise ConfigError(f"--certify-from must be one of {', '.join(CERTIFY_FROM)}, got {self.certify_from!r}")
        if self.certify and self.eval_set == "test":
            raise ConfigError("certification needs images apart from those a search decides on and those it reports "
                              "on: --eval-set test decides on the test images; use another --eval-set or --no-certify")
        if self.stall_limit < 1:
            raise ConfigError(f"stall_limit must be at least 1, got {self.stall_limit}")
        return self


# What runs recorded before a setting existed did, where that is not the setting's default now: they were never
# certified. Read for any run.json config lacking the setting (resume, reuse).
BEFORE = {"certify": False}


def shared_names() -> set[str]:
    return {f.name for f in fields(SearchConfig)} - {"settings"}


# The study's settings and protocol: its SA/GA parameters and moves, 1,000 evaluations split
# equally over the layers, its cost, and the loss measured on the test set.
PRESETS: dict[str, dict] = {
    "study": dict(budget=1000, objective="study", loss_to_warmup=1.0, relative_threshold=False,
                  importance="none", moves="study", start="study", rate0=0.15, layer_budget="equal", scope="layers",
                  eval_set="test", certify=False, t0=1.0, population=12, elite=2, tournament=5, crossover=0.9),
}


def make_config(preset: str | None = None, **overrides) -> SearchConfig:
    """A config from a preset (if any) with explicit settings on top (None values are ignored).

    Shared settings become fields; any other name is an algorithm setting, checked when an
    algorithm resolves it (`algorithms.resolve`).
    """
    values: dict = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        values.update(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = shared_names()
    settings = {k: v for k, v in values.items() if k not in known}
    return SearchConfig(**{k: v for k, v in values.items() if k in known}, settings=settings)


def with_settings(config: SearchConfig, **settings) -> SearchConfig:
    """`config` with more settings: shared ones replace fields, the others join `settings`."""
    known = shared_names()
    return replace(config, **{k: v for k, v in settings.items() if k in known},
                   settings={**config.settings, **{k: v for k, v in settings.items() if k not in known}})
