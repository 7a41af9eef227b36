"""Snapshots taken after any batch of evaluations, mid-generation and mid-setup included, resume exactly."""
import random

import numpy as np
import pytest

from evoprune.search import Search

from .fake_problem import Callback, Rows, make_search, true_scores

CASES = {
    "sa": dict(name="sa"),
    "ga": dict(name="ga"),
    "hc": dict(name="hc", neighbours=3),
    "sa-refined-start": dict(name="sa", start_sparsity=0.9, delta=0.05, start_refine=3),  # steps down, bisects
    "nsga2": dict(name="nsga2"),
    "ga-layers": dict(name="ga", scope="layers"),
    "study-sa": dict(name="sa", preset="study", eval_set="validation"),
    "magnitude": dict(name="magnitude", sparsity=0.4),
    "random-search": dict(name="random-search", sparsity_range=(0.1, 0.7)),
    "one-plus-one": dict(name="one-plus-one", mean_flips=2.0),
}


class SnapshotAtBatch(Callback):
    """Snapshots the search after its `at`-th batch of evaluations (wherever in a step that falls)."""

    def __init__(self, at):
        self.at, self.batches, self.data, self.evaluations = at, 0, None, None

    def on_evaluations(self, search):
        self.batches += 1
        if self.batches == self.at:
            self.data, self.evaluations = search.snapshot(), search.state.evaluations


class CountBatches(Callback):
    def __init__(self):
        self.batches = 0

    def on_evaluations(self, search):
        self.batches += 1


def make(case, **kw):
    settings = dict(CASES[case])
    return make_search(settings.pop("name"), budget=90, scores=true_scores(), **settings, **kw)


@pytest.mark.parametrize("case", list(CASES))
def test_a_snapshot_after_any_batch_resumes_exactly(case):
    rows, count = Rows(), CountBatches()
    full = make(case, callbacks=[rows, count]).run()
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]
    rng = np.random.default_rng(len(case))
    points = sorted(set(rng.integers(1, count.batches + 1, size=6).tolist()) | {1, count.batches})
    for at in points:
        snap = SnapshotAtBatch(at)
        make(case, callbacks=[snap]).run()
        state = Search.restore(snap.data)
        assert state.evaluations + len(state.replay) == snap.evaluations  # the interrupted phase's, set aside
        written = state.history_rows  # the rows the snapshot knew of (the run goes on from there)
        random.seed(12345)  # whatever happened meanwhile to Python's generator must not matter
        resumed_rows = Rows()
        resumed = make(case, callbacks=[resumed_rows], state=state).run()
        assert resumed.evaluations == full.evaluations and not resumed.replay, at
        assert all(np.array_equal(full.masks[k], resumed.masks[k]) for k in full.masks), at
        assert strip(rows.rows[written:]) == strip(resumed_rows.rows), at
        assert resumed.layers == full.layers
