"""Every bad input is caught before work starts: exit status 2, one readable line, nothing half-written."""
import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def files(tiny_model, tmp_path_factory):
    from evoprune._tf import import_keras

    keras = import_keras()
    d = tmp_path_factory.mktemp("inputs")
    tiny_model.save(d / "model.keras")
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()]).save(d / "flat.keras")
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(d / "rgb.keras")
    (d / "junk.keras").write_bytes(b"this is not a zip archive")
    np.savez(d / "badmasks.npz", c1=np.ones((2, 2), bool))
    taken = d / "taken"
    taken.mkdir()
    (taken / "summary.json").write_text("{}")
    return d


CASES = {
    "unknown algorithm": (["--algorithm", "tabu"], "unknown algorithm 'tabu'"),
    "unknown executor": (["--executor", "gpu-farm"], "unknown executor 'gpu-farm'"),
    "sa budget too small": (["--budget", "1"], "--budget 1 is too small for sa"),
    "ga budget too small": (["--algorithm", "ga", "--budget", "12"], "--budget 12 is too small for ga"),
    "layer-wise budget too small": (["--scope", "layers", "--budget", "3"], "--budget 3 is too small for sa"),
    "layer-wise ga budget too small": (["--algorithm", "ga", "--scope", "layers", "--budget", "20"],
                                       "--budget 20 is too small for ga"),
    "population not above elite": (["--algorithm", "ga", "--population", "2", "--elite", "2"], "population (2)"),
    "tournament above population": (["--algorithm", "ga", "--tournament", "20"], "tournament size (20)"),
    "rate outside [0, 1]": (["--rate0", "-0.1"], "--rate0 must be in [0, 1]"),
    "crossover outside [0, 1]": (["--algorithm", "ga", "--crossover", "1.5"], "--crossover must be in [0, 1]"),
    "confidence below one half": (["--confidence", "0.3"], "--confidence must be in [0.5, 1)"),
    "temperature not positive": (["--t0", "0"], "temperature"),
    "not a Keras model": (["--model", "{d}/junk.keras"], "not a Keras model"),
    "missing model": (["--model", "{d}/none.keras"], "no such model file"),
    "no prunable layers": (["--model", "{d}/flat.keras"], "no prunable layers"),
    "input shape differs": (["--model", "{d}/rgb.keras"], "expects inputs of shape (32, 32, 3)"),
    "folder holds another run": (["--out", "{d}/taken"], "already holds a run"),
}


def prune(files, mnist_path, extra):
    args = {"--model": str(files / "model.keras"), "--algorithm": "sa", "--out": str(files / "out"),
            "--data": mnist_path}
    it = iter(extra)
    for flag in it:
        args[flag] = next(it).format(d=files)
    cmd = [sys.executable, "-m", "evoprune", "prune", "--no-progress"] + [x for kv in args.items() for x in kv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300), args["--out"]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_prune_input(case, files, mnist_path):
    extra, words = CASES[case]
    p, out = prune(files, mnist_path, extra)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr and p.stdout == "", p.stderr
    assert words in lines[0]
    if case == "folder holds another run":
        assert sorted(os.listdir(out)) == ["summary.json"]  # left as it was
    else:
        assert not os.path.exists(out)                     # nothing half-written


def test_masks_that_do_not_fit(files, mnist_path):
    p = subprocess.run([sys.executable, "-m", "evoprune", "evaluate", "--model", str(files / "model.keras"),
                        "--masks", str(files / "badmasks.npz"), "--data", mnist_path],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "masks do not fit the model" in p.stderr
