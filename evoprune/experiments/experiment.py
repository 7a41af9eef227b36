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
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from ..algorithms import importance_for, make_algorithm
from ..errors import ConfigError, ModelError
from ..network import models
from ..network.custom import modules_for
from ..problem import importance
from ..pruned.certify import check_images
from ..pruned.report import say_skipped
from ..results import io
from ..results.aggregate import BENCHMARK_MANIFEST, MANIFEST, RUNS_DIR
from ..results.lock import FolderLock
from ..results.manifest import environment, now
from ..results.run_folder import RUN_FILES, check_out, check_out_path
from ..search.config import BEFORE
from .baselines import certification_split, experiment_data, model_file, read_baseline, run_info
from .jobs import Job, Payload, not_reused, plan, prepare_worker, run as run_job, status
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
    held, new = _comparable(held), _comparable(new)
    rest = {k: v for k, v in new.items() if k not in ("variants", "certify")}
    return (rest == {k: v for k, v in held.items() if k not in ("variants", "certify")}
            and all(new["variants"].get(name) == v and new["certify"].get(name) == held["certify"][name]
                    for name, v in held.get("variants", {}).items()))


def _comparable(spec: dict) -> dict:
    """A spec record as two are compared: whether its variants certify, however it says so (a record made before
    certification: none does), and its settings without that."""
    def plain(settings: dict) -> dict:
        return {k: v for k, v in settings.items() if k != "certify"}

    variants = spec.get("variants", {})
    return {**spec, "settings": plain(spec.get("settings", {})),
            "variants": {n: {**v, "settings": plain(v.get("settings", {}))} for n, v in variants.items()},
            "certify": spec.get("certify", {n: BEFORE["certify"] for n in variants})}


def check_folder(out: str, spec: Spec, force: bool) -> None:
    """Refuse, before any work, a path that is a file, a folder that cannot be written, or one holding a run of
    `evoprune prune`, another spec's experiment or older runs (unless `force`). A spec that only adds variants to
    the one held extends its experiment: the runs already there are reused."""
    check_out_path(out)
    if force or not os.path.isdir(out):
        return
    check_out(out)
    if os.path.exists(os.path.join(out, BENCHMARK_MANIFEST)):
        raise ConfigError(f"{out} holds a benchmark of several problems; choose another --out for an experiment")
    record = os.path.join(out, MANIFEST)
    if os.path.exists(record):
        held = io.read_json(record).get("spec", {})
        if not extends(held, spec.to_dict()):
            changed = [k for k, v in _comparable(spec.to_dict()).items() if _comparable(held).get(k) != v]
            raise ConfigError(f"{out} holds an experiment made from another spec (it differs in "
                              f"{', '.join(changed) or 'its form'}); pass --force to overwrite it or choose another "
                              "--out")
    elif os.path.isdir(os.path.join(out, RUNS_DIR)) and os.listdir(os.path.join(out, RUNS_DIR)):
        raise ConfigError(f"{out} holds runs of an earlier comparison without a spec; pass --force to overwrite "
                          "them or choose another --out")


def _clear(out: str) -> None:
    shutil.rmtree(os.path.join(out, RUNS_DIR), ignore_errors=True)
    for name in (SPEC_FILE, MANIFEST, "compare.json", *REPORT_FILES, *RUN_FILES):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _model_files(model: dict, folders: list[str]) -> frozenset[str]:
    """The sha256s of the .keras files holding `model` ({path, sha256, digest}), as runs recorded before runs were
    identified by content name it: the model's own file, and each file such a run in `folders` names that is still
    there, unchanged, with the same digest (a baseline trained again, its file differing only by its date)."""
    named = set()
    for folder in folders:
        record = os.path.join(folder, "run.json")
        recorded = (io.read_json(record).get("plan") or {}).get("model", {}) if os.path.exists(record) else {}
        if "path" in recorded and recorded.get("sha256") != model["sha256"]:
            named.add((recorded["path"], recorded["sha256"]))
    files = {model["sha256"]}
    for path, sha256 in named:
        try:
            same = (os.path.isfile(path) and _sha256(path) == sha256
                    and models.content_digest(models.load_model(path)) == model["digest"])
        except (ModelError, OSError):  # unreadable, or not a model: the runs stand for another model
            same = False
        if same:
            files.add(sha256)
    return frozenset(files)


