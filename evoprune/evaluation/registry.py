"""The per-process evaluator registry and `init_worker`, which prepares any process (a user's pool worker too) to evaluate."""
from __future__ import annotations

import os
import sys
from typing import Callable

from ..errors import EvopruneError

# Evaluators live in the process that runs them (the main one for serial evaluation, each worker
# of a pool), keyed by their problem's token. They hold compiled TensorFlow functions and caches,
# so they are built there once and never pickled.
_EVALUATORS: dict[str, object] = {}


class NoEvaluatorError(EvopruneError):
    """This process cannot evaluate the problem: it was never prepared, or it cannot run TensorFlow."""


def install(token: str, build: Callable[[], object]) -> object:
    """The evaluator registered under `token` in this process, built with `build()` on first use."""
    if token not in _EVALUATORS:
        _EVALUATORS[token] = build()
    return _EVALUATORS[token]


def evaluator(token: str):
    """This process's evaluator for the problem `token`; NoEvaluatorError with the remedy if there is none."""
    found = _EVALUATORS.get(token)
    if isinstance(found, NoEvaluatorError):
        raise found
    if found is None:
        raise NoEvaluatorError(
            f"process {os.getpid()} has no evaluator for this problem: start the pool's workers with "
            "initializer=evoprune.init_worker, initargs=(problem,)")
    return found


def uninstall(token: str) -> None:
    _EVALUATORS.pop(token, None)


def _in_forked_child_of_tensorflow() -> bool:
    # A spawned worker has not imported TensorFlow when its initializer runs (unpickling a problem
    # does not import it); a forked one inherits the parent's, whose thread pools do not survive a fork.
    import multiprocessing

    children = [multiprocessing.parent_process()]
    if "multiprocess" in sys.modules:
        children.append(sys.modules["multiprocess"].parent_process())
    return "tensorflow" in sys.modules and any(p is not None for p in children)


def init_worker(problem, threads: int | None = None) -> None:
    """Prepare this process to evaluate `problem`: pass it as a pool's initializer, with `initargs=(problem,)`.

    Works for any pool whose workers run it once: `multiprocess`/`multiprocessing` pools started
    with `spawn`, and Ray's `ray.util.multiprocessing.Pool`. `threads` caps TensorFlow's thread
    pools (for N workers on C cores, C // N each). A worker forked from a process that had loaded
    TensorFlow would hang on its first evaluation; instead its evaluations raise, saying to use spawn.
    """
    if _in_forked_child_of_tensorflow():
        _EVALUATORS[problem.token] = NoEvaluatorError(
            f"worker {os.getpid()} was forked after TensorFlow was loaded, which hangs: start the pool with "
            "multiprocess.get_context('spawn') (or multiprocessing's)")
        return
    from .._tf import import_tensorflow

    tf = import_tensorflow()
    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        # Without this every worker would reserve all of every GPU's memory.
        tf.config.experimental.set_memory_growth(gpu, True)
    install(problem.token, problem.build_evaluator)
