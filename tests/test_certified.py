"""Certified runs: the certification images never reach an evaluator during a search, served serially or by a
pool; the answer and the search's own result are both kept."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from evoprune import Execution, Hooks, Images, make_config, prune
from evoprune.evaluation.engine import MaskEvaluator
from evoprune.executors import worker

TRACE_ENV = "EVOPRUNE_TEST_TRACE"


def _trace_evaluators(folder: str) -> None:
    """Make every MaskEvaluator built in this process save the images it is given (all it can ever score)."""
    original = MaskEvaluator.__init__

    def init(self, model, x, y, *args, **kwargs):
        np.save(os.path.join(folder, f"{os.getpid()}-{len(os.listdir(folder))}.npy"), np.asarray(x))
        original(self, model, x, y, *args, **kwargs)

    MaskEvaluator.__init__ = init


def tracing_initialize(problem, threads, slots=None) -> None:
    """A pool worker's initializer (imported by spawned workers by name) that traces its evaluators first."""
    _trace_evaluators(os.environ[TRACE_ENV])
    worker.initialize(problem, threads, slots)


def _images(folder) -> set[bytes]:
    return {row.tobytes() for path in glob.glob(str(folder / "*.npy")) for row in np.load(path)}


@pytest.fixture(scope="module")
def split(mnist_path):
    from evoprune.problem.data import Split, prepare

    d = prepare("mnist", mnist_path, Split(0, 0.2))
    return (d.x_val, d.y_val), (d.x_test[:2000], d.y_test[:2000]), (d.x_test[2000:3000], d.y_test[2000:3000])


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "process"])
def test_the_certification_images_never_reach_an_evaluator(executor, split, tiny_model, tmp_path, monkeypatch):
    (x, y), certification, (x_test, y_test) = split
    trace = tmp_path / "trace"
    trace.mkdir()
    monkeypatch.setenv(TRACE_ENV, str(trace))
    options = {}
    if executor == "serial":
        monkeypatch.setattr(MaskEvaluator, "__init__", MaskEvaluator.__init__)  # undone after the test
        _trace_evaluators(str(trace))
    else:
        options = {"initializer": tracing_initialize}
    result = prune(tiny_model, Images((x, y), (x_test, y_test), certification=certification), "sa",
                   make_config(budget=30, seed=0), folder=str(tmp_path / "run") if executor == "serial" else None,
                   execution=Execution(executor, None if executor == "serial" else 2, options),
                   hooks=Hooks(progress=False))
    seen = _images(trace)
    assert {row.tobytes() for row in x} <= seen  # the trace saw the search's images…
    assert not seen & {row.tobytes() for row in certification[0]}  # …and never a certification image
    c = result.summary["certified"]
    assert c["images"] == 2000 and len(c["candidates"]) == 20
    assert result.summary["sparsity_global"] <= result.summary["search"]["sparsity_global"]
    if executor == "serial":  # masks.npz holds the answer, search_masks.npz the search's own
        with np.load(tmp_path / "run" / "search_masks.npz") as z:
            assert all(np.array_equal(result.masks[k] | z[k], result.masks[k]) for k in z.files)  # the answer holds them
