"""`evoprune prune`: where evaluations run, chosen from --executor and --workers, fresh or resumed."""
import json
import subprocess
import sys

import pytest

from evoprune.cli import build_parser
from evoprune.cli.prune import _resumed_args
from evoprune.errors import ConfigError
from evoprune.executors import executor_name


def where(tmp_path, saved: dict | None, *flags) -> tuple:
    """(executor, workers, ray address) `prune` runs with, given `flags` and, with `saved`, a run.json to resume."""
    argv = ["prune", *flags]
    if saved is not None:
        (tmp_path / "run.json").write_text(json.dumps({"cli": saved, "config": {}}))
        argv += ["--resume", str(tmp_path)]
    args = build_parser().parse_args(argv)
    if saved is not None:
        args = _resumed_args(args)
    return executor_name(args.executor, args.workers), args.workers, args.ray_address


def test_workers_alone_mean_a_process_pool_and_serial_takes_none(tmp_path):
    assert where(tmp_path, None) == ("serial", None, None)
    assert where(tmp_path, None, "--workers", "2") == ("process", 2, None)
    assert where(tmp_path, None, "--executor", "ray", "--workers", "2") == ("ray", 2, None)
    assert where(tmp_path, None, "--executor", "serial", "--workers", "1") == ("serial", 1, None)
    with pytest.raises(ConfigError, match=r"^the serial executor runs in this process and takes no workers \(got 2\)"):
        where(tmp_path, None, "--executor", "serial", "--workers", "2")


SERIAL = {"executor": "serial", "workers": None, "ray_address": None}
POOL = {"executor": "process", "workers": 2, "ray_address": None}
RAY = {"executor": "ray", "workers": 2, "ray_address": "10.0.0.1:6379"}
RESUMES = [  # (run.json's, the command's flags, where the resumed run evaluates)
    (SERIAL, (), ("serial", None, None)),
    (SERIAL, ("--workers", "2"), ("process", 2, None)),
    (POOL, (), ("process", 2, None)),
    (POOL, ("--workers", "4"), ("process", 4, None)),
    (POOL, ("--executor", "serial"), ("serial", None, None)),
    (RAY, (), ("ray", 2, "10.0.0.1:6379")),
    (RAY, ("--workers", "4"), ("ray", 4, "10.0.0.1:6379")),
    (RAY, ("--executor", "process"), ("process", 2, None)),
    ({**SERIAL, "workers": 2}, (), ("serial", None, None)),  # an older run, recorded serial with unused workers
]


@pytest.mark.parametrize("saved,flags,expected", RESUMES)
def test_a_resumed_run_keeps_where_it_ran_unless_told_otherwise(tmp_path, saved, flags, expected):
    assert where(tmp_path, saved, *flags) == expected


@pytest.mark.slow
def test_workers_without_an_executor_run_and_record_a_process_pool(tiny_model, mnist_path, tmp_path):
    tiny_model.save(tmp_path / "model.keras")
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "evoprune", "prune", "--no-progress", "--model",
                           str(tmp_path / "model.keras"), "--algorithm", "sa", "--data", mnist_path, "--budget", "6",
                           "--set", "eval_set=validation", "--workers", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "run.json").read_text())
    assert (record["executor"], record["workers"], record["cli"]["executor"]) == ("process", 2, "process")
