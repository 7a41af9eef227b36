"""Fault injection: SIGKILL at seeded random points, dead workers, broken and unwritable checkpoints, whole experiments.

Every kill comes from `EVOPRUNE_FAULT=kill-after:K` (the process kills itself with SIGKILL right after
its K-th evaluation, mid-step when it falls there); the resumed runs must equal uninterrupted ones:
masks, history rows (times aside) and summary figures.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from evoprune.pruned.report import MACHINE_KEYS

pytestmark = pytest.mark.slow
VOLATILE = MACHINE_KEYS
BUDGET = 120


@pytest.fixture(scope="module")
def model_file(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    tiny_model.save(path)
    return str(path)


def prune(model_file, mnist_path, algorithm, out, *extra, fault=None, resume=False):
    algorithm, _, scope = algorithm.partition("-")  # "ga-layers": GA one layer at a time
    population = ["--set", "population=8"] if algorithm in ("ga", "nsga2") else []
    population += ["--scope", scope] if scope else []
    args = ["--resume", str(out)] if resume else ["--model", model_file, "--algorithm", algorithm, "--data",
                                                 mnist_path, "--out", str(out), "--budget", str(BUDGET), "--seed",
                                                 "1", "--set", "eval_set=validation", *population, *extra]
    env = {**os.environ, "EVOPRUNE_FAULT": fault} if fault else {k: v for k, v in os.environ.items()
                                                                 if k != "EVOPRUNE_FAULT"}
    return subprocess.run([sys.executable, "-m", "evoprune", "prune", "--no-progress", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def results(out):
    summary = {k: v for k, v in json.loads((out / "summary.json").read_text()).items() if k not in VOLATILE}
    with np.load(out / "masks.npz") as z:
        masks = {k: z[k].tobytes() for k in z.files}
    rows = [",".join(r.split(",")[:11]) for r in (out / "history.csv").read_text().splitlines()]
    return summary, masks, rows


@pytest.fixture(scope="module")
def uninterrupted(model_file, mnist_path, tmp_path_factory):
    found = {}
    for algorithm in ("sa", "ga", "nsga2", "ga-layers"):
        out = tmp_path_factory.mktemp("full") / algorithm
        done = prune(model_file, mnist_path, algorithm, out, "--checkpoint-every", "10")
        assert done.returncode == 0, done.stderr
        found[algorithm] = results(out)
    return found


def kill_points(seed: int, n: int = 5) -> list[int]:
    """n evaluation counts at which a process kills itself, each counted from the process's own start (the
    evaluations a resumed process replays count too): below BUDGET / (n + 1), so no process reaches the end."""
    rng = np.random.default_rng(seed)
    return [int(k) for k in rng.choice(np.arange(2, BUDGET // (n + 1)), size=n, replace=False)]


@pytest.mark.parametrize("algorithm", ["sa", "ga", "nsga2", "ga-layers"])
def test_killed_at_five_seeded_points_then_resumed_equals_the_uninterrupted_run(algorithm, model_file, mnist_path,
                                                                                 uninterrupted, tmp_path):
    out = tmp_path / "run"
    points = kill_points({"sa": 1, "ga": 2, "nsga2": 3, "ga-layers": 5}[algorithm])
    for i, k in enumerate(points):
        p = prune(model_file, mnist_path, algorithm, out, "--checkpoint-every", "5", fault=f"kill-after:{k}",
                  resume=i > 0)
        assert p.returncode == -signal.SIGKILL, (k, p.returncode, p.stderr)
        assert not (out / "summary.json").exists()
    done = prune(model_file, mnist_path, algorithm, out, resume=True)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted[algorithm]
    resumes = json.loads((out / "run.json").read_text())["resumes"]
    assert len(resumes) == 5 and any(r["evaluations"] > 0 for r in resumes)  # resumes loaded checkpoints


def test_killed_before_the_first_checkpoint_resumes_from_the_beginning_and_says_so(model_file, mnist_path,
                                                                                   uninterrupted, tmp_path):
    out = tmp_path / "run"
    p = prune(model_file, mnist_path, "ga", out, "--checkpoint-every", "10", fault="kill-after:3")
    assert p.returncode == -signal.SIGKILL and not (out / "checkpoint.pkl").exists()
    done = prune(model_file, mnist_path, "ga", out, resume=True)
    assert done.returncode == 0, done.stderr
    assert "from the beginning" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert results(out) == uninterrupted["ga"]


def test_a_corrupt_checkpoint_is_named_and_the_previous_one_used(model_file, mnist_path, uninterrupted, tmp_path):
    out = tmp_path / "run"
    p = prune(model_file, mnist_path, "sa", out, "--checkpoint-every", "10", fault="kill-after:55")
    assert p.returncode == -signal.SIGKILL
    data = (out / "checkpoint.pkl").read_bytes()
    (out / "checkpoint.pkl").write_bytes(data[: len(data) // 2])  # truncated, as by a crash of the disk
    done = prune(model_file, mnist_path, "sa", out, resume=True)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "checkpoint.pkl" in lines[0] and "previous" in lines[0], done.stderr
    assert "resumed at evaluation" in lines[1], done.stderr
    assert results(out) == uninterrupted["sa"]
    assert json.loads((out / "run.json").read_text())["resumes"][0]["evaluations"] < 55


def test_killed_after_its_search_and_before_certification_resumes_to_the_same_answer(model_file, mnist_path,
                                                                                      uninterrupted, tmp_path):
    out = tmp_path / "run"
    p = prune(model_file, mnist_path, "sa", out, "--checkpoint-every", "10", fault="kill-before-certify:1")
    assert p.returncode == -signal.SIGKILL and not (out / "summary.json").exists()
    done = prune(model_file, mnist_path, "sa", out, resume=True)
    assert done.returncode == 0, done.stderr
    assert results(out) == uninterrupted["sa"]  # the certified answer, its figures and the search's own
    assert "certified" in json.loads((out / "summary.json").read_text())


def test_a_failed_checkpoint_write_keeps_the_old_one_and_says_so(model_file, mnist_path, uninterrupted, tmp_path):
    out = tmp_path / "run"
    p = prune(model_file, mnist_path, "ga", out, "--checkpoint-every", "10", fault="disk-full-from:3,kill-after:70")
    assert p.returncode == -signal.SIGKILL
    assert "could not write" in p.stderr and "kept" in p.stderr
    done = prune(model_file, mnist_path, "ga", out, resume=True)
    assert done.returncode == 0, done.stderr
    resumed_at = json.loads((out / "run.json").read_text())["resumes"][0]["evaluations"]
    assert 10 <= resumed_at < 30  # the second checkpoint, the last one written
    assert results(out) == uninterrupted["ga"]


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_a_worker_killed_mid_generation_changes_nothing(executor, model_file, mnist_path, uninterrupted, tmp_path):
    out = tmp_path / "run"
    marker = tmp_path / "worker-died"
    env = {**os.environ, "EVOPRUNE_FAULT": "exit:4", "EVOPRUNE_FAULT_MARKER": str(marker)}
    args = [sys.executable, "-m", "evoprune", "prune", "--no-progress", "--model", model_file, "--algorithm", "ga",
            "--data", mnist_path, "--out", str(out), "--budget", str(BUDGET), "--seed", "1", "--set",
            "eval_set=validation", "--set", "population=8", "--executor", executor, "--workers", "2"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # a worker really died holding a task
    events = json.loads((out / "run.json").read_text())["executor_events"]
    assert len(events) == 1
    assert results(out) == uninterrupted["ga"]


def test_an_experiment_killed_at_five_seeded_points_finishes_as_if_uninterrupted(model_file, mnist_path, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""seeds = 2
budget = 40
[data]
path = "{mnist_path}"
[model]
path = "{model_file}"
[settings]
eval_set = "validation"
population = 6
[variants.sa]
algorithm = "sa"
[variants.ga]
algorithm = "ga"
""")

    def experiment(out, fault=None):
        env = {**os.environ, "EVOPRUNE_FAULT": fault} if fault else {k: v for k, v in os.environ.items()
                                                                     if k != "EVOPRUNE_FAULT"}
        return subprocess.run([sys.executable, "-m", "evoprune", "experiment", "run", str(spec), "--out", str(out),
                               "--no-progress", "--parallel", "1"], capture_output=True, text=True, env=env, timeout=600)

    full = tmp_path / "full"
    assert experiment(full).returncode == 0
    out = tmp_path / "killed"
    rng = np.random.default_rng(4)
    for k in rng.choice(np.arange(1, 40), size=5, replace=False):
        p = experiment(out, fault=f"kill-after:{k}")
        assert p.returncode == -signal.SIGKILL, (k, p.returncode, p.stderr)
    done = experiment(out)
    assert done.returncode == 0, done.stderr
    names = sorted(os.listdir(full / "runs"))
    assert sorted(os.listdir(out / "runs")) == names
    for name in names:
        assert results(out / "runs" / name) == results(full / "runs" / name), name
    assert (out / "summary.md").read_text().split("## Protocol")[0] == (full / "summary.md").read_text().split(
        "## Protocol")[0]  # the verdict and its tables
