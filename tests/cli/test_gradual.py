"""`evoprune gradual`: a run folder like `prune`'s, pruned weights exactly zero, figures Keras confirms, bad input refused."""
import csv
import json
import os
import shutil

import numpy as np
import pytest

from conftest import HOW, run_evoprune
from evoprune.cli import main


@pytest.fixture(scope="module")
def model_file(tiny_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("gradual")
    tiny_model.save(d / "model.keras")
    return d / "model.keras"


@pytest.fixture(scope="module")
def gradual_run(model_file, mnist_path, tmp_path_factory):
    # 4,000 training images in batches of 500: 8 steps an epoch; pruning at steps 0, 4, ..., 16 (epochs 0 to 2)
    out = tmp_path_factory.mktemp("gradual-run") / "run"
    code = main(["gradual", "--model", str(model_file), "--data", mnist_path, "--final-sparsity", "0.8",
                 "--epochs", "3", "--end-epoch", "2", "--frequency", "4", "--batch-size", "500",
                 "--learning-rate", "0.005", "--seed", "1", "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow  # gradual_run trains
def test_the_run_folder_is_written_like_prune_writes_it(gradual_run):
    assert {"run.json", "summary.json", "masks.npz", "pruned.keras", "history.csv"} <= set(os.listdir(gradual_run))
    s = json.loads((gradual_run / "summary.json").read_text())
    assert s["algorithm"] == "gradual" and s["finetune_epochs"] == 3 and s["seed"] == 1
    assert {"final_accuracy", "baseline_accuracy", "final_loss", "sparsity_global", "sparsity_layer_mean",
            "trade_off", "layers", "export"} <= set(s)
    assert s["sparsity_global"] == pytest.approx(0.8, abs=1e-3) and s["pruned_weights_nonzero"] == 0
    assert s["schedule"]["begin_step"] == 0 and s["schedule"]["end_step"] == 16 and s["schedule"]["frequency"] == 4
    assert [p["step"] for p in s["pruning_steps"]] == [0, 4, 8, 12, 16]
    assert s["pruning_steps"][-1]["target_sparsity"] == 0.8
    assert [layer["name"] for layer in s["layers"]] == ["c1", "d1", "d2"]
    with open(gradual_run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(r["val_accuracy"] and r["loss"] for r in rows)
    assert float(rows[-1]["sparsity"]) == pytest.approx(s["sparsity_global"])
    info = json.loads((gradual_run / "run.json").read_text())
    assert info["algorithm"] == "gradual" and "versions" in info and "finished" in info
    assert info["config"]["schedule"]["final_sparsity"] == 0.8 and info["config"]["seed"] == 1
    assert info["data"]["sizes"]["train"] == 4000


@pytest.mark.slow  # gradual_run trains
def test_pruned_model_has_exact_zeros_and_scores_what_the_summary_says(gradual_run, mnist_path):
    from evoprune.network import models
    from evoprune.problem.data import Split, prepare

    s = json.loads((gradual_run / "summary.json").read_text())
    pruned = models.load_model(str(gradual_run / "pruned.keras"))
    with np.load(gradual_run / "masks.npz") as z:
        masks = {k: z[k] for k in z.files}
    for name, mask in masks.items():
        kernel = pruned.get_layer(name).kernel.numpy()
        assert np.all(kernel[~mask] == 0.0) and np.count_nonzero(kernel[mask]) == mask.sum()
    data = prepare("mnist", mnist_path, Split(0, 0.2))
    models.compile_model(pruned, "adam", 1e-3)
    loss, accuracy = pruned.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
    assert accuracy == pytest.approx(s["final_accuracy"], abs=1e-6)
    assert loss == pytest.approx(s["final_loss"], rel=1e-5)


@pytest.mark.slow  # gradual_run trains
def test_the_experiment_tables_read_a_gradual_run(gradual_run, tmp_path):
    from evoprune.results import aggregate

    shutil.copytree(gradual_run, tmp_path / "runs" / "gradual-seed1")
    runs = aggregate.load_runs(str(tmp_path))
    assert [r.variant for r in runs] == ["gradual"]
    table = aggregate.summary_table(runs)
    assert table["sparsity_global"]["gradual"].mean == pytest.approx(0.8, abs=1e-3)
    assert "| d1 |" in aggregate.markdown(str(tmp_path), runs)


def cli(*args, how="subprocess"):
    return run_evoprune(["gradual", *args], how)


@pytest.mark.parametrize("how", HOW)
def test_bad_gradual_input_is_one_line_and_exit_2(model_file, mnist_path, tmp_path, how):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "summary.json").write_text("{}")
    base = ["--model", str(model_file), "--data", mnist_path, "--final-sparsity", "0.9"]
    out = ["--out", str(tmp_path / "out")]
    cases = [
        (["--model", str(tmp_path / "none.keras"), "--data", mnist_path, "--final-sparsity", "0.9", *out],
         "no such model file"),
        ([*base[:-1], "1.0", *out], "--final-sparsity < 1"),
        ([*base, "--initial-sparsity", "0.95", *out], "--initial-sparsity ≤ --final-sparsity"),
        ([*base, "--epochs", "10", "--end-epoch", "10", *out], "--end-epoch < --epochs"),
        ([*base, "--begin-epoch", "5", "--end-epoch", "3", *out], "--begin-epoch ≤ --end-epoch"),
        ([*base, "--epochs", "6", "--end-epoch", "4", "--frequency", "7", *out], "does not divide"),
        ([*base, "--learning-rate", "0", *out], "--learning-rate > 0"),
        ([*base, "--out", str(a_file)], "a file, not a folder"),
        ([*base, "--out", str(taken)], "already holds a run"),
    ]
    for args, words in cases:
        p = cli(*args, how=how)
        assert p.returncode == 2, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in p.stderr and p.stdout == "", p.stderr
        assert words in lines[0], lines[0]
    assert not (tmp_path / "out").exists() and a_file.read_text() == "x"
    assert sorted(os.listdir(taken)) == ["summary.json"]
