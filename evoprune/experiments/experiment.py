"""An experiment folder: its spec, its runs (reused, resumed or started; one by one or spread over workers), its report.

OUT/spec.toml and OUT/experiment.json record what the folder holds; OUT/runs/<variant>-seed<k>/
are the runs, each a `prune` run folder. A folder made from another spec is refused unless
`force`; a run is reused only when its run.json records the very same run.
"""
from __future__ import annotations

import csv
import hashlib
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..algorithms import importance_for, make_algorithm
from ..errors import ConfigError
from ..network import models
from ..problem import importance
from ..results import io
from ..results.aggregate import MANIFEST, RUNS_DIR
from ..results.lock import FolderLock
from ..results.manifest import environment, now
from ..results.run_folder import check_out_path
from .baselines import model_and_data, read_baseline, run_info
from .jobs import Job, Payload, plan, prepare_worker, run as run_job, status
from .report import report
from .spec import Spec, to_toml

SPEC_FILE = "spec.toml"
REPORT_FILES = ("summary.md", "summary.csv", "anytime.png", "tradeoff.png", "layers.png", "results.png")


@dataclass
class Outcome:
    """What an experiment did: the runs it reused, resumed and started, and every run's summary."""

    reused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    summaries: dict = field(default_factory=dict)


def extends(held: dict, new: dict) -> bool:
    """Whether spec `new` (`Spec.to_dict`) is `held` with variants added: everything else, and every variant
    `held` has, the same."""
    rest = {k: v for k, v in new.items() if k != "variants"}
    return (rest == {k: v for k, v in held.items() if k != "variants"}
            and all(new["variants"].get(name) == v for name, v in held.get("variants", {}).items()))


def check_folder(out: str, spec: Spec, force: bool) -> None:
    """Refuse, before any work, a path that is a file, a folder that cannot be written, or one holding another
    spec's experiment or older runs (unless `force`). A spec that only adds variants to the one held extends
    its experiment: the runs already there are reused."""
    check_out_path(out)
    if force or not os.path.isdir(out):
        return
    record = os.path.join(out, MANIFEST)
    if os.path.exists(record):
        held = io.read_json(record).get("spec", {})
        if not extends(held, spec.to_dict()):
            changed = [k for k in spec.to_dict() if held.get(k) != spec.to_dict()[k]]
            raise ConfigError(f"{out} holds an experiment made from another spec (it differs in "
                              f"{', '.join(changed) or 'its form'}); pass --force to overwrite it or choose another "
                              "--out")
    elif os.path.isdir(os.path.join(out, RUNS_DIR)) and os.listdir(os.path.join(out, RUNS_DIR)):
        raise ConfigError(f"{out} holds runs of an earlier comparison without a spec; pass --force to overwrite "
                          "them or choose another --out")


