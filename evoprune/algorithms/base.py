"""The layer-wise search driver shared by SA and GA: state, budget, evaluation cache, history rows."""
from __future__ import annotations

import hashlib
import pickle
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

import numpy as np

from ..config import SearchConfig
from ..genome import individual_from_mask, mask_from_individual, packed
from ..masks import LayerSpec, full_masks, layer_sparsity
from ..importance import global_threshold_masks
from ..objectives import AccuracyFloor, StudyCost, weight_share_allowance
from ..toolbox import bind_layer, build_toolbox

HISTORY_FIELDS = (
    "layer", "step", "temperature", "mutation_rate", "cost", "feasible", "accuracy", "loss",
    "sparsity_layer_mean", "sparsity_global", "evaluations", "seconds", "event",
)


@dataclass
class SearchState:
    """Everything a search needs to continue exactly where it was: masks, counters, cache, generators."""

    masks: dict[str, np.ndarray]
    rng: np.random.Generator
    py_random: object = None          # Python's `random` state (DEAP's operators draw from it)
    layer_pos: int = 0
    layer_started: bool = False
    layer_budget: int = 0
    layer_evals: int = 0
    evaluations: int = 0
    step: int = 0
    stall: int = 0
    seconds: float = 0.0
    baseline: object = None           # EvalResult of the unpruned model on the search data
    current: object = None            # EvalResult of the current masks (finished layers applied)
    cache: dict = field(default_factory=dict)   # full-mask digest -> EvalResult
    algo: dict = field(default_factory=dict)    # the algorithm's own per-layer state
    extra: dict = field(default_factory=dict)   # the algorithm's own state for the whole run
    layers: list = field(default_factory=list)  # one dict per finished layer
    history_rows: int = 0


def layer_entry(spec: LayerSpec, kept: int, evaluations: int, found: dict) -> dict:
    """A finished layer's summary entry: its size, what it kept, what its search found and spent."""
    return {"name": spec.name, "index": spec.index, "kernel_size": spec.size, "weights_kept": kept,
            "sparsity": 1.0 - kept / spec.size, **found, "evaluations": evaluations}


class Callback:
    """Hooks a search calls as it goes (history writer, progress bar, checkpoints)."""

    def on_layer_start(self, search: "LayerwiseSearch") -> None: ...
    def on_row(self, search: "LayerwiseSearch", row: dict) -> None: ...
    def on_step_end(self, search: "LayerwiseSearch") -> None:
        """After a step and its bookkeeping: the state is consistent here (checkpoints go here)."""
    def on_layer_end(self, search: "LayerwiseSearch", layer: dict) -> None:
        """After a layer is finished and the search has moved past it (`layer` describes it)."""


