"""What an algorithm is: typed settings, a typed state, and small hooks the search loop calls."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Callable, ClassVar, Generic, TypeVar

from deap import base

from ..errors import ConfigError
from .contract import Run

S = TypeVar("S")

# The built-in algorithms' own history columns: SA's temperature and the adaptive mutation rate,
# empty where an algorithm has none, so every built-in run's history.csv has the same columns.
STUDY_COLUMNS = ("temperature", "mutation_rate")


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

    The loop (`search.loop.Search.run`) searches the problem's genomes one after another (one
    per layer, or one of the whole model). For each it calls `setup` once, then `step` while the
    genome has budget left, steps make evaluations and `done` is False, then `best`. Hooks get the
    running search as a `Run` (`algorithms.contract`: toolbox, evaluate, record, rng, budget,
    rate, …) and the algorithm's own typed state `S`; they use nothing else of the run. Every
    evaluation goes through `search.evaluate`, which uses `toolbox.map(toolbox.evaluate, …)`: an
    algorithm never sees processes or evaluators. Adding an algorithm is one module (this
    subclass, its Settings and State) and one line in `algorithms/__init__.py` (or `register`);
    its settings become `--set KEY=VALUE` and CLI flags by themselves.

    Resume rules (a run stopped anywhere and resumed must end exactly as if never stopped):

    - The state `S` must pickle (a dataclass of individuals, lists, numbers): no pools, open
      files, lambdas or TensorFlow objects. The algorithm object itself is not checkpointed, so
      keep nothing that changes during a run on `self`; everything the run needs goes in `S`.
    - Every random draw comes from `search.rng` (numpy) or Python's `random` (DEAP's operators
      draw from it), which the loop seeds from the run's seed and saves in checkpoints. Never
      make a generator of your own, and never draw from anything else (time, hashes of ids, a
      set's order).
    - A checkpoint holds the run state as it was when the phase under way began (the baseline,
      a genome's `setup`, or a `step`): counters, masks, both generators' states, `S`, the
      evaluation cache, and the evaluations the phase had made since. A resumed run calls that
      hook again from there on the same state, and its evaluations are taken from the
      checkpoint rather than made again. So a hook must be a function of its state, the
      toolbox and the generators: given the same, it must make the same draws and the same
      `evaluate` calls in the same order (`done` and `best` must not draw or evaluate at all).
    - History rows a hook writes (`search.record`) are written again when its phase replays;
      the history file is cut back to the checkpoint's rows first, so write rows only through
      `record`.

    History: the loop writes every row's shared columns (layer, step, then cost, feasible,
    accuracy, loss, the sparsities, evaluations, seconds, event, images); an algorithm's own
    per-row values are the columns it declares in `history_columns` (between step and cost),
    given to `search.record` as keywords.
    """

    name: ClassVar[str]
    Settings: ClassVar[type] = NoSettings
    scope: ClassVar[str | None] = None     # "layers" or "model" when fixed; None follows config.scope
    importance: ClassVar[str | None] = None  # importance scores it needs whatever the config says ("" = none)
    fitness: ClassVar[str] = "single"      # how DEAP sees a mask: "single" (feasible, cost) or "front"
    history_columns: ClassVar[tuple[str, ...]] = ()  # its own history.csv columns (see above)

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
    def configure(self, toolbox: base.Toolbox, search: Run) -> None:
        """Register this algorithm's default operators (before the user's `customize`; never again).

        Called once when the search is built, a resumed one too: register operators here (they may
        take `search.rng`), but do not draw or evaluate."""

    @abstractmethod
    def setup(self, search: Run, previous: S | None) -> S:
        """The state of the genome now starting; `previous`: the last genome's state (None for the first).

        Its evaluations count against the genome's budget. A checkpoint taken during it replays it."""

    @abstractmethod
    def step(self, search: Run, state: S) -> None:
        """One move (an SA proposal, a GA generation, …), updating `state` in place; usually ends with one
        `search.record` row. A step that makes no evaluation counts as a stall (the loop stops after
        `stall_limit` of them). A checkpoint taken during it replays it from the state it began with."""

    def done(self, search: Run, state: S) -> bool:
        """Whether no further step is possible (the loop also stops on budget and stalls). No draws, no evaluations."""
        return False

    @abstractmethod
    def best(self, search: Run, state: S):
        """The feasible individual the genome ends with, or None to keep the masks it started from.
        No draws, no evaluations."""

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


def local_start(search: Run):
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


def _informed_start(search: Run, scale: float):
    """The importance mask at `scale` × the start sparsity, evaluated: the individual if feasible, else None."""
    informed = search.toolbox.individual(sparsity=scale * search.start_sparsity, spread=0.0)
    search.evaluate([informed])
    return informed if informed.fitness.valid and informed.score.feasible else None
