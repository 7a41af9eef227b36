"""Experiments end to end: the folder knows its spec, reuses and resumes runs, spreads them over workers identically."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from evoprune.cli import main
from evoprune.pruned.report import MACHINE_KEYS

pytestmark = pytest.mark.slow
VOLATILE = MACHINE_KEYS
RUNS = [f"{v}-seed{s}" for v in ("ga-1pt", "ga-2pt", "sa") for s in (0, 1)]


def spec_text(model, data, budget=40):
    return f"""title = "operators on a tiny model"
seeds = 2
budget = {budget}
[data]
path = "{data}"
[model]
path = "{model}"
[settings]
eval_set = "validation"
population = 6
[variants.ga-1pt]
algorithm = "ga"
[variants.ga-2pt]
algorithm = "ga"
operators.mate = "deap.tools.cxTwoPoint"
[variants.sa]
algorithm = "sa"
settings.t0 = 0.004
"""


@pytest.fixture(scope="module")
def spec(tiny_model, mnist_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spec")
    tiny_model.save(folder / "model.keras")
    (folder / "spec.toml").write_text(spec_text(folder / "model.keras", mnist_path))
    return folder / "spec.toml"


@pytest.fixture(scope="module")
def one_by_one(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "one-by-one"
    assert main(["experiment", "run", str(spec), "--out", str(out), "--no-progress", "--parallel", "1"]) == 0
    return out


def results(out):
    """Every run's summary (timings aside), masks and history rows (times aside), by run name."""
    found = {}
    for name in sorted(os.listdir(out / "runs")):
        folder = out / "runs" / name
        summary = {k: v for k, v in json.loads((folder / "summary.json").read_text()).items() if k not in VOLATILE}
        with np.load(folder / "masks.npz") as z:
            masks = {k: z[k].tobytes() for k in z.files}
        rows = [",".join(r.split(",")[:11]) for r in (folder / "history.csv").read_text().splitlines()]
        found[name] = (summary, masks, rows)
    return found


def test_the_folder_holds_the_spec_its_runs_and_a_verdict(one_by_one, spec):
    assert sorted(os.listdir(one_by_one / "runs")) == sorted(RUNS)
    assert (one_by_one / "spec.toml").read_text() == spec.read_text()
    md = (one_by_one / "summary.md").read_text()
    assert md.startswith("# operators on a tiny model\n\nga-1pt pruned ") and "\n\n## Verdict\n\n" in md
    assert "(2 seeds each, which cannot give p below 0.33 however far apart the runs are)" in md
    assert "All 3 variants together, global sparsity: " in md and "(Friedman test over 2 seeds: " in md
    assert "mate = deap.tools.cxTwoPoint" in md and "experiment run" in md  # the operator swap and the command
    for name in ("summary.csv", "anytime.png", "tradeoff.png", "layers.png"):
        assert (one_by_one / name).stat().st_size > 1000
    plan = json.loads((one_by_one / "runs" / "ga-2pt-seed1" / "run.json").read_text())["plan"]
    assert plan["operators"] == {"mate": {"function": "deap.tools.cxTwoPoint"}} and plan["config"]["seed"] == 1
    assert json.loads((one_by_one / "runs" / "ga-1pt-seed1" / "run.json").read_text())["plan"]["operators"] == {}
    # the swap took effect: same seed, same settings, other crossover, other search
    a, b = (results(one_by_one)[f"ga-{x}-seed1"][2] for x in ("1pt", "2pt"))
    assert a != b


def test_a_second_run_reuses_every_run_and_says_so(one_by_one, spec, capsys):
    stamps = {n: (one_by_one / "runs" / n / "summary.json").stat().st_mtime_ns for n in RUNS}
    capsys.readouterr()
    assert main(["experiment", "run", str(spec), "--out", str(one_by_one), "--no-progress"]) == 0
    assert "6 reused, 0 resumed, 0 started" in capsys.readouterr().out
    assert stamps == {n: (one_by_one / "runs" / n / "summary.json").stat().st_mtime_ns for n in RUNS}


