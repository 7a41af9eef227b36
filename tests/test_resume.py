"""Ctrl-C with a pool of workers: one clean line, and `--resume` gives the uninterrupted run's results.

SIGKILL at random points is tests/test_faults.py's."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from evoprune.search import Search
from evoprune.pruned.report import MACHINE_KEYS

pytestmark = pytest.mark.slow
VOLATILE = MACHINE_KEYS


@pytest.fixture(scope="module")
def model_file(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    tiny_model.save(path)
    return str(path)


def command(model_file, mnist_path, algorithm, out, *extra):
    return [sys.executable, "-m", "evoprune", "prune", "--model", model_file, "--algorithm", algorithm,
            "--data", mnist_path, "--out", str(out), "--no-progress", "--budget", "1500", "--seed", "1",
            "--checkpoint-every", "2", *extra]


def wait_for_mid_layer_checkpoint(out, proc, after_layer=0, timeout=240):
    """Poll until a checkpoint taken in the middle of a pass, past layer `after_layer`, exists.

    A layer-wise run is caught after its first layer; a whole-model run (one pass) a few steps in.
    """
    path = os.path.join(out, "checkpoint.pkl")
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        try:  # not with exists() first: a checkpoint write renames the file away for a moment (to .prev)
            with open(path, "rb") as f:
                state = Search.restore(f.read())
        except FileNotFoundError:
            state = None
        if state is not None and state.unit_started and state.unit >= after_layer and state.unit_evals > 2:
            return state
        time.sleep(0.02)
    raise AssertionError("the run ended before a mid-layer checkpoint was seen")


def results(out):
    summary = json.load(open(os.path.join(out, "summary.json")))
    masks = np.load(os.path.join(out, "masks.npz"))
    return {k: v for k, v in summary.items() if k not in VOLATILE}, {k: masks[k] for k in masks.files}


def assert_same(a, b):
    (sa, ma), (sb, mb) = a, b
    strip = lambda s: {**s, "layers": [{k: v for k, v in layer.items() if k not in VOLATILE} for layer in s["layers"]]}
    assert strip(sa) == strip(sb)
    assert ma.keys() == mb.keys() and all(np.array_equal(ma[k], mb[k]) for k in ma)


def history_without_time(out):
    rows = open(os.path.join(out, "history.csv")).read().splitlines()
    return [",".join(r.split(",")[:11]) for r in rows]


def test_ctrl_c_with_two_workers_stops_cleanly_and_resumes(model_file, mnist_path, tmp_path):
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    workers = ("--executor", "process", "--workers", "2")
    layerwise = ("--scope", "layers")  # stopped between layers' checkpoints as well as within one
    subprocess.run(command(model_file, mnist_path, "ga", full, *layerwise), check=True, capture_output=True,
                   timeout=600)
    # A shell's background job starts with SIGINT ignored, and Python keeps an inherited SIG_IGN:
    # give the run the default disposition so Ctrl-C reaches it however the suite was started.
    proc = subprocess.Popen(command(model_file, mnist_path, "ga", stopped, *layerwise, *workers), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_mid_layer_checkpoint(str(stopped), proc, after_layer=1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    assert "--resume" in err
    done = subprocess.run([sys.executable, "-m", "evoprune", "prune", "--resume", str(stopped), "--no-progress",
                           *workers], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert_same(results(full), results(stopped))
