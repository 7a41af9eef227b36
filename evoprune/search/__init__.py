"""How a search runs: shared settings, the evaluator (budget, cache), the one loop, and `search()`.

`search()` is pure: no files, no test data. The caller decides where evaluations run by
passing a map-shaped function (an executor's `map`) and what is recorded by passing callbacks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..algorithms import Algorithm, check_budget, config_record, importance_for, make_algorithm, units
from ..errors import ConfigError
from ..evaluation import registry
from ..network.masks import Masks
from ..problem.importance import magnitude
from .config import PRESETS, SearchConfig, make_config
from .loop import HISTORY_FIELDS, Callback, Search, layer_entry
from .state import RunState


@dataclass
class SearchResult:
    """What a search found on its search images: every layer's masks, the final state, and a front if any."""

    masks: Masks
    state: RunState
    algorithm: Algorithm
    config: SearchConfig
    front: list[tuple[Masks, object]] | None = None  # (masks, search-data EvalResult), from the sparsest

    @property
    def record(self) -> dict:
        """The settings as run.json records them: the shared ones, then the algorithm's own."""
        return config_record(self.algorithm, self.config)


def prepare(problem, algorithm: str | Algorithm, config: SearchConfig | None = None,
            strict: bool = False) -> tuple[Algorithm, SearchConfig]:
    """The algorithm with its settings and the config, checked against the problem before any work."""
    config = config or SearchConfig(**problem.goal.settings())
    config.validate()
    algo = algorithm if isinstance(algorithm, Algorithm) else make_algorithm(algorithm, config, strict)
    n = 1 if not problem.layout.whole else units(algo, config, len(problem.specs))
    check_budget(algo, config, n)
    return algo, config


def search(problem, algorithm: str | Algorithm = "sa", config: SearchConfig | None = None, *,
           map_fn: Callable = map, scores: Mapping[str, np.ndarray] | None = None,
           callbacks: Sequence[Callback] = (), state: RunState | None = None,
           customize: Callable | None = None) -> SearchResult:
    """Search masks for `problem` with `algorithm` (a registered name or an instance), deciding on its images.

    `config` (default: the problem's objective with every other default) must judge masks as
    the problem does. `map_fn` evaluates batches (the built-in `map`: in this process; or an
    executor's `map` after `executor.start(problem)`); `scores` are importance scores (magnitude ones are computed
    here when needed; others need training images: `problem.importance.compute`).
    `customize(toolbox)` may register other operators once, before the first evaluation;
    `state` continues a snapshotted search exactly (`Search.restore`).
    """
    algo, config = prepare(problem, algorithm, config)
    if map_fn is map:  # evaluations in this process: it needs the problem's evaluator
        registry.install(problem.token, problem.build_evaluator)
    kind = importance_for(algo, config)
    if scores is None and kind == "magnitude":
        scores = magnitude(problem.model(), problem.specs)
    elif scores is None and kind is not None:
        raise ConfigError(f"{kind} importance needs training images: compute the scores with "
                          "evoprune.problem.importance.compute and pass scores=")
    run = Search(problem, algo, config, map_fn=map_fn, scores=scores if kind is not None else None,
                 callbacks=callbacks, state=state, customize=customize)
    st = run.run()
    points = algo.front(st.algo)
    front = None if points is None else [(run.masks_of(ind), ind.result) for ind in points]
    return SearchResult(st.masks, st, algo, config, front)


__all__ = ["HISTORY_FIELDS", "PRESETS", "Callback", "RunState", "Search", "SearchConfig", "SearchResult",
           "layer_entry", "make_config", "prepare", "search"]
