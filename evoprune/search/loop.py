"""The one search loop: a problem's genomes searched one after another by an algorithm, with callbacks."""
from __future__ import annotations

import pickle
import random
import time
from typing import Callable, Mapping, Sequence

import numpy as np

from .. import _faults
from ..algorithms.base import STUDY_COLUMNS
from ..errors import ConfigError
from ..network.masks import LayerSpec, Masks
from ..problem.calls import check_toolbox
from ..problem.genome import bits, individual_of
from ..problem.layout import Layout, layouts
from ..problem.operators import adaptive_rate
from ..problem.toolbox import Moves, bind, build_toolbox
from .config import SearchConfig
from .evaluator import Evaluator
from .state import RunState

# Every search's history columns, written by the loop; an algorithm's own (`Algorithm.history_columns`)
# go between the two parts.
ROW_KEYS = ("layer", "step")
ROW_FIGURES = ("cost", "feasible", "accuracy", "loss", "sparsity_layer_mean", "sparsity_global", "evaluations",
               "seconds", "event", "images")


def history_fields(columns: Sequence[str] = ()) -> tuple[str, ...]:
    """history.csv's columns for an algorithm declaring `columns`: the shared ones, its own after the step."""
    clash = (set(ROW_KEYS) | set(ROW_FIGURES)) & set(columns)
    if clash or len(set(columns)) != len(columns):
        raise ConfigError(f"history columns {list(columns)} repeat a column or a shared one "
                          f"({', '.join(sorted(clash)) or 'twice'})")
    return (*ROW_KEYS, *columns, *ROW_FIGURES)


# The built-in algorithms' history columns (each declares STUDY_COLUMNS).
HISTORY_FIELDS = history_fields(STUDY_COLUMNS)


class Callback:
    """Hooks the loop calls as a search goes (history rows, progress bars, checkpoints)."""

    def on_unit_start(self, search: "Search") -> None:
        """A genome (a layer, or the whole model) starts."""

    def on_row(self, search: "Search", row: dict) -> None:
        """A history row was recorded."""

    def on_evaluations(self, search: "Search") -> None:
        """After a batch of evaluations was made and counted, mid-step too (checkpoints by work go here)."""

    def on_step_end(self, search: "Search") -> None:
        """After a step and its bookkeeping."""

    def on_unit_end(self, search: "Search", entry: dict) -> None:
        """After a genome is finished and the search has moved past it (`entry` describes it)."""


def layer_entry(spec: LayerSpec, kept: int, evaluations: int, found: dict) -> dict:
    """A finished layer's summary entry: its size, what it kept, what its search found and spent."""
    return {"name": spec.name, "index": spec.index, "kernel_size": spec.size, "weights_kept": kept,
            "sparsity": 1.0 - kept / spec.size, **found, "evaluations": evaluations}


