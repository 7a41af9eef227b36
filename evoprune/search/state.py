"""The state of a search: everything needed to continue it exactly where it was."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..network.masks import Masks


@dataclass
class RunState:
    """Masks, counters, the evaluation cache, every random generator, and the algorithm's own state.

    `unit` is the position of the genome layout being searched (a layer, or the whole model);
    `algo` the algorithm's typed state for it (kept after the unit ends, for the next unit's
    setup and for the front). A checkpoint holds this object as it was at the start of a step
    (or of a genome's setup), the cache, and the evaluations the interrupted step had already
    made: a resumed step is replayed and takes those from `replay`, counting them as evaluations.
    """

    masks: Masks
    rng: np.random.Generator
    py_random: object = None          # Python's `random` state (DEAP's operators draw from it)
    unit: int = 0
    unit_started: bool = False
    unit_budget: int = 0
    unit_evals: int = 0
    evaluations: int = 0
    images: int = 0                   # images the evaluations ran on (N each, none for a failed one)
    step: int = 0
    stall: int = 0
    seconds: float = 0.0
    baseline: object = None           # EvalResult of the unpruned model on the search data
    current: object = None            # EvalResult of the current masks (finished units applied)
    cache: dict = field(default_factory=dict)   # full-mask digest -> EvalResult
    replay: dict = field(default_factory=dict)  # evaluations a resumed step made before it was interrupted
    setup_done: bool = True                     # False between a genome's start and the end of its setup
    algo: object = None
    layers: list = field(default_factory=list)  # one summary entry per finished layer
    history_rows: int = 0
