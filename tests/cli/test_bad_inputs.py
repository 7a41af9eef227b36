"""Every bad input is caught before work starts: exit status 2, one readable line, nothing half-written."""
import os

import numpy as np
import pytest

from conftest import HOW, run_evoprune


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
    "serial executor with workers": (["--executor", "serial", "--workers", "2"], "takes no workers (got 2)"),
    "sa budget too small": (["--budget", "1"], "--budget 1 is too small for sa: it needs at least 2"),
    "ga budget too small": (["--algorithm", "ga", "--budget", "12"], "--budget 12 is too small for ga"),
    "layer-wise budget too small": (["--scope", "layers", "--budget", "3"], "--budget 3 is too small for sa"),
    "layer-wise ga budget too small": (["--algorithm", "ga", "--scope", "layers", "--budget", "20"],
                                       "--budget 20 is too small for ga"),
    "population not above elite": (["--algorithm", "ga", "--population", "2", "--elite", "2"], "population (2)"),
    "tournament above population": (["--algorithm", "ga", "--tournament", "20"], "tournament size (20)"),
    "rate outside [0, 1]": (["--rate0", "-0.1"], "--rate0 must be in [0, 1]"),
    "crossover outside [0, 1]": (["--algorithm", "ga", "--crossover", "1.5"], "--crossover must be in [0, 1]"),
    "a setting the algorithm lacks": (["--algorithm", "sa", "--population", "8"], "no setting 'population' in sa"),
    "negative start refinement": (["--start-refine", "-1"], "--start-refine must be at least 0"),
    "confidence below one half": (["--confidence", "0.3"], "--confidence must be in [0.5, 1)"),
    "temperature not positive": (["--t0", "0"], "temperature"),
    "certification fraction of 0": (["--certify-fraction", "0"], "--certify-fraction must be strictly between 0"),
    "certification fraction of 1": (["--certify-fraction", "1"], "--certify-fraction must be strictly between 0"),
    "certification leaving no decision images": (["--eval-set", "validation", "--certify-from", "validation",
                                                  "--certify-fraction", "0.9999"], "leaves none to decide on"),
    "too few certification images": (["--certify-from", "validation"],
                                     "500 certification images are too few to certify any pruning at delta 0.005: "
                                     "losing a single image already bounds the drop at 0.0053"),
    "certification beside decisions on test": (["--eval-set", "test"], "certification needs images apart"),
    "not a Keras model": (["--model", "{d}/junk.keras"], "not a Keras model"),
    "missing model": (["--model", "{d}/none.keras"], "no such model file"),
    "no prunable layers": (["--model", "{d}/flat.keras"], "no prunable layers"),
    "input shape differs": (["--model", "{d}/rgb.keras"], "expects inputs of shape (32, 32, 3)"),
    "folder holds another run": (["--out", "{d}/taken"], "already holds a run"),
}