class LayerwiseSearch(ABC):
    """Searches the layers in model order, one mask per layer, finished layers fixed.

    Subclasses implement `begin_layer`, `step` and `chosen` (the individual the layer
    ends with, or None to keep the layer's previous mask). Every evaluation goes through
    `toolbox.map(toolbox.evaluate, …)`; this class adds the budget, the cache and the rows.
    """

    name: ClassVar[str]

    def __init__(self, specs: Sequence[LayerSpec], config: SearchConfig, task_factory: Callable,
                 map_fn: Callable = map, layer_count: int | None = None,
                 callbacks: Sequence[Callback] = (), state: SearchState | None = None,
                 scores: dict[str, np.ndarray] | None = None):
        self.specs = list(specs)
        self.config = config
        self.task_factory = task_factory  # Context -> the callable registered as toolbox.evaluate
        # The study's warm-up divides by the number of model layers, not of prunable ones.
        self.layer_count = layer_count or (max(s.index for s in self.specs) + 1)
        self.callbacks = list(callbacks)
        self.scores = scores  # importance of every weight (None: uninformed)
        self.state = state or SearchState(full_masks(self.specs), np.random.default_rng(config.seed))
        self.toolbox = build_toolbox(self.name, config, self.state.rng, map_fn)
        self.objective: StudyCost | AccuracyFloor | None = None
        self._started_at = None
        if self.state.baseline is not None:
            self._make_objective()
        if self.state.layer_started:
            self._bind_layer()

    # ----- the run -----
    def run(self) -> SearchState:
        st = self.state
        if st.py_random is None:
            random.seed(self.config.seed)
        else:
            random.setstate(st.py_random)
        self._started_at = time.perf_counter() - st.seconds
        if st.baseline is None:
            self._evaluate_baseline()
        while st.layer_pos < len(self.specs):
            if not st.layer_started:
                self._start_layer()
            while self._layer_active():
                before = st.evaluations
                self.step()
                st.stall = 0 if st.evaluations > before else st.stall + 1
                st.step += 1
                for cb in self.callbacks:
                    cb.on_step_end(self)
            self._end_layer()
        st.seconds = self.elapsed()
        return st

    def elapsed(self) -> float:
        return time.perf_counter() - self._started_at if self._started_at is not None else self.state.seconds

    @property
    def spec(self) -> LayerSpec:
        return self.specs[self.state.layer_pos]

    def _layer_active(self) -> bool:
        st = self.state
        return (st.layer_evals < st.layer_budget and st.evaluations < self.config.budget
                and st.stall < self.config.stall_limit and self.can_step())

    def can_step(self) -> bool:
        return True

    def _evaluate_baseline(self) -> None:
        st = self.state
        st.layer_pos, st.layer_started = 0, True
        self._bind_layer()
        # The unpruned model is the first evaluation of the budget (and SA's first starting point).
        (res,) = self._run_masks([self.current_individual()])
        st.baseline = st.current = res
        st.layer_started = False
        self._make_objective()

    def _make_objective(self) -> None:
        c, base = self.config, self.state.baseline
        if c.objective == "study":
            self.objective = StudyCost(base.loss, self.layer_count, c.loss_to_warmup, c.relative_threshold)
        else:
            allowance = weight_share_allowance({s.index: s.size for s in self.specs})
            self.objective = AccuracyFloor(base.accuracy, c.delta, allowance, c.loss_weight, c.confidence, base)

    def start_sparsity(self) -> float:
        """The informed start's sparsity for this layer: its share of the global importance mask."""
        if self.scores is None:
            return 0.0
        start = global_threshold_masks(self.scores, self.config.start_sparsity)[self.spec.name]
        return layer_sparsity(start)

    def _start_layer(self) -> None:
        st = self.state
        st.layer_budget = self._layer_share()
        st.layer_evals, st.step, st.stall, st.algo = 0, 0, 0, {}
        st.layer_started = True
        self._bind_layer()
        for cb in self.callbacks:
            cb.on_layer_start(self)
        self.begin_layer()

    def informed_start(self) -> bool:
        return self.config.start == "informed" and self.scores is not None

    def _layer_share(self) -> int:
        """This layer's part of the remaining budget: equal shares (the study's), or ∝ size ** power."""
        st, c = self.state, self.config
        rest = self.specs[st.layer_pos:]
        power = c.budget_power if c.layer_budget == "weights" else 0.0
        weights = [s.size ** power for s in rest]
        return int((c.budget - st.evaluations) * weights[0] / sum(weights))

    def _bind_layer(self) -> None:
        from ..evaluation.context import Context

        st, spec = self.state, self.spec
        context = Context.make(st.masks, spec.name)
        scores = self.scores[spec.name] if self.scores is not None else None
        bind_layer(self.toolbox, self.config, self.task_factory(context), st.masks[spec.name], scores,
                   self.start_sparsity(), st.rng)
        # What every candidate of this layer shares, precomputed once: the packed bytes of
        # the other layers (for the cache key) and their kept counts (for the sparsities).
        names = [s.name for s in self.specs]
        i = names.index(spec.name)
        self._before = hashlib.sha1(b"".join(np.packbits(st.masks[n].reshape(-1)).tobytes() for n in names[:i]))
        self._after = b"".join(np.packbits(st.masks[n].reshape(-1)).tobytes() for n in names[i + 1:])
        others = [s for s in self.specs if s.name != spec.name]
        self._other_pruned_fraction = sum(layer_sparsity(st.masks[s.name]) for s in others)
        self._other_kept = sum(int(np.count_nonzero(st.masks[s.name])) for s in others)
        self._total = sum(s.size for s in self.specs)

    def _end_layer(self) -> None:
        st = self.state
        best = self.chosen()
        if best is not None:
            st.masks.update(self.masks_of(best))
            st.current = best.result
        else:
            self.record(None, event="no_feasible_mask: the searched masks stay as they were")
        found = {"feasible_found": best is not None, "search_accuracy": st.current.accuracy,
                 "search_loss": st.current.loss}
        finished, ended = self._finished_layers(found)
        st.layers += finished
        st.layer_pos += len(finished)
        st.layer_started = False
        st.algo = {}
        for cb in self.callbacks:  # after the bookkeeping: a checkpoint taken here is consistent
            cb.on_layer_end(self, ended)

    def _finished_layers(self, found: dict) -> tuple[list[dict], dict]:
        """The summary entries of the layers this pass finished, and the one the callbacks get."""
        st, spec = self.state, self.spec
        layer = layer_entry(spec, int(np.count_nonzero(st.masks[spec.name])), st.layer_evals, found)
        return [layer], layer

    # ----- the searched unit: one layer's mask here, every layer's in `WholeModel` -----
    @property
    def unit_label(self) -> str:
        """What the searched genome covers, for progress bars."""
        return f"{self.spec.name} [{self.state.layer_pos + 1}/{len(self.specs)}]"

    def current_individual(self):
        """The individual of the masks the search holds now (the searched layer's)."""
        return individual_from_mask(self.state.masks[self.spec.name])

    def masks_of(self, individual) -> dict[str, np.ndarray]:
        """The layer masks an individual encodes."""
        return {self.spec.name: mask_from_individual(individual, self.spec.shape)}

    # ----- evaluation -----
    def sparsities(self, individual) -> tuple[float, float]:
        """Layer-mean and global sparsity of the whole model with `individual` as this layer's mask."""
        kept = sum(individual)
        size = self.spec.size
        layer_mean = (self._other_pruned_fraction + 1.0 - kept / size) / len(self.specs)
        return layer_mean, 1.0 - (self._other_kept + kept) / self._total

    def _key(self, packed_bits: np.ndarray) -> bytes:
        h = self._before.copy()
        h.update(packed_bits.tobytes())
        h.update(self._after)
        return h.digest()

    def _run_masks(self, individuals: Sequence) -> list:
        """Evaluate individuals (no budget check), through the cache and `toolbox.map`."""
        return self.evaluate(individuals, limit=None)

    def evaluate(self, individuals: Sequence, limit: int | None = -1) -> list:
        """Score individuals: cached masks for free, the rest through `toolbox.map(toolbox.evaluate, …)`.

        At most the remaining budget of new masks is evaluated (`limit=-1`); individuals
        beyond it are left with an invalid fitness. Sets `fitness.values`, `.result` and
        `.score` on each scored individual and returns their EvalResults (None if unscored).
        """
        st = self.state
        if limit == -1:
            limit = min(st.layer_budget - st.layer_evals, self.config.budget - st.evaluations)
        packs = [packed(ind) for ind in individuals]
        keys = [self._key(p) for p in packs]
        todo: dict[bytes, np.ndarray] = {}
        for k, p in zip(keys, packs):
            if k not in st.cache and k not in todo and (limit is None or len(todo) < limit):
                todo[k] = p
        if todo:
            results = self.toolbox.map(self.toolbox.evaluate, list(todo.values()))
            st.cache.update(zip(todo.keys(), results))
            st.evaluations += len(todo)
            st.layer_evals += len(todo)
            for res in results:
                if getattr(res, "error", None):  # scored infeasible (NaN loss), and kept in the history
                    self.record(None, event="evaluation_error: " + res.error.splitlines()[-1])
        out = []
        for ind, k in zip(individuals, keys):
            res = st.cache.get(k)
            out.append(res)
            if res is None:
                continue
            score = (self.objective.score(res, *self.sparsities(ind), self.spec.index)
                     if self.objective else None)
            ind.result, ind.score = res, score
            if score is not None:
                ind.fitness.values = score.fitness
        return out

    # ----- records -----
    def record(self, individual, temperature: float | None = None, rate: float | None = None,
               event: str = "") -> dict:
        st = self.state
        row = dict.fromkeys(HISTORY_FIELDS, "")
        row.update(layer=self.spec.name, step=st.step, evaluations=st.evaluations,
                   seconds=round(self.elapsed(), 3), event=event)
        if temperature is not None:
            row["temperature"] = temperature
        if rate is not None:
            row["mutation_rate"] = rate
        if individual is not None:
            layer_mean, global_ = self.sparsities(individual)
            row.update(cost=individual.score.cost, feasible=int(individual.score.feasible),
                       accuracy=individual.result.accuracy, loss=individual.result.loss,
                       sparsity_layer_mean=layer_mean, sparsity_global=global_)
        st.history_rows += 1
        for cb in self.callbacks:
            cb.on_row(self, row)
        return row

    # ----- state -----
    def snapshot(self) -> bytes:
        """The full state, Python's `random` included, as bytes that `restore` continues from exactly."""
        self.state.py_random = random.getstate()
        self.state.seconds = self.elapsed()
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def restore(data: bytes) -> SearchState:
        return pickle.loads(data)

    # ----- what an algorithm implements -----
    @abstractmethod
    def begin_layer(self) -> None:
        """Set up `state.algo` for the layer now starting (evaluations count against its budget)."""

    @abstractmethod
    def step(self) -> None:
        """One SA proposal or one GA generation."""

    @abstractmethod
    def chosen(self):
        """The feasible individual the layer ends with, or None to keep the previous mask."""

    @staticmethod
    def better(a, b) -> bool:
        """Whether `a` beats `b` (feasible first, then cost); `b` may be None."""
        return b is None or a.fitness > b.fitness
