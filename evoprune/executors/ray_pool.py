"""The Ray executor: `ray.util.multiprocessing.Pool`, local or on a running cluster."""
from __future__ import annotations

import logging

from .supervised import SupervisedPool


class RayExecutor(SupervisedPool):
    """Ray actors as workers. The problem (model bytes and images) travels in the initializer's
    arguments through Ray's object store, so cluster workers never need the driver's files."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, verbose: bool = False, **options):
        """`verbose`: let Ray's own start-up notices through (by default only its errors are shown)."""
        super().__init__(workers, **options)
        self.address, self.verbose = address, verbose
        self._owns_ray = False

    def _new_pool(self, problem, threads: int):
        import ray
        from ray.util.multiprocessing import Pool

        if not ray.is_initialized():
            self._owns_ray = True
            kwargs = {"address": self.address} if self.address else {"num_cpus": self.workers}
            if not self.verbose:
                # Ray's driver logs notices (token authentication, where the dashboard is…) on every start.
                logging.getLogger("ray").setLevel(logging.ERROR)
            ray.init(include_dashboard=False, log_to_driver=self.verbose, configure_logging=False, **kwargs)
        # No pinning: Ray places its workers itself.
        return Pool(self.workers, initializer=self.initializer, initargs=(problem, threads, None))

    def _lost_worker(self, error: Exception) -> bool:
        # Ray's pool hands back an error the task raised as the task raised it; these say the actor, its
        # process, its node or the object holding its result went away (killed, crashed, out of memory).
        from ray import exceptions as rx

        return isinstance(error, (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.LocalRayletDiedError,
                                  rx.ObjectLostError, rx.OutOfMemoryError))

    def close(self) -> None:
        super().close()
        if self._owns_ray:  # a Ray session the user opened is the user's to end
            import ray

            ray.shutdown()
            self._owns_ray = False
