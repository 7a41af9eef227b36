"""A synthetic, TensorFlow-free problem (loss grows as important weights are pruned), served through the real seam.

The fake evaluator is installed in evoprune's per-process registry, so searches run through
the real toolbox, `toolbox.evaluate` and `toolbox.map`; only the network is replaced.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import numpy as np

from evoprune.algorithms import make_algorithm
from evoprune.evaluation import registry
from evoprune.network.masks import LayerSpec, full_masks, split, unpack
from evoprune.problem.layout import Layout
from evoprune.search import Callback, Search
from evoprune.search.config import make_config

SPECS = [LayerSpec("l0", 0, (6, 5)), LayerSpec("l1", 2, (40,)), LayerSpec("l2", 4, (8, 4))]
N_LAYERS = 6
TOTAL = sum(s.size for s in SPECS)
_RNG = np.random.default_rng(123)
IMPORTANCE = {s.name: _RNG.random(s.size) ** 3 for s in SPECS}


@dataclass(frozen=True)
class Result:
    """An EvalResult on 1,000 images ordered by difficulty: a mask gets the first `correct` right."""

    loss: float
    accuracy: float
    correct: int
    error: str | None = None
    images: int = 1000

    @property
    def matches(self) -> bytes:
        return np.packbits(np.arange(self.images) < self.correct).tobytes()


def result(masks: dict, base_loss: float = 0.05) -> Result:
    """The fake network's score of full masks: the loss grows with the importance pruned in each layer."""
    loss = base_loss
    for s in SPECS:
        imp = IMPORTANCE[s.name]
        loss += 3.0 * float(imp[~masks[s.name].reshape(-1)].sum() / imp.sum()) ** 2
    acc = max(0.0, 1.0 - loss / 2)
    return Result(loss, acc, int(acc * 1000))


class FakeEvaluator:
    """Scores packed genomes in a context, as MaskEvaluator does; `sent` keeps what it was asked."""

    def __init__(self, base_loss: float, sent: list | None):
        self.base_loss, self.sent = base_loss, sent

    def evaluate(self, context, packed) -> list[Result]:
        out = []
        for p in packed:
            if self.sent is not None:
                self.sent.append(p.tobytes() if context.layer is None else (context.key, p.tobytes()))
            if context.layer is None:
                masks = split(unpack(p, TOTAL), SPECS)
            else:
                masks = {s.name: unpack(context.fixed[s.name] if s.name != context.layer else p, s.size)
                         for s in SPECS}
            out.append(result(masks, self.base_loss))
        return out


class FakeProblem:
    """Stands in for `evoprune.Problem` in a search: layers, objective settings, and a registered fake evaluator."""

    def __init__(self, config, base_loss: float = 0.05, sent: list | None = None):
        self.specs, self.layer_count = list(SPECS), N_LAYERS
        self.layout, self.fixed = Layout(tuple(SPECS)), full_masks(SPECS)
        self.goal, self.refits = config.goal(), config.refit == "loop"
        self.token = uuid.uuid4().hex
        registry.install(self.token, lambda: FakeEvaluator(base_loss, sent))

    def objective(self, baseline):
        return self.goal.build(baseline, {s.index: s.size for s in SPECS}, N_LAYERS)


def true_scores():
    """The fake problem's own importance of every weight, as importance scores."""
    return {s.name: IMPORTANCE[s.name].reshape(s.shape) for s in SPECS}


def make_search(name, budget=120, seed=0, base_loss=0.05, sent=None, callbacks=(), state=None, preset=None,
                scores=None, customize=None, map_fn=map, **cfg) -> Search:
    """A search of the fake problem by the registered algorithm `name` (small GA and NSGA-II populations)."""
    settings = {"population": 6, "elite": 2, "tournament": 3} if name != "nsga2" else {"population": 8}
    config = make_config(preset, budget=budget, seed=seed, **{**settings, **cfg})
    return Search(FakeProblem(config, base_loss, sent), make_algorithm(name, config.validate()), config,
                  scores=scores, callbacks=callbacks, state=state, customize=customize, map_fn=map_fn)


class Rows(Callback):
    """Keeps every history row a search emits."""

    def __init__(self):
        self.rows = []

    def on_row(self, search, row):
        self.rows.append(row)


class SnapshotAt(Callback):
    """Snapshots the search's state after its `at`-th step."""

    def __init__(self, at):
        self.at, self.steps, self.data = at, 0, None

    def on_step_end(self, search):
        self.steps += 1
        if self.steps == self.at:
            self.data = search.snapshot()


def resumes_identically(make, at: int | None = None):
    """Snapshot a search made by `make(callbacks=…, state=…)` mid-run, continue it, and check it matches.

    The snapshot is taken after step `at` (default: half the uninterrupted run's rows). Returns
    the snapshotted state, for checks of where it was taken.
    """
    full_rows = Rows()
    full = make(callbacks=[full_rows]).run()
    snap = SnapshotAt(at or len(full_rows.rows) // 2)
    make(callbacks=[snap]).run()
    assert snap.data is not None
    random.seed(999)  # whatever happened meanwhile to Python's generator must not matter
    state, taken = Search.restore(snap.data), Search.restore(snap.data)
    resumed_rows = Rows()
    resumed = make(callbacks=[resumed_rows], state=state).run()
    assert resumed.evaluations == full.evaluations and resumed.history_rows == full.history_rows
    assert all(np.array_equal(full.masks[k], resumed.masks[k]) for k in full.masks)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(full_rows.rows[-len(resumed_rows.rows):]) == strip(resumed_rows.rows)
    return taken