def test_a_folder_another_process_is_writing_is_refused_until_that_process_is_gone(one_by_one, spec, capsys):
    # another `experiment run` of the same folder, as the OS sees it: a process holding the folder's lock
    hold = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(one_by_one)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = results(one_by_one)
        capsys.readouterr()
        assert main(["experiment", "run", str(spec), "--out", str(one_by_one), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "another process is writing this experiment" in err and len(err.strip().splitlines()) == 1
        assert results(one_by_one) == before
    finally:
        holder.kill()  # killed, as a run can be: the OS drops its lock
        holder.wait()
    assert main(["experiment", "run", str(spec), "--out", str(one_by_one), "--no-progress"]) == 0
    assert "6 reused, 0 resumed, 0 started" in capsys.readouterr().out


def test_a_folder_of_another_spec_is_refused_in_one_line(one_by_one, spec, tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text(spec.read_text().replace("budget = 40", "budget = 50"))
    before = results(one_by_one)
    capsys.readouterr()
    assert main(["experiment", "run", str(other), "--out", str(one_by_one), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "another spec" in err and "budget" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert results(one_by_one) == before
    (tmp_path / "file").write_text("x")
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "file"), "--no-progress"]) == 2
    assert "a file, not a folder" in capsys.readouterr().err


def test_a_spec_that_adds_a_variant_extends_the_experiment_and_reuses_its_runs(one_by_one, spec, tmp_path, capsys):
    import shutil

    out = tmp_path / "extended"
    shutil.copytree(one_by_one, out)
    changed = tmp_path / "changed.toml"
    changed.write_text(spec.read_text().replace("settings.t0 = 0.004", "settings.t0 = 0.005"))
    capsys.readouterr()
    assert main(["experiment", "run", str(changed), "--out", str(out), "--no-progress"]) == 2
    assert "another spec" in capsys.readouterr().err  # a variant held there changed: not an extension
    added = tmp_path / "added.toml"
    added.write_text(spec.read_text() + '[variants.sa-hot]\nalgorithm = "sa"\nsettings.t0 = 0.04\n')
    assert main(["experiment", "run", str(added), "--out", str(out), "--no-progress", "--parallel", "1"]) == 0
    assert "6 reused, 0 resumed, 2 started" in capsys.readouterr().out
    found = results(out)
    assert {n: found[n] for n in RUNS} == results(one_by_one)
    assert sorted(found) == sorted(RUNS + ["sa-hot-seed0", "sa-hot-seed1"])
    assert "sa-hot" in (out / "summary.md").read_text() and (out / "spec.toml").read_text() == added.read_text()


def test_runs_spread_over_two_workers_equal_the_runs_made_one_by_one(one_by_one, spec, tmp_path):
    spread = tmp_path / "spread"
    assert main(["experiment", "run", str(spec), "--out", str(spread), "--parallel", "2", "--no-progress"]) == 0
    assert results(spread) == results(one_by_one)
    sessions = json.loads((spread / "experiment.json").read_text())["sessions"]
    assert sessions[-1]["parallel"] == 2 and sessions[-1]["executor"] == "process"


def test_a_killed_experiment_finishes_on_rerun_as_if_uninterrupted(one_by_one, spec, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "evoprune", "experiment", "run", str(spec), "--out", str(out), "--no-progress",
               "--parallel", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:  # until some run has a checkpoint mid-run
        if (out / "runs").exists() and any((out / "runs" / n / "checkpoint.pkl").exists() for n in RUNS):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.md").exists()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    counts = done.stdout.splitlines()[0]
    assert "resumed" in counts and " 0 resumed" not in counts, counts  # a run continued from its checkpoint
    assert results(out) == results(one_by_one)


def test_the_same_baseline_trained_again_keeps_the_experiment_s_runs(mnist_path, tmp_path, monkeypatch, capsys):
    # issue 29: installing Ray changed the baseline's key, the baseline was trained again (the same weights in a new
    # file, with its own path and date) and every run started over
    import hashlib

    from evoprune.experiments import baselines
    from evoprune.results.manifest import package_versions

    out = tmp_path / "out"
    args = ["compare", "--algorithms", "sa", "--seeds", "2", "--budget", "10", "--set", "eval_set=validation",
            "--epochs", "1", "--data", mnist_path, "--out", str(out), "--no-progress", "--parallel", "1", "--baselines"]

    def compare(cache: str) -> str:
        capsys.readouterr()
        assert main([*args, str(tmp_path / cache)]) == 0
        return capsys.readouterr().out

    said = compare("cache")
    assert "trained baseline" in said and "0 reused, 0 resumed, 2 started" in said
    stamps = [(out / "runs" / f"sa-seed{s}" / "summary.json").stat().st_mtime_ns for s in (0, 1)]
    installed = package_versions()
    monkeypatch.setattr(baselines, "package_versions", lambda exclude=(): {**installed, "ray": "99.0"})
    said = compare("cache")
    assert "reused baseline" in said and "2 reused, 0 resumed, 0 started" in said and "not reused" not in said
    said = compare("elsewhere")  # trained again: another file, the same weights
    assert "trained baseline" in said and "2 reused, 0 resumed, 0 started" in said
    assert stamps == [(out / "runs" / f"sa-seed{s}" / "summary.json").stat().st_mtime_ns for s in (0, 1)]

    # runs recorded by an older evoprune name the model by its file: the file it named, still there, is read
    [trained] = (tmp_path / "cache").iterdir()
    first = trained / "model.keras"
    for s in (0, 1):
        run = out / "runs" / f"sa-seed{s}" / "run.json"
        record = json.loads(run.read_text())
        record["plan"]["model"] = {"path": str(first), "sha256": hashlib.sha256(first.read_bytes()).hexdigest()}
        run.write_text(json.dumps(record))
    assert "2 reused, 0 resumed, 0 started" in compare("third")
    [third] = (tmp_path / "third").glob("*/model.keras")
    assert third.read_bytes() != first.read_bytes()  # saved at another time
    first.unlink()  # … and is gone: nothing says it was this model
    said = compare("fourth")
    assert "0 reused, 0 resumed, 2 started" in said
    assert "2 runs not reused: their run.json records another model" in said
