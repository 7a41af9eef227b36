"""What an algorithm is: typed settings, a typed state, and small hooks the search loop calls."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, ClassVar, Generic, TypeVar

from ..errors import ConfigError

S = TypeVar("S")


def setting(default: Any, help: str, check: Callable[[Any], str | None] | None = None):
    """A field of an algorithm's Settings: its default, a help line (CLI and docs), and an optional check
    returning what is wrong with a value (None when it is fine)."""
    return field(default=default, metadata={"help": help, "check": check})


def unit_interval(v) -> str | None:
    return None if 0.0 <= v <= 1.0 else "must be in [0, 1]"


def positive(v) -> str | None:
    return None if v > 0 else "must be > 0"


def at_least(n: int) -> Callable[[Any], str | None]:
    return lambda v: None if v >= n else f"must be at least {n}"


@dataclass(frozen=True)
class NoSettings:
    """An algorithm without settings of its own."""


class Algorithm(ABC, Generic[S]):
    """A search algorithm: `setup` a genome's state, `step` it, say when it is `done`, name its `best`.

    Hooks get the running `Search` (toolbox, evaluate, record, state, config) and the
    algorithm's own typed state. Every evaluation goes through `search.evaluate`, which uses
    `toolbox.map(toolbox.evaluate, …)`: an algorithm never sees processes or evaluators.
    Adding an algorithm is one module (this subclass, its Settings and State) and one line in
    `algorithms/__init__.py`; its settings become `--set KEY=VALUE` and CLI flags by themselves.
    """

    name: ClassVar[str]
    Settings: ClassVar[type] = NoSettings
    scope: ClassVar[str | None] = None     # "layers" or "model" when fixed; None follows config.scope
    importance: ClassVar[str | None] = None  # importance scores it needs whatever the config says ("" = none)
    fitness: ClassVar[str] = "single"      # how DEAP sees a mask: "single" (feasible, cost) or "front"

    def __init__(self, settings=None):
        self.settings = settings if settings is not None else self.Settings()

    # ----- checks before any work -----
    @classmethod
    def check(cls, settings) -> None:
        """Raise ConfigError with one readable line for an impossible setting (field checks, then `check_more`)."""
        for f in fields(settings):
            problem = f.metadata.get("check") and f.metadata["check"](getattr(settings, f.name))
            if problem:
                raise ConfigError(f"{cls.name}: --{f.name.replace('_', '-')} {problem}, "
                                  f"got {getattr(settings, f.name)!r}")
        cls.check_more(settings)

    @classmethod
    def check_more(cls, settings) -> None:
        """Checks that involve several settings."""

    def min_budget(self, units: int) -> tuple[int, str]:
        """The fewest evaluations a run needs on `units` genomes, and what they are."""
        return units + 1, "the unpruned model, then one candidate per genome searched"

    # ----- the hooks -----
    def configure(self, toolbox, search) -> None:
        """Register this algorithm's default operators (before the user's `customize`; never again)."""

    @abstractmethod
    def setup(self, search, previous: S | None) -> S:
        """The state of the genome now starting (evaluations here count); `previous`: the last genome's state."""

    @abstractmethod
    def step(self, search, state: S) -> None:
        """One move: an SA proposal, a GA generation, …"""

    def done(self, search, state: S) -> bool:
        """Whether no further step is possible (the loop also stops on budget and stalls)."""
        return False

    @abstractmethod
    def best(self, search, state: S):
        """The feasible individual the genome ends with, or None to keep the masks it started from."""

    def front(self, state: S) -> list | None:
        """A multi-objective algorithm's front: individuals (with `.result`), from the sparsest; else None."""
        return None


def better(a, b) -> bool:
    """Whether individual `a` beats `b` (DEAP's fitness order: feasible first, then cost); `b` may be None."""
    return b is None or a.fitness > b.fitness


def settings_fields(cls: type) -> dict[str, Any]:
    """{name: dataclass field} of a Settings class."""
    return {f.name: f for f in fields(cls)}


def default_of(f) -> Any:
    return f.default if f.default is not MISSING else f.default_factory()


def local_start(search):
    """Where a local search (SA, hill climbing) starts: the masks held now, or with an informed start the
    importance mask at the start sparsity, stepped down (at most three times: ×1, ×0.5, ×0.25) while it breaks
    the constraint, when it beats them. After a step down, `config.start_refine` bisections between the feasible
    scale and the infeasible one above it start it nearer the constraint: each costs one evaluation, against the
    hundreds a search spends climbing back the half of the start it stepped down. Its evaluations count."""
    current = search.current_individual()
    search.evaluate([current])  # a cache hit: the previous genome's result
    if not search.informed_start:
        return current
    infeasible = None
    for scale in (1.0, 0.5, 0.25):
        informed = _informed_start(search, scale)
        if informed is not None:
            break
        infeasible = scale
    else:
        return current
    for _ in range(search.config.start_refine if infeasible is not None else 0):
        middle = (scale + infeasible) / 2
        closer = _informed_start(search, middle)
        if closer is None:
            infeasible = middle
        else:
            scale, informed = middle, closer
    return informed if better(informed, current) else current


def _informed_start(search, scale: float):
    """The importance mask at `scale` × the start sparsity, evaluated: the individual if feasible, else None."""
    informed = search.toolbox.individual(sparsity=scale * search.start_sparsity, spread=0.0)
    search.evaluate([informed])
    return informed if informed.fitness.valid and informed.score.feasible else None
