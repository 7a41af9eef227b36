"""The command line: one clear line and exit status 2 for bad input, nothing else on the screen."""
import gzip
import os
import shutil

import numpy as np
import pytest

from conftest import HOW, run_evoprune


def run(*args, env=None, cwd=None, how="subprocess"):
    e = {**os.environ, **(env or {})}
    e.pop("EVOPRUNE_DATA", None) if env is None or "EVOPRUNE_DATA" not in env else None
    return run_evoprune(args, how, env=e, cwd=cwd)


def assert_one_line_error(p, *words):
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("how", HOW)
def test_missing_data_file(tmp_path, how):
    p = run("train", "--dataset", "mnist", "--data", "/nonexistent/x.npz", "--out", str(tmp_path / "out"), how=how)
    assert_one_line_error(p, "/nonexistent/x.npz", "no such")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", HOW)
def test_truncated_gzip_in_idx_folder(tmp_path, mnist_path, how):
    folder = tmp_path / "idx"
    folder.mkdir()
    with np.load(mnist_path) as f:
        x, y = f["x_train"][:50], f["y_train"][:50]
    header = lambda magic, dims: (np.array([magic, *dims], ">u4")).tobytes()
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as g:
        g.write(header(0x803, x.shape) + x.tobytes())
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as g:
        g.write(header(0x801, y.shape) + y.tobytes())
    data = (folder / "train-images-idx3-ubyte.gz").read_bytes()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])
    shared = os.path.dirname(mnist_path)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(os.path.join(shared, name), folder / name)
    p = run("train", "--dataset", "mnist", "--data", str(folder), "--out", str(tmp_path / "out"), how=how)
    assert_one_line_error(p, "train-images-idx3-ubyte.gz", "truncated")


@pytest.mark.parametrize("how", HOW)
def test_unknown_algorithm_and_bad_model(tmp_path, how):
    p = run("prune", "--model", "m.keras", "--algorithm", "tabu", "--out", str(tmp_path / "o"), how=how)
    assert_one_line_error(p, "unknown algorithm 'tabu'")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    p = run("evaluate", "--model", str(bad), "--masks", str(bad), how=how)
    assert_one_line_error(p, "bad.keras", "not a Keras model")


@pytest.mark.parametrize("how", HOW)
def test_budget_too_small_and_bad_rates(tmp_path, how):
    p = run("prune", "--model", str(tmp_path / "m.keras"), "--algorithm", "ga", "--budget", "3", how=how)
    assert_one_line_error(p, "--budget 3")
    p = run("prune", "--model", str(tmp_path / "m.keras"), "--algorithm", "sa", "--rate0", "1.5", how=how)
    assert_one_line_error(p, "--rate0", "[0, 1]")