def prune(files, mnist_path, extra, how="subprocess"):
    args = {"--model": str(files / "model.keras"), "--algorithm": "sa", "--out": str(files / "out"),
            "--data": mnist_path}
    it = iter(extra)
    for flag in it:
        args[flag] = next(it).format(d=files)
    cmd = ["prune", "--no-progress"] + [x for kv in args.items() for x in kv]
    return run_evoprune(cmd, how), args["--out"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_prune_input(case, how, files, mnist_path):
    extra, words = CASES[case]
    p, out = prune(files, mnist_path, extra, how)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr and p.stdout == "", p.stderr
    assert words in lines[0]
    if case == "folder holds another run":
        assert sorted(os.listdir(out)) == ["summary.json"]  # left as it was
    else:
        assert not os.path.exists(out)                     # nothing half-written


@pytest.mark.parametrize("how", HOW)
def test_masks_that_do_not_fit(files, mnist_path, how):
    p = cli("evaluate", "--model", str(files / "model.keras"), "--masks", str(files / "badmasks.npz"), "--data",
            mnist_path, how=how)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "masks do not fit the model" in p.stderr


# ----- issue 17: whatever it is given, one line and no traceback -----
def one_line(p, *words):
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def cli(*args, env=None, how="subprocess"):
    return run_evoprune(args, how, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("how", HOW)
def test_an_out_that_is_a_file_is_refused_before_any_work(files, mnist_path, tmp_path, how):
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    one_line(cli("prune", "--model", str(files / "model.keras"), "--algorithm", "sa", "--data", mnist_path,
                 "--out", str(taken), how=how), "a file, not a folder")
    one_line(cli("train", "--data", mnist_path, "--out", str(taken), how=how), "a file, not a folder")
    one_line(cli("compare", "--algorithms", "sa", "--seeds", "1", "--data", mnist_path, "--out", str(taken), how=how),
             "a file, not a folder")  # before training a baseline: this answers at once
    one_line(cli("prune", "--model", str(files / "model.keras"), "--algorithm", "sa", "--data", mnist_path,
                 "--out", str(taken / "below"), how=how), "is a file, so the folder cannot be made")
    assert taken.read_text() == "not a folder"


@pytest.mark.parametrize("how", HOW)
def test_a_masks_file_that_is_not_npz_says_so(files, mnist_path, tmp_path, how):
    (tmp_path / "masks.json").write_text('{"c1": [[1, 0]]}')
    one_line(cli("evaluate", "--model", str(files / "model.keras"), "--masks", str(tmp_path / "masks.json"),
                 "--data", mnist_path, how=how), "not a masks file", "masks.npz")
    np.savez(tmp_path / "halves.npz", **{s: np.full(shape, 0.5) for s, shape in
                                         (("c1", (3, 3, 1, 4)), ("d1", (64, 16)), ("d2", (16, 10)))})
    one_line(cli("evaluate", "--model", str(files / "model.keras"), "--masks", str(tmp_path / "halves.npz"),
                 "--data", mnist_path, how=how), "values other than 0/1")


@pytest.mark.slow  # a whole run, in a new process
def test_a_legacy_h5_model_is_pruned(tiny_model, mnist_path, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras says HDF5 is legacy: that is the point here
        tiny_model.save(tmp_path / "model.h5")
    p = cli("prune", "--model", str(tmp_path / "model.h5"), "--algorithm", "sa", "--data", mnist_path, "--budget",
            "10", "--set", "eval_set=validation", "--out", str(tmp_path / "run"), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "run" / "summary.json").exists()
    (tmp_path / "fake.h5").write_bytes(b"not hdf5 at all")
    one_line(cli("prune", "--model", str(tmp_path / "fake.h5"), "--algorithm", "sa", "--data", mnist_path, "--out",
                 str(tmp_path / "other")), "not an HDF5 file")


@pytest.mark.parametrize("how", HOW)
def test_budget_zero_says_what_a_run_needs(files, mnist_path, tmp_path, how):
    one_line(cli("prune", "--model", str(files / "model.keras"), "--algorithm", "sa", "--budget", "0", "--out",
                 str(tmp_path / "o"), how=how), "--budget 0 is too small for sa: it needs at least 2 evaluations")


@pytest.mark.slow
def test_progress_off_a_terminal_stays_small_and_ray_starts_quietly(files, mnist_path, tmp_path):
    p = cli("prune", "--model", str(files / "model.keras"), "--algorithm", "sa", "--data", mnist_path, "--budget",
            "150", "--set", "eval_set=validation", "--out", str(tmp_path / "run"))
    assert p.returncode == 0, p.stderr
    assert len(p.stderr) < 2_000, len(p.stderr)  # not a redraw per evaluation
    p = cli("prune", "--model", str(files / "model.keras"), "--algorithm", "ga", "--data", mnist_path, "--budget",
            "30", "--set", "eval_set=validation", "--set", "population=6", "--executor", "ray", "--workers", "2",
            "--out", str(tmp_path / "ray"), "--no-progress", env={"RAY_USAGE_STATS_ENABLED": "0"})
    assert p.returncode == 0, p.stderr
    assert "Token authentication" not in p.stderr and "Ray" not in p.stderr, p.stderr


# ----- issue 29: folders, refused before anything is trained or made -----
def no_training(monkeypatch):
    from evoprune.experiments import baselines

    def refuse(*args, **kwargs):
        raise AssertionError("a baseline was trained")

    monkeypatch.setattr(baselines, "train_baseline", refuse)


def experiment_commands(tmp_path, data):
    """`compare` and `experiment run` of a spec, both training their baseline into tmp_path/cache."""
    spec = tmp_path / "spec.toml"
    spec.write_text(f'seeds = 1\nbudget = 10\n[data]\npath = "{data}"\n[model.train]\nepochs = 1\n'
                    '[variants.sa]\nalgorithm = "sa"\n')
    cache = ["--baselines", str(tmp_path / "cache"), "--no-progress"]
    return {"compare": ["compare", "--algorithms", "sa", "--seeds", "1", "--budget", "10", "--epochs", "1",
                        "--data", data, *cache],
            "experiment run": ["experiment", "run", str(spec), *cache]}


def test_compare_and_experiment_run_refuse_a_folder_holding_a_prune_run(tmp_path, mnist_path, monkeypatch, capsys):
    from evoprune.cli import main

    no_training(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    for name in ("run.json", "history.csv", "checkpoint.pkl"):  # `evoprune prune`'s files, mid-run
        (run / name).write_text("kept")
    for command, args in experiment_commands(tmp_path, mnist_path).items():
        capsys.readouterr()
        assert main([*args, "--out", str(run)]) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "already holds a run" in err[0] and "run.json" in err[0], (command, err)
        assert sorted(os.listdir(run)) == ["checkpoint.pkl", "history.csv", "run.json"]
    assert not (tmp_path / "cache").exists()


def test_compare_and_experiment_run_refuse_workers_and_name_parallel(tmp_path, mnist_path, monkeypatch, capsys):
    from evoprune.cli import main

    no_training(monkeypatch)
    for command, args in experiment_commands(tmp_path, mnist_path).items():
        capsys.readouterr()
        assert main([*args, "--workers", "2", "--out", str(tmp_path / "out")]) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--parallel 2" in err[0], (command, err)
        assert not (tmp_path / "out").exists(), command


def test_data_that_cannot_be_read_leaves_no_output_folder(tmp_path, files, monkeypatch, capsys):
    from evoprune.cli import main

    no_training(monkeypatch)
    missing = str(tmp_path / "none.npz")
    commands = {**experiment_commands(tmp_path, missing),
                "compare --model": ["compare", "--model", str(files / "model.keras"), "--algorithms", "sa", "--seeds",
                                    "1", "--data", missing, "--no-progress"],
                "prune": ["prune", "--model", str(files / "model.keras"), "--algorithm", "sa", "--data", missing,
                          "--no-progress"]}
    for i, (command, args) in enumerate(commands.items()):
        out = tmp_path / f"out{i}"
        capsys.readouterr()
        assert main([*args, "--out", str(out)]) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "none.npz: no such file" in err[0], (command, err)
        assert not out.exists(), command
