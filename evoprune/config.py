"""Search settings as one dataclass, the study preset, and the checks that run before any work."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .errors import ConfigError


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of a layer-wise search; defaults are the study's values with evoprune's protocol."""

    budget: int = 1000              # evaluations actually made, all included (cache hits are free)
    seed: int = 0
    rate0: float = 0.15             # initial mutation / neighbour rate, decays as rate0 × (1 − t/T)
    t0: float = 1.0                 # SA initial temperature (logarithmic cooling)
    population: int = 12            # GA
    elite: int = 2
    tournament: int = 5
    crossover: float = 0.9
    init_zero_share: float = 0.1    # GA initial masks: share of kept bits turned off; halved per re-draw
    max_redraws: int = 3            # bound on GA re-draws while nothing is feasible
    stall_limit: int = 50           # a layer ends after this many steps in a row that needed no new evaluation
    loss_to_warmup: float = 1.0
    relative_threshold: bool = False
    eval_set: str = "validation"    # data the search decides on: "validation" (default) or "test" (study)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self, algorithm: str, n_layers: int) -> "SearchConfig":
        """Raise ConfigError with one readable line for any impossible setting."""
        for name in ("rate0", "crossover", "init_zero_share"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 1], got {v}")
        if self.t0 <= 0:
            raise ConfigError(f"the initial temperature must be > 0, got {self.t0}")
        if self.eval_set not in ("validation", "test"):
            raise ConfigError(f"eval_set must be 'validation' or 'test', got {self.eval_set!r}")
        if algorithm == "ga":
            if self.population <= self.elite:
                raise ConfigError(f"population ({self.population}) must be larger than the elite ({self.elite})")
            if not 1 <= self.tournament <= self.population:
                raise ConfigError(f"tournament size ({self.tournament}) must be between 1 and the population ({self.population})")
            needed = self.population * n_layers + 1  # one population per layer, plus the baseline
        else:
            needed = n_layers + 1  # one proposal per layer, plus the baseline
        if self.budget < needed:
            raise ConfigError(
                f"--budget {self.budget} is too small for {algorithm} on {n_layers} layers (at least {needed})"
            )
        return self


# The study's settings and protocol: its GA/SA parameters, 1,000 evaluations, loss on the test set.
PRESETS: dict[str, dict] = {
    "study": dict(budget=1000, rate0=0.15, t0=1.0, population=12, elite=2, tournament=5,
                  crossover=0.9, loss_to_warmup=1.0, relative_threshold=False, eval_set="test"),
}


def make_config(preset: str | None = None, **overrides) -> SearchConfig:
    """A config from a preset (if any) with explicit settings on top (None values are ignored)."""
    base = SearchConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        base = replace(base, **PRESETS[preset])
    known = {f.name for f in fields(SearchConfig)}
    return replace(base, **{k: v for k, v in overrides.items() if v is not None and k in known})