class Search:
    """A search: a problem, its genomes (one per layer, or one of the whole model), an algorithm, and `run()`.

    The algorithm gets this object in its hooks and uses it, as an `algorithms.contract.Run`,
    for everything it needs beyond its own state: `toolbox` (every operator and `toolbox.map`),
    `evaluate` (budget and cache), `record` (history rows), `rng`, the budget and the rate (the
    members under "what algorithms use"). Scope: a Problem of one layer is searched as that
    layer alone; otherwise the algorithm's fixed scope, else `config.scope`.
    """

    def __init__(self, problem, algorithm, config: SearchConfig, *, map_fn: Callable = map,
                 scores: Mapping[str, np.ndarray] | None = None, callbacks: Sequence[Callback] = (),
                 state: RunState | None = None, customize: Callable | None = None):
        if config.goal() != problem.goal:
            raise ConfigError(f"the problem's objective {problem.goal} differs from the config's "
                              f"{config.goal()}")
        if problem.refits != (config.refit == "loop"):
            raise ConfigError(f"the config's refit {config.refit!r} needs a Problem made with "
                              f"scoring={'refit' if config.refit == 'loop' else 'incremental'!r}")
        self.problem, self.algorithm, self.config = problem, algorithm, config
        self.specs: list[LayerSpec] = list(problem.specs)
        self.layouts = ([problem.layout] if not problem.layout.whole
                        else layouts(self.specs, algorithm.scope or config.scope))
        self.callbacks = list(callbacks)
        self.history_fields = history_fields(algorithm.history_columns)  # history.csv's columns
        self.scores = scores  # importance of every weight (None: uninformed)
        self.state = state or RunState(dict(problem.fixed), np.random.default_rng(config.seed))
        self.informed_start = config.start == "informed" and scores is not None
        moves = Moves(config.moves, config.rate0, config.restore, config.focus, config.start_spread,
                      config.init_zero_share)
        self.toolbox = build_toolbox(problem.token, self.layouts[0], self.state.rng, moves,
                                     informed_start=self.informed_start, fitness=algorithm.fitness, map_fn=map_fn)
        algorithm.configure(self.toolbox, self)
        if customize is not None:  # the one point where a user's operators go in; nothing re-registers them
            customize(self.toolbox)
            check_toolbox(self.toolbox)  # a misfit would raise at its first call, mid-run
        self.evaluator = Evaluator(self.toolbox, self.state, config.budget,
                                   on_error=lambda event: self.record(None, event=event), on_batch=self._on_batch)
        self._marked: bytes | None = None  # the state where the phase under way started (see `snapshot`)
        self._pending: list = []           # the cache keys it has evaluated since
        self.objective = problem.objective(self.state.baseline) if self.state.baseline is not None else None
        self._started_at = None
        if self.state.unit_started:
            self._bind()

    # ----- the loop -----
    def run(self) -> RunState:
        st = self.state
        if st.py_random is None:
            random.seed(self.config.seed)
        else:
            random.setstate(st.py_random)
        self._started_at = time.perf_counter() - st.seconds
        # Each phase (the baseline, a genome's setup, a step) starts with a mark: a checkpoint taken
        # during it holds the state at the mark plus what it has evaluated since, and a resumed run
        # replays the phase from the mark (the same random draws, the evaluations from the replay).
        if st.baseline is None:
            self._mark()
            self._evaluate_baseline()
            self._marked = None
        while st.unit < len(self.layouts):
            if not st.unit_started:
                self._start_unit()
            if not st.setup_done:
                self._mark()
                st.algo = self.algorithm.setup(self, st.algo)  # the previous genome's state, if any
                st.setup_done = True
                self._marked = None
            while self._active():
                self._mark()
                before = st.evaluations
                self.algorithm.step(self, st.algo)
                st.stall = 0 if st.evaluations > before else st.stall + 1
                st.step += 1
                self._marked = None
                for cb in self.callbacks:
                    cb.on_step_end(self)
            self._end_unit()
        st.seconds = self.elapsed()
        return st

    def _active(self) -> bool:
        st, c = self.state, self.config
        return (st.unit_evals < st.unit_budget and st.evaluations < c.budget and st.stall < c.stall_limit
                and not self.algorithm.done(self, st.algo))

    def _evaluate_baseline(self) -> None:
        st = self.state
        st.unit, st.unit_started = 0, True
        self._bind()
        # The unpruned model is the first evaluation of the budget (and a starting point).
        (res,) = self.evaluate([self.current_individual()], limit=None)
        st.baseline = st.current = res
        st.unit_started = False
        self.objective = self.problem.objective(res)

    def _start_unit(self) -> None:
        st = self.state
        st.unit_budget = self._share()
        st.unit_evals, st.step, st.stall = 0, 0, 0
        st.unit_started, st.setup_done = True, False
        self._bind()
        for cb in self.callbacks:
            cb.on_unit_start(self)

    def _share(self) -> int:
        """This genome's part of the remaining budget: all of it for a whole model; for layers equal shares
        (the study's), or ∝ kernel size ** budget_power."""
        st, c = self.state, self.config
        rest = self.layouts[st.unit:]
        power = c.budget_power if c.layer_budget == "weights" else 0.0
        weights = [layout.size ** power for layout in rest]
        if len(rest) == 1:  # the last genome takes what is left: (left × w) / w may round to one evaluation fewer
            return c.budget - st.evaluations
        return int((c.budget - st.evaluations) * weights[0] / sum(weights))

    def _bind(self) -> None:
        bind(self.toolbox, self.layout, self.state.masks, self.objective, self.scores, self.config.start_sparsity)
        self.evaluator.bind(self.layout, self.state.masks)

    def _end_unit(self) -> None:
        st, layout = self.state, self.layout
        best = self.algorithm.best(self, st.algo)
        if best is not None:
            st.masks.update(self.masks_of(best))
            st.current = best.result
        else:
            self.record(None, event="no_feasible_mask: the searched masks stay as they were")
        found = {"feasible_found": best is not None, "search_accuracy": st.current.accuracy,
                 "search_loss": st.current.loss}
        kept = {s.name: int(np.count_nonzero(st.masks[s.name])) for s in layout.covered}
        # A whole-model genome served every layer: its evaluations count once, on the first layer,
        # so the layers' evaluations add up as in a layer-wise run.
        st.layers += [layer_entry(s, kept[s.name], st.unit_evals if i == 0 else 0, found)
                      for i, s in enumerate(layout.covered)]
        entry = layer_entry(LayerSpec(layout.name, layout.index, (layout.size,)), sum(kept.values()),
                            st.unit_evals, found)
        st.unit += 1
        st.unit_started = False
        for cb in self.callbacks:  # after the bookkeeping: a checkpoint taken here is consistent
            cb.on_unit_end(self, entry)

    # ----- what algorithms use (`algorithms.contract.Run`) -----
    @property
    def rng(self) -> np.random.Generator:
        """The run's numpy generator (saved in checkpoints)."""
        return self.state.rng

    @property
    def unit_evals(self) -> int:
        """Evaluations made on the genome being searched."""
        return self.state.unit_evals

    @property
    def unit_budget(self) -> int:
        """The evaluations this genome may make."""
        return self.state.unit_budget

    @property
    def budget_left(self) -> int:
        """The evaluations this genome may still make (what `evaluate` allows)."""
        st = self.state
        return min(st.unit_budget - st.unit_evals, self.config.budget - st.evaluations)

    @property
    def rate(self) -> float:
        """The adaptive mutation rate now: `config.rate0 × (1 − unit_evals / unit_budget)`."""
        return adaptive_rate(self.config.rate0, self.state.unit_evals, self.state.unit_budget)

    @property
    def layout(self) -> Layout:
        """The genome being searched now."""
        return self.layouts[min(self.state.unit, len(self.layouts) - 1)]

    @property
    def unit_label(self) -> str:
        """What the genome covers, for progress bars."""
        if self.layout.whole:
            return f"all {len(self.specs)} layers"
        return f"{self.layout.name} [{self.state.unit + 1}/{len(self.layouts)}]"

    @property
    def start_sparsity(self) -> float:
        """The informed start's sparsity for this genome (its share of the global importance mask for a layer)."""
        return self.toolbox.genome.start_sparsity

    def current_individual(self):
        """An individual holding the genome of the masks held now."""
        return individual_of(self.layout.genome(self.state.masks), self.toolbox.genome.cls)

    def masks_of(self, individual) -> Masks:
        """The masks of the layers the genome covers that `individual` encodes."""
        return self.layout.masks(bits(individual))

    def evaluate(self, individuals: Sequence, limit: int | None = -1) -> list:
        """Score individuals within the budget (see `Evaluator.evaluate`)."""
        return self.evaluator.evaluate(individuals, limit)

    def record(self, individual, event: str = "", **columns) -> dict:
        """A history row: the step, the budget spent, `individual`'s figures on the search data, and the
        algorithm's own `columns` (those it declares in `history_columns`; None leaves a cell empty)."""
        st = self.state
        row = dict.fromkeys(self.history_fields, "")
        undeclared = [k for k in columns if k not in self.algorithm.history_columns]
        if undeclared:
            raise ValueError(f"{self.algorithm.name} records {', '.join(undeclared)}, which it does not declare "
                             f"in history_columns {self.algorithm.history_columns}")
        row.update(layer=self.layout.name, step=st.step, evaluations=st.evaluations,
                   seconds=round(self.elapsed(), 3), event=event, images=st.images)
        row.update((k, v) for k, v in columns.items() if v is not None)
        if individual is not None:
            layer_mean, global_ = self.toolbox.target.sparsity(bits(individual))
            row.update(cost=individual.score.cost, feasible=int(individual.score.feasible),
                       accuracy=individual.result.accuracy, loss=individual.result.loss,
                       sparsity_layer_mean=layer_mean, sparsity_global=global_)
        st.history_rows += 1
        for cb in self.callbacks:
            cb.on_row(self, row)
        return row

    def elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at is not None else self.state.seconds

    def _on_batch(self, keys: list) -> None:
        self._pending += keys
        _faults.after_evaluations(len(keys))  # tests kill the process here, mid-step
        for cb in self.callbacks:
            cb.on_evaluations(self)

    def _mark(self) -> None:
        """Remember the state now (without the cache, which only grows) as where the phase under way started."""
        st = self.state
        st.py_random, st.seconds = random.getstate(), self.elapsed()
        cache, st.cache = st.cache, {}
        try:
            self._marked = pickle.dumps(st, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            st.cache = cache
        self._pending = []

    def snapshot(self) -> bytes:
        """The search as bytes that `restore` continues from exactly, taken at any point, mid-step included.

        They hold the state at the start of the phase under way (the state now between phases),
        every random generator's state included, the cache, and the keys evaluated since.
        """
        if self._marked is None:
            self._mark()
            marked, self._marked = self._marked, None
        else:
            marked = self._marked
        return pickle.dumps({"state": marked, "cache": self.state.cache, "pending": list(self._pending)},
                            protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def restore(data: bytes) -> RunState:
        """The state a snapshot holds, with the evaluations of the interrupted phase set aside to replay."""
        saved = pickle.loads(data)
        state = pickle.loads(saved["state"])
        state.cache = saved["cache"]
        state.replay = {k: state.cache.pop(k) for k in saved["pending"]}
        return state