def run(spec: Spec, out: str, *, spec_text: str | None = None, parallel: int = 1, executor: str = "process",
        options: Mapping = {}, force: bool = False, progress: bool = True, baselines: str | None = None,
        say: Callable[[str], None] = print) -> Outcome:
    """Run every variant × seed of `spec` into OUT, then write the report.

    With `parallel` = 1 (and a local executor) the runs go one after another in this process. Otherwise they are
    spread over a pool of `parallel` workers (at most one per run to make; or a Ray cluster), one run per worker,
    each with its share of the cores (one TensorFlow thread for N workers on N cores); the runs are the same, bit
    for bit, as made one by one here; `options` go to the executor (Ray's `address`, `verbose`). Finished runs of the
    same spec are reused and interrupted ones resumed.
    """
    check_folder(out, spec, force)
    training = spec.training()
    # read before OUT is made: data that cannot be read is refused with nothing left behind
    data = experiment_data(spec.model.get("path"), spec.data.get("dataset"), spec.data.get("path"), training,
                           spec.val_fraction)
    for v in spec.variants:  # certification images too few to certify anything: said before any training
        config = spec.config(v, spec.seeds[0])
        _, certification, _ = certification_split(data, config)
        if certification is not None:
            check_images(len(certification[1]), config.delta, config.confidence)
    os.makedirs(out, exist_ok=True)
    # one process at a time: two runs of the same folder would both resume its runs and interleave their files
    with FolderLock(out, "experiment"):
        model_path = model_file(spec.model.get("path"), data, training, baselines, progress, say)
        model = models.load_model(model_path, spec.imports)
        models.check_input_shape(model, data.x_test)
        specs = models.prunable_layers(model)
        spec.check(len(specs))
        say_skipped(model, say)  # once for all the runs, which say nothing
        if force:
            _clear(out)
        os.makedirs(os.path.join(out, RUNS_DIR), exist_ok=True)
        with open(os.path.join(out, SPEC_FILE), "w") as f:
            f.write(spec_text if spec_text is not None else to_toml(spec))

        # A run is identified by the model's content: the same weights trained again, or moved, are the same model.
        digest = models.content_digest(model)
        model_record = {"path": os.path.abspath(model_path), "sha256": _sha256(model_path), "digest": digest}
        jobs = []
        for v in spec.variants:
            for seed in spec.seeds:
                config = spec.config(v, seed)
                name = f"{v.name}-seed{seed}"
                used, _, certification = certification_split(data, config)
                info = run_info(model_path, spec.preset, used, config.eval_set, certification)
                jobs.append(Job(name, v, config, os.path.join(out, RUNS_DIR, name),
                                plan(v, config, {"digest": digest}, info["data"]), info))
        files = _model_files(model_record, [j.folder for j in jobs])
        jobs = [replace(j, model_files=files) for j in jobs]
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
                                   "started_runs": len(outcome.started), "parallel": parallel,
                                   "executor": executor if parallel > 1 or executor == "ray" else "this process",
                                   **environment()})
        io.write_json(record_path, record)
        say(f"{len(jobs)} runs ({len(spec.variants)} variants × {len(spec.seeds)} seeds): "
            f"{len(outcome.reused)} reused, {len(outcome.resumed)} resumed, {len(outcome.started)} started")
        why = not_reused(jobs)
        if why is not None:
            say(why)

        todo = [j for j in jobs if j.name not in outcome.reused]
        if todo:
            kinds = {importance_for(make_algorithm(j.variant.algorithm, j.config), j.config) for j in todo}
            payload = Payload(models.to_bytes(model), data,
                              {k: importance.compute(k, model, specs, data.x_train, data.y_train)
                               for k in kinds if k is not None}, modules_for(model, spec.imports))
            with _Watch(todo, progress, say):
                _execute(todo, payload, min(parallel, len(todo)), executor, options)
        outcome.summaries = {j.name: io.read_json(os.path.join(j.folder, "summary.json")) for j in jobs}
        record["sessions"][-1]["finished"] = now()
        io.write_json(record_path, record)
        report(out)
        return outcome


def _execute(jobs: list[Job], payload: Payload, workers: int, executor: str, options: dict) -> None:
    """Each job in this process, one after another, or one job per worker of a process pool or Ray."""
    if executor != "ray" and workers == 1:
        for job in jobs:
            run_job(job, payload)
        return
    from ..executors import make_executor

    # Runs take minutes to hours: no deadline, only the workers' liveness is watched.
    ex = make_executor(executor, workers, task_timeout=float("inf"), initializer=prepare_worker, **options)
    with ex:
        ex.start(payload)
        ex.map(run_job, jobs, chunk_size=1)


class _Watch:
    """Follows the runs from their files while they go (wherever they run): a progress bar over evaluations on a
    terminal, and one line per finished run."""

    def __init__(self, jobs: list[Job], progress: bool, say: Callable[[str], None]):
        self.jobs, self.say = jobs, say
        self.total, self.started = sum(j.config.budget for j in jobs), time.monotonic()
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
        finished = []
        for job in self.jobs:
            summary = os.path.join(job.folder, "summary.json")
            if job.name not in self.done and os.path.exists(summary):
                self.done.add(job.name)
                finished.append((job.name, io.read_json(summary)))
        spent = sum(j.config.budget if j.name in self.done else _evaluations(j.folder) for j in self.jobs)
        done = len(self.done) - len(finished)
        for name, s in finished:
            done += 1
            line = (f"{name}: test accuracy {s['final_accuracy']:.4f}, global sparsity {s['sparsity_global']:.4f}, "
                    f"{s['evaluations']} evaluations in {s['seconds']:.1f} s; {done} of {len(self.jobs)} "
                    f"runs done{remaining(time.monotonic() - self.started, spent, self.total)}")
            self.bar.write(line) if self.bar is not None else self.say(line)
        if self.bar is not None:
            self.bar.update(spent - self.bar.n)


def remaining(elapsed: float, spent: int, total: int) -> str:
    """", about 12 min left": the time the evaluations still to make take at the pace so far ("" when done)."""
    if spent >= total or spent <= 0:
        return ""
    left = elapsed * (total - spent) / spent
    return f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"


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