def _clear(out: str) -> None:
    shutil.rmtree(os.path.join(out, RUNS_DIR), ignore_errors=True)
    for name in (SPEC_FILE, MANIFEST, "compare.json", *REPORT_FILES):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(spec: Spec, out: str, *, spec_text: str | None = None, workers: int | None = None,
        executor: str = "process", address: str | None = None, threads: int | None = None, force: bool = False,
        progress: bool = True, baselines: str | None = None, verbose: bool = False,
        say: Callable[[str], None] = print) -> Outcome:
    """Run every variant × seed of `spec` into OUT, then write the report.

    Without `workers` the runs go one after another in this process. With `workers` (or
    `executor="ray"`) they are spread over a pool, one run per worker, each worker with
    `threads` TensorFlow threads (default: its share of the cores, one for N workers on N
    cores); the runs are the same, bit for bit, as made one by one here. Finished runs of
    the same spec are reused and interrupted ones resumed.
    """
    check_folder(out, spec, force)
    os.makedirs(out, exist_ok=True)
    # one process at a time: two runs of the same folder would both resume its runs and interleave their files
    with FolderLock(out, "experiment"):
        training = spec.training()
        model_path, data = model_and_data(spec.model.get("path"), spec.data.get("dataset"), spec.data.get("path"),
                                          training, spec.val_fraction, baselines, progress, say)
        model = models.load_model(model_path)
        models.check_input_shape(model, data.x_test)
        specs = models.prunable_layers(model)
        spec.check(len(specs))
        if force:
            _clear(out)
        os.makedirs(os.path.join(out, RUNS_DIR), exist_ok=True)
        with open(os.path.join(out, SPEC_FILE), "w") as f:
            f.write(spec_text if spec_text is not None else to_toml(spec))

        model_record = {"path": os.path.abspath(model_path), "sha256": _sha256(model_path)}
        jobs = []
        for v in spec.variants:
            for seed in spec.seeds:
                config = spec.config(v, seed)
                name = f"{v.name}-seed{seed}"
                info = run_info(model_path, spec.preset, data, config.eval_set)
                jobs.append(Job(name, v, config, os.path.join(out, RUNS_DIR, name),
                                plan(v, config, model_record, info["data"]), info))
        outcome = Outcome()
        for job in jobs:
            getattr(outcome, {"reuse": "reused", "resume": "resumed", "start": "started"}[status(job)]).append(job.name)
        record_path = os.path.join(out, MANIFEST)
        record = io.read_json(record_path) if os.path.exists(record_path) else {
            "spec": spec.to_dict(), "digest": spec.digest(), "started": now(), "sessions": []}
        # An extended spec replaces the one held: its runs are the ones reported.
        record.update(spec=spec.to_dict(), digest=spec.digest(), model=model_record,
                      baseline=read_baseline(model_path), data=jobs[0].info["data"])
        record["sessions"].append({"started": now(), "reused": len(outcome.reused), "resumed": len(outcome.resumed),
                                   "started_runs": len(outcome.started), "workers": workers or 1,
                                   "executor": executor if workers or executor == "ray" else "this process",
                                   **environment()})
        io.write_json(record_path, record)
        say(f"{len(jobs)} runs ({len(spec.variants)} variants × {len(spec.seeds)} seeds): "
            f"{len(outcome.reused)} reused, {len(outcome.resumed)} resumed, {len(outcome.started)} started")

        todo = [j for j in jobs if j.name not in outcome.reused]
        if todo:
            kinds = {(importance_for(make_algorithm(j.variant.algorithm, j.config), j.config), j.config.calibration)
                     for j in todo}
            payload = Payload(models.to_bytes(model), data,
                              {(k, c): importance.compute(k, model, specs, data.x_train, data.y_train, c)
                               for k, c in kinds if k is not None})
            with _Watch(todo, progress, say):
                options = {**({"address": address} if address else {}), **({"verbose": True} if verbose else {})}
                _execute(todo, payload, workers, executor, threads, options)
        outcome.summaries = {j.name: io.read_json(os.path.join(j.folder, "summary.json")) for j in jobs}
        record["sessions"][-1]["finished"] = now()
        io.write_json(record_path, record)
        report(out)
        return outcome


def _execute(jobs: list[Job], payload: Payload, workers: int | None, executor: str, threads: int | None,
             options: dict) -> None:
    """Each job in this process, one after another, or one job per worker of a process pool or Ray."""
    if executor != "ray" and workers is None:
        for job in jobs:
            run_job(job, payload)
        return
    from ..executors import make_executor

    # Runs take minutes to hours: no deadline, only the workers' liveness is watched.
    ex = make_executor(executor, workers, task_timeout=float("inf"), initializer=prepare_worker, threads=threads,
                       **options)
    with ex:
        ex.start(payload)
        ex.map(run_job, jobs, chunk_size=1)


class _Watch:
    """Follows the runs from their files while they go (wherever they run): a progress bar over evaluations on a
    terminal, and one line per finished run."""

    def __init__(self, jobs: list[Job], progress: bool, say: Callable[[str], None]):
        self.jobs, self.say = jobs, say
        self.bar = None
        if progress and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=sum(j.config.budget for j in jobs), unit="eval", dynamic_ncols=True)
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._poll()
        if self.bar is not None:
            self.bar.close()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._poll()

    def _poll(self) -> None:
        spent = 0
        for job in self.jobs:
            summary = os.path.join(job.folder, "summary.json")
            if job.name not in self.done and os.path.exists(summary):
                s = io.read_json(summary)
                self.done.add(job.name)
                line = (f"{job.name}: test accuracy {s['final_accuracy']:.4f}, global sparsity "
                        f"{s['sparsity_global']:.4f}, {s['evaluations']} evaluations in {s['seconds']:.1f} s")
                self.bar.write(line) if self.bar is not None else self.say(line)
            spent += job.config.budget if job.name in self.done else _evaluations(job.folder)
        if self.bar is not None:
            self.bar.update(spent - self.bar.n)


def _evaluations(folder: str) -> int:
    """The evaluations a run in progress has made: its history's last row (0 before it has one)."""
    try:
        with open(os.path.join(folder, "history.csv"), "rb") as f:
            lines = f.read().splitlines()
        if len(lines) < 2:
            return 0
        header = next(csv.reader([lines[0].decode()]))
        last = next(csv.reader([lines[-1].decode()]))
        return int(last[header.index("evaluations")])
    except (OSError, ValueError, IndexError, StopIteration):
        return 0

