"""Search settings as one dataclass, the study preset, and the checks that run before any work."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .errors import ConfigError


EVAL_SETS = ("train+validation", "validation", "test")
SCOPES = ("layers", "model")
IMPORTANCES = ("magnitude", "reconstruction", "saliency", "none")  # scores guiding informed starts and moves
SCOPED_ALGORITHMS = ("sa", "ga")  # the searches `scope` applies to (NSGA-II is whole-model, one-shot rules layer-wise)


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of a search. The defaults are evoprune's own search; `--preset study` is the study's."""

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
    importance: str = "magnitude"   # scores guiding starts and moves: magnitude, reconstruction, saliency, none
    moves: str = "informed"         # informed: prune unimportant / restore important bits; study: the study's
    restore: float = 0.5            # informed moves restore this many bits per bit pruned
    focus: float = 4.0              # how strongly informed moves follow the ranking
    start: str = "informed"         # informed: start from the importance mask; study: from the current mask
    start_sparsity: float = 0.6     # informed start: the global sparsity of the importance mask
    start_spread: float = 0.3       # GA: relative spread of the initial individuals' sparsities
    rate0: float = 0.02             # initial mutation / neighbour rate, decays as rate0 × (1 − t/T)
    t0: float = 0.002               # SA initial temperature (logarithmic cooling)
    population: int = 12            # GA
    elite: int = 2
    tournament: int = 5
    crossover: float = 0.9
    init_zero_share: float = 0.1    # study start: share of kept bits turned off; halved per re-draw
    max_redraws: int = 3            # bound on the study GA's re-draws while nothing is feasible
    layer_budget: str = "weights"   # weights: shares ∝ kernel size ** budget_power; equal: the study's
    budget_power: float = 0.5
    sparsity: float = 0.5           # one-shot baselines (magnitude, saliency, random): target global sparsity
    # NSGA-II: the initial population's global sparsities, evenly spread over this range, so the
    # first generation already spans the trade-off instead of crowding around one sparsity.
    init_sparsities: tuple[float, float] = (0.3, 0.95)
    # layers: one layer at a time in model order, finished layers fixed (the study's); model: one
    # genome holding every layer's mask, ranked and moved across layers at once (NSGA-II always is).
    scope: str = "model"
    stall_limit: int = 50           # a layer ends after this many steps in a row that needed no new evaluation
    # Data the search decides on. The default pools the training images with the validation split:
    # 1,000 validation images resolve accuracy to about ±0.5 point, so a floor on them alone either
    # overfits them (the measured drop) or stops early (its confidence bound). "test" is the study's.
    eval_set: str = "train+validation"

    def to_dict(self) -> dict:
        """The settings as JSON has them (tuples as lists), so a run.json compares equal to them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        """Inverse of `to_dict` (for run.json); unknown keys are refused."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def units(self, algorithm: str, n_layers: int) -> int:
        """How many units `algorithm` searches one after another: each layer, or one whole-model genome."""
        return 1 if self.scope == "model" and algorithm in SCOPED_ALGORITHMS else n_layers

    def validate(self, algorithm: str, n_layers: int) -> "SearchConfig":
        """Raise ConfigError with one readable line for any impossible setting."""
        for name in ("rate0", "crossover", "init_zero_share", "delta", "restore", "start_sparsity", "sparsity",
                     "start_spread"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 1], got {v}")
        if not 0.5 <= self.confidence < 1.0:
            raise ConfigError(f"--confidence must be in [0.5, 1), got {self.confidence}")
        if self.t0 <= 0:
            raise ConfigError(f"the initial temperature (--t0) must be > 0, got {self.t0}")
        for name, choices in (("objective", ("floor", "study")), ("importance", IMPORTANCES),
                              ("moves", ("informed", "study")), ("start", ("informed", "study")),
                              ("layer_budget", ("weights", "equal")), ("eval_set", EVAL_SETS),
                              ("scope", SCOPES)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                                  f"got {getattr(self, name)!r}")
        lo, hi = self.init_sparsities
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"init_sparsities must be two sparsities 0 ≤ low ≤ high ≤ 1, got {lo}, {hi}")
        if algorithm == "nsga2":
            # DEAP's dominance/crowding tournament draws a whole population in groups of four.
            if self.population < 4 or self.population % 4:
                raise ConfigError(f"nsga2 needs a population that is a multiple of 4, got {self.population}")
            needed = self.population + 1  # the first population, plus the baseline
        elif algorithm == "ga":
            if self.population <= self.elite:
                raise ConfigError(f"population ({self.population}) must be larger than the elite ({self.elite})")
            if not 1 <= self.tournament <= self.population:
                raise ConfigError(f"tournament size ({self.tournament}) must be between 1 and the population "
                                  f"({self.population})")
            needed = self.population * self.units(algorithm, n_layers) + 1  # one population per unit, plus the baseline
        else:
            needed = self.units(algorithm, n_layers) + 1  # one evaluation per unit, plus the baseline
        if self.budget < needed:
            raise ConfigError(
                f"--budget {self.budget} is too small for {algorithm} on {n_layers} layers (at least {needed})"
            )
        return self


# The study's settings and protocol: its SA/GA parameters and moves, 1,000 evaluations split
# equally over the layers, its cost, and the loss measured on the test set.
PRESETS: dict[str, dict] = {
    "study": dict(budget=1000, objective="study", loss_to_warmup=1.0, relative_threshold=False,
                  importance="none", moves="study", start="study", rate0=0.15, t0=1.0, population=12, elite=2,
                  tournament=5, crossover=0.9, layer_budget="equal", scope="layers", eval_set="test"),
}


def make_config(preset: str | None = None, **overrides) -> SearchConfig:
    """A config from a preset (if any) with explicit settings on top (None values are ignored)."""
    base = SearchConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        base = replace(base, **PRESETS[preset])
    known = {f.name for f in fields(SearchConfig)}
    unknown = sorted(k for k, v in overrides.items() if v is not None and k not in known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}")
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
