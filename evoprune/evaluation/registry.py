"""The per-process evaluator registry and `init_worker`, which prepares any process (a user's pool worker too) to evaluate."""
from __future__ import annotations

import os
import sys
from typing import Callable

from ..errors import ConfigError, EvopruneError
from ..network.custom import import_modules

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


# Whether this process was forked from one that had loaded TensorFlow, whose thread pools do not survive
# a fork. Told by how the process started, not by what it imports: a spawned worker re-imports the user's
# main module, which may well import Keras before the initializer runs. The hook runs in every forked
# child, whose modules are the parent's at the moment of the fork; spawned processes (multiprocess's and
# multiprocessing's spawn, Ray's workers) start a fresh interpreter and never run it.
_forked_after_tensorflow = False


def _after_fork_in_child() -> None:
    global _forked_after_tensorflow
    _forked_after_tensorflow = "tensorflow" in sys.modules


# Registered on import, and `import evoprune` imports this module (for `evoprune.init_worker`): so the hook
# is in place in any parent before it forks a pool, whose initializer and problem are evoprune's.
if hasattr(os, "register_at_fork"):  # Windows never forks
    os.register_at_fork(after_in_child=_after_fork_in_child)


def init_worker(problem, threads: int | None = None) -> None:
    """Prepare this process to evaluate `problem`: pass it as a pool's initializer, with `initargs=(problem,)`.

    Works for any pool whose workers run it once: `multiprocess`/`multiprocessing` pools started
    with `spawn`, and Ray's `ray.util.multiprocessing.Pool`. `threads` is how many TensorFlow ops run
    side by side (for N workers on C cores, C // N each); each op runs on one thread
    (`_tf.one_thread_per_op`). A worker forked from a process that had loaded TensorFlow would hang
    on its first evaluation; instead its evaluations raise, saying to use spawn.
    """
    if _forked_after_tensorflow:
        _EVALUATORS[problem.token] = NoEvaluatorError(
            f"worker {os.getpid()} was forked after TensorFlow was loaded, which hangs: start the pool with "
            "multiprocess.get_context('spawn') (or multiprocessing's)")
        return
    from .._tf import import_tensorflow, set_threads

    tf = import_tensorflow()
    if threads is not None:
        set_threads(tf, threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        # Without this every worker would reserve all of every GPU's memory.
        tf.config.experimental.set_memory_growth(gpu, True)
    try:
        import_modules(problem.imports)  # they register the model's custom classes before it is rebuilt here
    except ConfigError as e:  # as data: a raising initializer would kill the worker, and its replacements
        _EVALUATORS[problem.token] = NoEvaluatorError(f"worker {os.getpid()}: {e}")
        return
    install(problem.token, problem.build_evaluator)
