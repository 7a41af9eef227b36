"""A model with a registered custom layer: its module is imported wherever the model is rebuilt (the main process,
evaluation workers, an experiment's runs) and recorded for a resume; without it, one line naming the class."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from evoprune import Execution, Hooks, Images, Problem, SearchConfig, init_worker, prune
from evoprune.errors import ConfigError
from evoprune.evaluation import registry
from evoprune.network import models

BUDGET = 12


@pytest.fixture(scope="module")
def serial_run(custom_model, small_mnist, tmp_path_factory):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    out = tmp_path_factory.mktemp("custom") / "serial"
    result = prune(custom_model, Images((x_val, y_val), (x_te, y_te)), "sa",
                   SearchConfig(budget=BUDGET, seed=0, certify=False), folder=str(out), hooks=Hooks(progress=False))
    return result, out


def test_a_problem_records_the_modules_every_worker_imports(custom_model, custom_layers, small_mnist):
    x, y, name = small_mnist[2][:50], small_mnist[3][:50], custom_layers[0]
    assert Problem(custom_model, x, y).imports == (name,)  # found from the model's own classes
    assert Problem(custom_model, x, y, imports=["json"]).imports == ("json", name)
    with pytest.raises(ConfigError, match="cannot import module 'evoprune_no_such_module'"):
        Problem(custom_model, x, y, imports=["evoprune_no_such_module"])


def test_a_worker_that_cannot_import_them_says_so_when_asked_to_evaluate(custom_model, small_mnist):
    problem = Problem(custom_model, small_mnist[2][:50], small_mnist[3][:50])
    problem.imports = ("evoprune_no_such_module",)  # as on a Ray node without the module
    init_worker(problem)
    try:
        with pytest.raises(registry.NoEvaluatorError, match=f"worker {os.getpid()}: cannot import module"):
            registry.evaluator(problem.token)
    finally:
        registry.uninstall(problem.token)


def test_it_prunes_serially_and_the_pruned_model_loads(serial_run, custom_layers, custom_model):
    result, out = serial_run
    assert result.summary["evaluations"] == BUDGET
    assert json.loads((out / "run.json").read_text())["imports"] == [custom_layers[0]]
    pruned = models.load_model(str(out / "pruned.keras"), [custom_layers[0]])
    assert type(pruned.get_layer("swish")) is type(custom_model.get_layer("swish"))
    for s in models.prunable_layers(pruned):
        assert np.all(pruned.layers[s.index].kernel.numpy()[~result.masks[s.name]] == 0)


@pytest.mark.slow
def test_it_prunes_on_a_process_pool_as_it_does_serially(serial_run, custom_model, small_mnist, tmp_path):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    # Spawned workers rebuild the model from its bytes: only after importing the module found in the problem.
    result = prune(custom_model, Images((x_val, y_val), (x_te, y_te)), "sa",
                   SearchConfig(budget=BUDGET, seed=0, certify=False), folder=str(tmp_path / "pool"),
                   execution=Execution("process", 2), hooks=Hooks(progress=False))
    serial, _ = serial_run
    assert result.summary["evaluations"] == BUDGET
    assert all(np.array_equal(result.masks[k], serial.masks[k]) for k in serial.masks)
    assert result.summary["final_accuracy"] == serial.summary["final_accuracy"]


def cli(*args, pythonpath):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "evoprune", *args], capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.fixture(scope="module")
def model_file(custom_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "custom.keras"
    custom_model.save(path)
    return str(path)


@pytest.mark.slow
def test_the_command_line_refuses_the_model_without_its_module_in_one_line(model_file, custom_layers, mnist_path,
                                                                           tmp_path):
    name, folder = custom_layers
    for extra, words in (([], ["the custom class 'Swish'", f"--import {name}"]),
                         (["--import", "evoprune_no_such_module"], ["cannot import module 'evoprune_no_such_module'"])):
        p = cli("prune", "--model", model_file, "--algorithm", "sa", "--data", mnist_path, "--out",
                str(tmp_path / "out"), *extra, pythonpath=folder)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
        assert all(w in lines[0] for w in words), lines[0]
        assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_command_line_imports_the_module_and_a_resume_imports_it_again(model_file, custom_layers, mnist_path,
                                                                            tmp_path):
    name, folder = custom_layers
    out = str(tmp_path / "run")
    p = cli("prune", "--model", model_file, "--algorithm", "sa", "--data", mnist_path, "--budget", "6", "--set",
            "eval_set=validation", "--import", name, "--out", out, "--no-progress", pythonpath=folder)
    assert p.returncode == 0, p.stderr
    run = json.loads(open(os.path.join(out, "run.json")).read())
    assert run["imports"] == [name] and run["cli"]["imports"] == [name]
    p = cli("prune", "--resume", out, "--no-progress", pythonpath=folder)  # no --import: run.json has it
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(out, "summary.json"))


@pytest.mark.slow
def test_an_experiment_spec_imports_its_modules(model_file, custom_layers, mnist_path, tmp_path):
    from evoprune.cli import main

    name = custom_layers[0]
    spec = tmp_path / "spec.toml"
    spec.write_text(f'seeds = 1\nbudget = 6\nimports = ["{name}"]\n[data]\npath = "{mnist_path}"\n[model]\n'
                    f'path = "{model_file}"\n[settings]\neval_set = "validation"\n[variants.sa]\nalgorithm = "sa"\n')
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "exp"), "--no-progress",
                 "--parallel", "1"]) == 0
    run = json.loads((tmp_path / "exp" / "runs" / "sa-seed0" / "run.json").read_text())
    assert run["imports"] == [name]
