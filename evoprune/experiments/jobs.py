"""Runs as jobs: each run of an experiment is one task, run in this process or by a worker of a pool or Ray cluster."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Collection

from ..algorithms import config_record, importance_for, make_algorithm
from ..problem.data import PreparedData
from ..results import io
from ..results.checkpoint import CHECKPOINT
from ..search.config import BEFORE, SearchConfig, without_removed
from .baselines import certification_split, search_data
from .operators import Customize
from .spec import Variant

# What each worker of a pool holds for every run it is given (set by `prepare_worker`).
_PAYLOAD = None


@dataclass
class Payload:
    """What every run needs and no run changes: the model file's bytes, the data, the importance scores and the
    modules to import before the model is rebuilt (those registering its custom Keras classes)."""

    model_bytes: bytes
    data: PreparedData
    scores: dict = field(default_factory=dict)  # importance kind -> scores, computed once for all runs
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One run: a variant at a seed, in its folder, with the record its run.json must hold to be this run."""

    name: str
    variant: Variant
    config: SearchConfig
    folder: str
    plan: dict   # what identifies the run: algorithm, settings, operators, model (its content digest) and data
    info: dict   # the rest of run.json's record (model path, preset, data description)
    # The sha256s of the .keras files that hold this model: how runs recorded before model digests name it.
    model_files: frozenset[str] = frozenset()


def plan(variant: Variant, config: SearchConfig, model: dict, data: dict) -> dict:
    """The record that identifies a run: a finished run is reused only when its run.json holds the same."""
    algo = make_algorithm(variant.algorithm, config)
    return {"variant": variant.name, "algorithm": variant.algorithm, "config": config_record(algo, config),
            "operators": {a: dict(o) for a, o in variant.operators.items()}, "model": model, "data": data}


def differences(recorded: dict | None, plan: dict, model_files: Collection[str] = ()) -> list[str]:
    """What a run.json's `recorded` plan holds that `plan` does not, a few words each: none, the same run.

    A setting added to evoprune after the run was recorded (shared, or the algorithm's own) is
    absent from its plan; at its default it counts as the same (a new setting's default keeps the
    old behaviour, bit for bit), so runs made before it are still reused. So is a model recorded by
    an older evoprune as its file's path and sha256, when that sha256 is one of `model_files`,
    wherever the file lies.
    """
    if recorded is None:
        return ["no plan"]
    # What a run recorded before a setting existed did: its default then (the setting's default now, but for
    # certification, which runs made before it never had).
    defaults = {**config_record(make_algorithm(plan["algorithm"], SearchConfig()), SearchConfig()), **BEFORE}
    known = without_removed(recorded.get("config", {}), strict=False)
    recorded = {**recorded, "config": known}
    plan = {**plan, "config": {k: v for k, v in plan["config"].items()
                               if k in known or k not in defaults or v != defaults[k]}}
    if (recorded.get("model") or {}).get("sha256") in model_files:
        recorded = {**recorded, "model": plan["model"]}
    keys = [*plan, *(k for k in recorded if k not in plan)]
    return [_difference(k, recorded.get(k), plan.get(k)) for k in keys if recorded.get(k) != plan.get(k)]


def _difference(key: str, old, new) -> str:
    """One part of two plans that differ, in a few words: 'another setting: delta 0.005 → 0.01'."""
    if key == "model":  # digests and checksums say nothing to a reader
        return "another model"
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return f"another {key}: {old} → {new}"
    changed = [f"{k} {old.get(k, 'unset')} → {new.get(k, 'unset')}"
               for k in [*new, *(k for k in old if k not in new)] if old.get(k) != new.get(k)]
    what = {"config": "another setting" if len(changed) == 1 else "other settings"}.get(key, f"other {key}")
    return f"{what}: {', '.join(changed)}"


def same_plan(recorded: dict | None, plan: dict, model_files: Collection[str] = ()) -> bool:
    """Whether a run.json's `recorded` plan is `plan` (see `differences`)."""
    return not differences(recorded, plan, model_files)


def mismatch(job: Job) -> str | None:
    """What the run.json in `job`'s folder records that is not `job`'s run (None: no run.json, or the same run)."""
    run = os.path.join(job.folder, "run.json")
    if not os.path.exists(run):
        return None
    return "; ".join(differences(io.read_json(run).get("plan"), job.plan, job.model_files)) or None


def not_reused(jobs: list[Job]) -> str | None:
    """One line on the runs whose folders hold another run, which is started over: how many, and what differs."""
    why = Counter(m for m in map(mismatch, jobs) if m is not None)
    return "; ".join(f"{n} run{'s' * (n > 1)} not reused: {'their' if n > 1 else 'its'} run.json records {what}"
                     for what, n in why.items()) or None


def status(job: Job) -> str:
    """"reuse" (finished, the same run), "resume" (a checkpoint of the same run), or "start"."""
    if not os.path.exists(os.path.join(job.folder, "run.json")) or mismatch(job) is not None:
        return "start"
    if os.path.exists(os.path.join(job.folder, "summary.json")):
        return "reuse"
    return "resume" if os.path.exists(os.path.join(job.folder, CHECKPOINT)) else "start"


def run(job: Job, payload: Payload | None = None) -> dict:
    """Make sure `job`'s folder holds its finished run: reuse it, resume it or start it; its summary.

    Idempotent, so a job lost with a worker can be given again: it continues from its checkpoint.
    """
    from ..api import Execution, Folder, Hooks, Images, prune
    from ..network import models
    from ..network.custom import import_modules

    payload = payload or _PAYLOAD
    state = status(job)
    if state != "reuse":
        data, algo = payload.data, make_algorithm(job.variant.algorithm, job.config)
        data, certification, _ = certification_split(data, job.config)
        x, y = search_data(data, job.config.eval_set)
        customize = Customize(job.variant.operators) if job.variant.operators else None
        # Here rather than in `prepare_worker`: one that fails is the task's error, which the pool reports.
        import_modules(payload.imports)
        images = Images((x, y), (data.x_test, data.y_test), (data.x_train, data.y_train), certification)
        prune(models.from_bytes(payload.model_bytes), images, job.variant.algorithm, job.config,
              folder=Folder(job.folder, force=state == "start", resume=state == "resume",
                            record={**job.info, "plan": job.plan}),
              execution=Execution(imports=payload.imports),
              # the experiment names skipped layers once, for all its runs
              hooks=Hooks(customize=customize, progress=False, say=lambda line: None),
              scores=payload.scores.get(importance_for(algo, job.config)))
    return io.read_json(os.path.join(job.folder, "summary.json"))


def prepare_worker(payload: Payload, threads: int, slots=None) -> None:
    """A pool worker's initializer: its cores and TensorFlow's threads, then the payload every run uses."""
    global _PAYLOAD
    from .._tf import import_tensorflow, set_threads
    from ..executors.worker import prepare_process

    prepare_process(threads, slots)
    set_threads(import_tensorflow(), threads)
    _PAYLOAD = payload
