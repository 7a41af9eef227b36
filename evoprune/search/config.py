"""Search settings shared by every algorithm, the study preset, and the checks that run before any work.

Each algorithm declares its own settings beside it (`algorithms/<name>.py`); a config carries
them by name in `settings` until the algorithm resolves them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from ..errors import ConfigError
from ..problem.importance import IMPORTANCES as SCORES
from ..problem.objectives import OBJECTIVES, Floor, Study, objective_of
from ..problem.toolbox import MOVES, STARTS

EVAL_SETS = ("train+validation", "validation", "test")
CERTIFY_FROM = ("auto", "validation", "test")
SCOPES = ("layers", "model")
IMPORTANCES = (*SCORES, "none")  # scores guiding informed starts and moves
REFITS = ("no", "after", "loop")
OBJECTIVE_SETTINGS = ("objective", "delta", "confidence", "loss_weight", "loss_to_warmup", "relative_threshold")


def setting(default, help: str, *, choices: tuple | None = None, common: bool = False, flag: bool = True):
    """A shared setting, declared once: its default, the help its `--flag` shows (`common` ones first, the others
    under the research options), its choices. Flags, spec keys, run.json and the resume check all come from these
    declarations (`cli.prune.add_search_args`, `experiments.settings`, `SearchConfig.shared`, `from_dict`)."""
    return field(default=default, metadata={"help": help, "choices": choices, "common": common, "flag": flag})


@dataclass(frozen=True)
class SearchConfig:
    """The settings every search shares; the defaults are evoprune's own search, `--preset study` the study's.

    `settings` holds algorithm settings by name (e.g. {"t0": 0.004, "population": 20}); each
    algorithm takes the ones it declares.
    """

    budget: int = setting(1000, "evaluations to make in all, every one counted (cache hits are free)", common=True)
    seed: int = setting(0, "random seed of the search", flag=False)  # prune has --seed, experiments --seeds
    objective: str = setting("floor", "floor: the most global sparsity with accuracy ≥ baseline − delta; study: the "
                                      "reference study's cost with its warm-up loss threshold", choices=OBJECTIVES)
    delta: float = setting(0.005, "floor objective: the allowed accuracy drop, fixed before the run "
                                  "(0.005 = half a point)", common=True)
    # The drop must be ≤ delta at this one-sided confidence, not only on the point estimate, which a search pushed
    # to the floor overfits.
    confidence: float = setting(0.95, "floor objective: the drop must be ≤ delta at this one-sided confidence, "
                                      "paired image by image (0.5: the measured drop alone)", common=True)
    loss_weight: float = setting(1e-4, "floor objective: how much global sparsity one unit of search-image loss "
                                       "is worth (breaks ties between masks of equal sparsity)")
    loss_to_warmup: float = setting(1.0, "study objective: the warm-up loss allowance")
    relative_threshold: bool = setting(False, "study objective: loss thresholds relative to the baseline's loss "
                                              "instead of absolute")
    importance: str = setting("magnitude", "the scores guiding starts and moves", choices=IMPORTANCES)
    # informed: prune unimportant / restore important bits anywhere; layer: the same inside one layer per move
    # (chosen ∝ its weights), which keeps most evaluations short; study: the study's moves
    moves: str = setting("informed", "informed: prune and restore by importance; layer: the same in one layer per "
                                     "move, chosen ∝ its weights, so most evaluations start from cached "
                                     "activations; study: the study's moves", choices=MOVES)
    restore: float = setting(0.5, "informed moves restore this many bits per bit pruned")
    focus: float = setting(4.0, "how strongly informed moves follow the importance ranking")
    start: str = setting("informed", "informed: start from the importance mask; study: from the current mask",
                         choices=STARTS)
    start_sparsity: float = setting(0.6, "the global sparsity of the informed start")
    # A local search's informed start stepped down (×0.5, ×0.25) because it broke the constraint can halve the gap
    # between the feasible sparsity and the infeasible one above it, one evaluation each.
    start_refine: int = setting(0, "when the informed start breaks the constraint and is stepped down (x0.5, "
                                   "x0.25), halve the gap to the infeasible sparsity above it this many times, one "
                                   "evaluation each")
    start_spread: float = setting(0.3, "the relative spread of informed initial individuals' sparsities")
    init_zero_share: float = setting(0.1, "study start: the share of kept bits turned off")
    rate0: float = setting(0.02, "the initial mutation / neighbour rate, decaying as rate0 × (1 − t/T) "
                                 "(the study preset: 0.15)")
    layer_budget: str = setting("weights", "scope layers: budget shares per layer ∝ sqrt(kernel size) (weights) or "
                                           "equal (the study)", choices=("weights", "equal"))
    budget_power: float = setting(0.5, "scope layers, weights: shares ∝ kernel size ** this power")
    scope: str = setting("model", "model: one genome of every layer's mask; layers: one layer at a time, in model "
                                  "order, finished layers fixed (the study)", choices=SCOPES)
    stall_limit: int = setting(50, "a layer ends after this many steps in a row that needed no new evaluation")
    # The default pools the training images with the validation split: 1,000 validation images resolve accuracy to
    # about ±0.5 point, so a floor on them alone either overfits them or stops early. "test" is the study's.
    eval_set: str = setting("train+validation", "the images the search decides on (the study preset: test)",
                            choices=EVAL_SETS)
    refit: str = setting("no", "after: re-fit the found masks' kept weights in closed form on the training images; "
                               "loop: score every mask after its re-fit on the search images", choices=REFITS)
    # The answer is chosen among nested candidate masks by a fixed-sequence test on images no search decision
    # touched (`pruned.certify`), taken out of the images the search decides on.
    certify: bool = setting(True, "certify the answer on images no search decision touched: the densest-to-"
                                  "sparsest candidates of the search's masks, tested by the paired floor until the "
                                  "first failure (--no-certify: the search's own masks, uncertified)", common=True)
    certify_fraction: float = setting(0.5, "the share of the validation split or of the test set held out for "
                                           "certification")
    certify_from: str = setting("auto", "where the certification images come from (auto: the validation split, or "
                                        "the test set when half of it holds more images, reporting on the rest)",
                                choices=CERTIFY_FROM)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def shared(self) -> dict:
        """The shared settings as JSON has them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}

    def objective_settings(self) -> dict:
        return {k: getattr(self, k) for k in OBJECTIVE_SETTINGS}

    def goal(self) -> Floor | Study:
        """The objective these settings name, as a `Problem` is given it."""
        return objective_of(self.objective_settings())

    @classmethod
    def from_dict(cls, d: Mapping) -> "SearchConfig":
        """Inverse of a run.json "config" (shared settings, then the algorithm's): shared keys to fields."""
        known = shared_names()
        d = {**BEFORE, **without_removed(d)}
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
        for name, choices in (("objective", OBJECTIVES), ("importance", IMPORTANCES), ("moves", MOVES),
                              ("start", STARTS), ("layer_budget", ("weights", "equal")), ("eval_set", EVAL_SETS),
                              ("scope", SCOPES), ("refit", REFITS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                                  f"got {getattr(self, name)!r}")
        if self.start_refine < 0:
            raise ConfigError(f"--start-refine must be at least 0, got {self.start_refine}")
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

# Settings removed because their committed results showed no gain, with the value that kept the behaviour evoprune
# still has. A run recorded at that value loads, resumes and is reused as before; one recorded otherwise still loads
# and reports (its files), but cannot be continued or repeated.
REMOVED = {
    "refit_folds": (1, "cross-fitting the re-fit stopped where the plain re-fit stops (93.20 %) and lost as much on "
                       "test (1.06-1.09 points), at 3-4x the time (results/refit-loop, sa-refit-obs-cv)"),
    "calibration": ("images", "shifted calibration lowered the re-fit's loss but not its test accuracy (within 0.23 "
                              "point, no direction; results/refit-loop, sa-refit-obs-shift)"),
    "race": (False, "racing dropped almost no images: 4,996 of 5,000 per evaluation on the default search "
                    "(results/bench.txt), 11,922-12,000 of 12,000 in results/fashion-cnn (under 0.7 % saved)"),
    "race_confidence": (0.999, "it set racing's confidence, and racing dropped almost no images: 4,996 of 5,000 per "
                               "evaluation on the default search (results/bench.txt), 11,922-12,000 of 12,000 in "
                               "results/fashion-cnn (under 0.7 % saved)"),
}


def without_removed(record: Mapping, strict: bool = True) -> dict:
    """A run.json config without the removed settings at the value that kept today's behaviour. Any other value of
    one is refused in one line saying why it was removed (`strict`), or kept, so the run differs from any today."""
    for key, (kept, why) in REMOVED.items():
        if strict and key in record and record[key] != kept:
            raise ConfigError(f"setting {key} = {record[key]!r} was removed from evoprune: {why}. Runs made with it "
                              "still load and report (`evoprune experiment report`, `evoprune plot`)")
    return {k: v for k, v in record.items() if k not in REMOVED or v != REMOVED[k][0]}


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
