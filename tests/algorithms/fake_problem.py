"""A synthetic, TensorFlow-free problem (loss grows as important weights are pruned) and test callbacks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evoprune.algorithms.base import Callback
from evoprune.masks import LayerSpec, split, unpack

SPECS = [LayerSpec("l0", 0, (6, 5)), LayerSpec("l1", 2, (40,)), LayerSpec("l2", 4, (8, 4))]
N_LAYERS = 6
TOTAL = sum(s.size for s in SPECS)


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


class FakeTask:
    """toolbox.evaluate for one layer: a deterministic loss of the full masks."""

    def __init__(self, context, base_loss: float = 0.05, sent: list | None = None):
        self.context, self.base_loss, self.sent = context, base_loss, sent
        rng = np.random.default_rng(123)
        self.importance = {s.name: rng.random(s.size) ** 3 for s in SPECS}

    def __call__(self, packed):
        if self.sent is not None:
            self.sent.append((self.context.key, packed.tobytes()))
        loss = self.base_loss
        for s in SPECS:
            bits = (unpack(packed, s.size) if s.name == self.context.layer
                    else unpack(self.context.fixed[s.name], s.size))
            imp = self.importance[s.name]
            loss += 3.0 * float(imp[~bits].sum() / imp.sum()) ** 2
        acc = max(0.0, 1.0 - loss / 2)
        return Result(loss, acc, int(acc * 1000))


class FakeWholeTask(FakeTask):
    """toolbox.evaluate for whole-model genomes: the fake problem's loss of each layer's slice."""

    def __call__(self, packed):
        assert self.context.layer is None and not self.context.fixed
        if self.sent is not None:
            self.sent.append(packed.tobytes())
        return self.result(unpack(packed, TOTAL))

    def result(self, genome: np.ndarray) -> Result:
        loss = self.base_loss
        for name, mask in split(genome, SPECS).items():
            imp = self.importance[name]
            loss += 3.0 * float(imp[~mask.reshape(-1)].sum() / imp.sum()) ** 2
        acc = max(0.0, 1.0 - loss / 2)
        return Result(loss, acc, int(acc * 1000))


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
    import random

    from evoprune.algorithms.base import LayerwiseSearch

    full_rows = Rows()
    full = make(callbacks=[full_rows]).run()
    snap = SnapshotAt(at or len(full_rows.rows) // 2)
    make(callbacks=[snap]).run()
    assert snap.data is not None
    random.seed(999)  # whatever happened meanwhile to Python's generator must not matter
    state = LayerwiseSearch.restore(snap.data)
    taken = LayerwiseSearch.restore(snap.data)
    resumed_rows = Rows()
    resumed = make(callbacks=[resumed_rows], state=state).run()
    assert resumed.evaluations == full.evaluations and resumed.history_rows == full.history_rows
    assert all(np.array_equal(full.masks[k], resumed.masks[k]) for k in full.masks)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert strip(full_rows.rows[-len(resumed_rows.rows):]) == strip(resumed_rows.rows)
    return taken

