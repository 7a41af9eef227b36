"""Executors: one contract every executor passes, worker deaths survived, Ray local and on a cluster."""
import os
import shutil
import socket
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from evoprune import Execution, Hooks, Images, Problem, make_config, prune
from evoprune.executors import make_executor
from evoprune.executors.supervised import split
from evoprune.network import models
from evoprune.problem.genome import MaskIndividual

# The serial executor's contract is the fast tier's; the rest starts processes or Ray: slow.
EXECUTORS = [("serial", None, {}), pytest.param("process", 2, {}, marks=pytest.mark.slow, id="process"),
             pytest.param("ray", 2, {}, marks=pytest.mark.slow, id="ray")]


def test_split_keeps_order_and_balance():
    chunks = split(list(range(7)), 3)
    assert chunks == [[0, 1, 2], [3, 4], [5, 6]]
    assert split([1], 4) == [[1]]


@pytest.fixture(scope="module")
def problem(tiny_model, small_mnist):
    layer = models.prunable_layers(tiny_model)[-2]
    return Problem(tiny_model, small_mnist[2], small_mnist[3], layer=layer.name)


@pytest.fixture(scope="module")
def requests(problem):
    """`toolbox.evaluate` of one layer's genome, and individuals to score (one malformed: its evaluation raises)."""
    size = problem.layout.size
    rng = np.random.default_rng(0)
    individuals = [MaskIndividual((rng.random(size) > s).astype(np.uint8).tobytes()) for s in (0.0, 0.3, 0.6, 0.9, 0.5)]
    individuals.insert(2, MaskIndividual(bytes(3)))
    return problem.toolbox(seed=0).evaluate, individuals


@pytest.fixture(scope="module")
def serial_results(problem, requests):
    task, individuals = requests
    with make_executor("serial") as ex:
        ex.start(problem)
        return ex.map(task, individuals)


@pytest.mark.parametrize("name,workers,options", EXECUTORS, ids=["serial", "process", "ray"])
def test_contract_same_results_order_and_errors_as_data(name, workers, options, problem, requests,
                                                        serial_results):
    task, individuals = requests
    with make_executor(name, workers, **options) as ex:
        ex.start(problem)
        results = ex.map(task, individuals)
        assert ex.map(task, []) == []
    assert len(results) == len(individuals)
    failed = results[2].result
    assert failed.error and "ValueError" in failed.error and np.isnan(failed.loss)
    assert results[2] == (0.0, results[2].score.cost)  # scored, and infeasible
    ok = [r for i, r in enumerate(results) if i != 2]
    assert all(r.result.error is None for r in ok)
    assert [(r.result.correct, r.result.loss, tuple(r)) for r in ok] == \
           [(r.result.correct, r.result.loss, tuple(r)) for i, r in enumerate(serial_results) if i != 2]
    assert ok[0].result.accuracy > ok[3].result.accuracy  # order kept: unpruned before 90 % pruned
    assert ok[0][0] == 1.0  # the unpruned layer meets the floor


def run_ga(tiny_model, small_mnist, out, executor, workers=None, **options):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, budget=60, seed=3, population=6, elite=1, tournament=3)
    return prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), "ga", config, folder=str(out),
                 execution=Execution(executor, workers, options), hooks=Hooks(progress=False))


@pytest.fixture(scope="module")
def serial_run(tiny_model, small_mnist, tmp_path_factory):
    return run_ga(tiny_model, small_mnist, tmp_path_factory.mktemp("serial"), "serial")


def same_masks(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_run_unchanged(tiny_model, small_mnist, serial_run, tmp_path,
                                                           monkeypatch):
    monkeypatch.setenv("EVOPRUNE_FAULT", "exit:3")
    monkeypatch.setenv("EVOPRUNE_FAULT_MARKER", str(tmp_path / "fault-happened"))
    result = run_ga(tiny_model, small_mnist, tmp_path / "run", "process", 2)
    assert (tmp_path / "fault-happened").exists()       # a worker really died holding a task
    import json
    events = json.load(open(tmp_path / "run" / "run.json"))["executor_events"]
    assert len(events) == 1 and "died" in events[0]["failure"]
    assert same_masks(result.masks, serial_run.masks)


@pytest.mark.slow
def test_a_task_that_keeps_failing_stops_the_run(problem, requests, caplog):
    from evoprune.executors.supervised import ExecutorError

    task, individuals = requests
    ex = make_executor("process", 1, task_timeout=60, max_retries=1)
    with pytest.raises(ExecutorError, match="failed 2 times"):
        with ex:
            ex.start(problem)
            ex.map(_ExitingTask(), individuals[:1])
    retries = [r.getMessage() for r in caplog.records if "resubmitting" in r.getMessage()]
    assert len(retries) == len(ex.events) == 1 and retries[0].endswith("(retry 1 of 1)")  # none beyond the cap


class _ExitingTask:
    """A task whose worker dies every time (as an out-of-memory kill would repeat)."""

    def __call__(self, item):
        os._exit(9)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["process", "ray"])
def test_a_task_that_raises_stops_the_run_at_once_naming_it(name, problem):
    from evoprune.executors.supervised import ExecutorError

    ex = make_executor(name, 1, task_timeout=60, max_retries=3)
    with pytest.raises(ExecutorError, match=r"^\w+ executor: task ga-seed0 raised TypeError: object of type "
                                            r"'types.SimpleNamespace' has no len\(\); stopping the run$"):
        with ex:
            ex.start(problem)
            ex.map(len, [SimpleNamespace(name="ga-seed0")], chunk_size=1)  # it would raise again: no retry
    assert ex.events == []  # no worker restarted, the task given once


@pytest.mark.slow
def test_same_masks_serial_two_workers_and_ray(tiny_model, small_mnist, serial_run, tmp_path):
    two = run_ga(tiny_model, small_mnist, tmp_path / "process", "process", 2)
    ray = run_ga(tiny_model, small_mnist, tmp_path / "ray", "ray", 2)
    assert same_masks(serial_run.masks, two.masks) and same_masks(serial_run.masks, ray.masks)
    assert serial_run.summary["final_accuracy"] == two.summary["final_accuracy"] == ray.summary["final_accuracy"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ray_cluster_started_on_loopback(tiny_model, small_mnist, serial_run, tmp_path):
    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run([ray_cli, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                    "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                   check=True, capture_output=True, env=env, timeout=180)
    try:
        result = run_ga(tiny_model, small_mnist, tmp_path / "cluster", "ray", 2, address=f"127.0.0.1:{port}")
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
    assert same_masks(serial_run.masks, result.masks)


@pytest.mark.slow
def test_sa_with_proposals_gives_the_same_masks_on_one_and_two_workers(tiny_model, small_mnist):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, budget=60, seed=2, proposals=4, moves="layer")
    runs = [prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), "sa", config,
                  execution=Execution("process", w), hooks=Hooks(progress=False)) for w in (1, 2)]
    assert same_masks(runs[0].masks, runs[1].masks)
    assert runs[0].summary["evaluations"] == runs[1].summary["evaluations"] == 60
    assert runs[0].summary["final_accuracy"] == runs[1].summary["final_accuracy"]
