"""A search's evaluations: the budget, the cache of scored masks, and fitness for every individual."""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import numpy as np
from deap import base

from ..errors import ConfigError
from ..network.masks import Masks, pack
from ..problem.genome import bits
from ..problem.layout import Layout
from .state import RunState


class Evaluator:
    """Scores individuals: masks seen before from the cache, the rest through `toolbox.map(toolbox.evaluate, …)`.

    The cache is keyed by every layer's mask, so a mask met again in another layer's pass is
    not evaluated twice; the budget counts only evaluations actually made. Each scored
    individual gets `fitness.values`, `result` (its EvalResult) and `score` (cost, feasible).
    """

    def __init__(self, toolbox: base.Toolbox, state: RunState, budget: int, on_error: Callable[[str], None],
                 on_batch: Callable[[list], None] = lambda keys: None):
        self.toolbox, self.state, self.budget = toolbox, state, budget
        self.on_error, self.on_batch = on_error, on_batch
        self._before, self._after = hashlib.sha1(), b""

    def bind(self, layout: Layout, masks: Masks) -> None:
        """Key masks of `layout` in the context of `masks`: what every candidate shares is hashed once."""
        if layout.whole:  # a whole genome's key is the digest of its own packed bits
            self._before, self._after = hashlib.sha1(), b""
            return
        names = [s.name for s in layout.specs]
        i = names.index(layout.layer)
        self._before = hashlib.sha1(b"".join(np.packbits(masks[n].reshape(-1)).tobytes() for n in names[:i]))
        self._after = b"".join(np.packbits(masks[n].reshape(-1)).tobytes() for n in names[i + 1:])

    def _key(self, packed_bits: np.ndarray) -> bytes:
        h = self._before.copy()
        h.update(packed_bits.tobytes())
        h.update(self._after)
        return h.digest()

    def evaluate(self, individuals: Sequence, limit: int | None = -1) -> list:
        """Score individuals; at most the remaining budget of new masks is evaluated (`limit=-1`; None: no limit).

        Individuals beyond the budget keep an invalid fitness. Returns each one's EvalResult (None if unscored).
        """
        st, target = self.state, self.toolbox.target
        if limit == -1:
            limit = min(st.unit_budget - st.unit_evals, self.budget - st.evaluations)
        genomes = [bits(ind) for ind in individuals]
        keys = [self._key(pack(g)) for g in genomes]
        todo: dict[bytes, object] = {}
        for k, ind in zip(keys, individuals):
            if k not in st.cache and k not in todo and (limit is None or len(todo) < limit):
                todo[k] = ind
        if todo:
            # A replayed step takes the evaluations it made before it was interrupted from `replay`.
            fresh = [k for k in todo if k not in st.replay]
            made = {} if not fresh else dict(zip(fresh, (_result(v) for v in self.toolbox.map(
                self.toolbox.evaluate, [todo[k] for k in fresh]))))
            results = [made[k] if k in made else st.replay.pop(k) for k in todo]
            st.cache.update(zip(todo.keys(), results))
            st.evaluations += len(todo)
            st.unit_evals += len(todo)
            st.images += sum(r.images for r in results)
            for res in results:
                if res.error:  # scored infeasible (NaN loss), and kept in the history
                    self.on_error("evaluation_error: " + res.error.splitlines()[-1])
            self.on_batch(list(todo))
        out = []
        for ind, genome, k in zip(individuals, genomes, keys):
            res = st.cache.get(k)
            out.append(res)
            if res is None:
                continue
            score = target.score(res, genome)
            ind.result, ind.score = res, score
            if score is not None:
                ind.fitness.values = target.values(score, res, genome)
        return out


def _result(value):
    """The EvalResult an evaluation returned (evoprune's `evaluate` attaches it to the fitness tuple)."""
    result = getattr(value, "result", None)
    if result is None:
        raise ConfigError("toolbox.evaluate returned a bare fitness; evoprune's algorithms need the evaluation "
                          "behind it: register a function that returns what evoprune's evaluate returns "
                          "(an evoprune.problem.target.Evaluated, with .result)")
    return result
