"""The process executor: a `multiprocess` pool of spawned workers, each holding the model."""
from __future__ import annotations

from .supervised import SupervisedPool


class ProcessExecutor(SupervisedPool):
    """Workers started with `spawn` (TensorFlow is not fork-safe; Linux defaults to fork)."""

    name = "process"

    def _new_pool(self, problem, threads: int):
        import multiprocess

        ctx = multiprocess.get_context("spawn")
        # Each worker takes the next slot: which cores it is pinned to.
        slots = ctx.Value("i", 0)
        pool = ctx.Pool(self.workers, initializer=self.initializer, initargs=(problem, threads, slots))
        self._pids = self._worker_pids(pool)
        return pool

    @staticmethod
    def _worker_pids(pool) -> set:
        # multiprocess (like multiprocessing) silently replaces a dead worker and drops its task;
        # a changed set of worker pids is how a lost task shows.
        return {p.pid for p in pool._pool}

    def _alive(self) -> bool:
        return all(p.exitcode is None for p in self._pool._pool) and self._worker_pids(self._pool) == self._pids
