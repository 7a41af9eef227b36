"""Runs as jobs: each run of an experiment is one task, run in this process or by a worker of a pool or Ray cluster."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..algorithms import config_record, importance_for, make_algorithm
from ..problem.data import PreparedData
from ..results import io
from ..results.checkpoint import CHECKPOINT
from ..search.config import SearchConfig
from .baselines import search_data
from .operators import Customize
from .spec import Variant

# What each worker of a pool holds for every run it is given (set by `prepare_worker`).
_PAYLOAD = None


@dataclass
class Payload:
    """What every run needs and no run changes: the model file's bytes, the data and the importance scores."""

    model_bytes: bytes
    data: PreparedData
    scores: dict = field(default_factory=dict)  # (importance kind, calibration) -> scores, computed once for all runs


@dataclass(frozen=True)
class Job:
    """One run: a variant at a seed, in its folder, with the record its run.json must hold to be this run."""

    name: str
    variant: Variant
    config: SearchConfig
    folder: str
    plan: dict   # what identifies the run: algorithm, settings, operators, model and data
    info: dict   # the rest of run.json's record (model path, preset, data description)


def plan(variant: Variant, config: SearchConfig, model: dict, data: dict) -> dict:
    """The record that identifies a run: a finished run is reused only when its run.json holds the same."""
    algo = make_algorithm(variant.algorithm, config)
    return {"variant": variant.name, "algorithm": variant.algorithm, "config": config_record(algo, config),
            "operators": {a: dict(o) for a, o in variant.operators.items()}, "model": model, "data": data}


def same_plan(recorded: dict | None, plan: dict) -> bool:
    """Whether a run.json's `recorded` plan is `plan`. A shared setting added to evoprune after the run was
    recorded is absent from its plan; at its default it counts as the same (a new setting's default keeps the
    old behaviour, bit for bit), so runs made before it are still reused."""
    if recorded is None:
        return False
    defaults, known = SearchConfig().shared(), recorded.get("config", {})
    config = {k: v for k, v in plan["config"].items() if k in known or k not in defaults or v != defaults[k]}
    return recorded == {**plan, "config": config}


def status(job: Job) -> str:
    """"reuse" (finished, the same run), "resume" (a checkpoint of the same run), or "start"."""
    run = os.path.join(job.folder, "run.json")
    if not os.path.exists(run) or not same_plan(io.read_json(run).get("plan"), job.plan):
        return "start"
    if os.path.exists(os.path.join(job.folder, "summary.json")):
        return "reuse"
    return "resume" if os.path.exists(os.path.join(job.folder, CHECKPOINT)) else "start"


def run(job: Job, payload: Payload | None = None) -> dict:
    """Make sure `job`'s folder holds its finished run: reuse it, resume it or start it; its summary.

    Idempotent, so a job lost with a worker can be given again: it continues from its checkpoint.
    """
    from ..api import prune
    from ..network import models

    payload = payload or _PAYLOAD
    state = status(job)
    if state != "reuse":
        data, algo = payload.data, make_algorithm(job.variant.algorithm, job.config)
        x, y = search_data(data, job.config.eval_set)
        customize = Customize(job.variant.operators) if job.variant.operators else None
        prune(models.from_bytes(payload.model_bytes), x, y, data.x_test, data.y_test, job.variant.algorithm,
              job.config, out=job.folder, force=state == "start", resume=state == "resume", progress=False,
              x_train=data.x_train, y_train=data.y_train,
              scores=payload.scores.get((importance_for(algo, job.config), job.config.calibration)),
              customize=customize, run_info={**job.info, "plan": job.plan})
    return io.read_json(os.path.join(job.folder, "summary.json"))


def prepare_worker(payload: Payload, threads: int, slots=None) -> None:
    """A pool worker's initializer: its cores and TensorFlow's threads, then the payload every run uses."""
    global _PAYLOAD
    from .._tf import import_tensorflow
    from ..executors.worker import prepare_process

    prepare_process(threads, slots)
    tf = import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    _PAYLOAD = payload
