"""A small end-to-end search through the API: the files, exact budgets, and figures Keras agrees with."""
import json

import numpy as np
import pytest

from evoprune import Hooks, Images, SearchConfig, make_config, prune
from evoprune.network.masks import load_masks
from evoprune.network.models import evaluate, load_model, prunable_layers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tiny_model, small_mnist, tmp_path_factory):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    out = tmp_path_factory.mktemp("run")
    result = prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), "ga",
                   SearchConfig(budget=150, seed=2, certify=False), folder=str(out), hooks=Hooks(progress=False))
    return result, out


def test_files_and_exact_budget(run):
    result, out = run
    for f in ("history.csv", "summary.json", "run.json", "masks.npz", "pruned.keras"):
        assert (out / f).exists(), f
    assert not (out / "checkpoint.pkl").exists()          # a finished run leaves nothing to resume
    s = json.loads((out / "summary.json").read_text())
    assert s["evaluations"] == 150 == s["budget"]
    assert len((out / "history.csv").read_text().splitlines()) > 5
    assert json.loads((out / "run.json").read_text())["config"]["seed"] == 2


def test_summary_agrees_with_keras_and_evaluate_command(run, tiny_model, small_mnist, mnist_path, tmp_path):
    result, out = run
    x_te, y_te = small_mnist[4], small_mnist[5]
    pruned = load_model(str(out / "pruned.keras"))
    loss, acc = evaluate(pruned, x_te, y_te)
    assert acc == result.summary["final_accuracy"] and loss == pytest.approx(result.summary["final_loss"], rel=1e-6)
    masks = load_masks(str(out / "masks.npz"), prunable_layers(tiny_model))
    for s in prunable_layers(pruned):
        assert np.all(pruned.layers[s.index].kernel.numpy()[~masks[s.name]] == 0)


def test_the_floor_holds_on_validation(run):
    result, _ = run
    s = result.summary
    assert s["search_final_accuracy"] >= s["search_baseline_accuracy"] - 0.005 - 1e-12
    assert s["sparsity_global"] > 0.05                     # and it did prune


def test_study_preset_makes_exactly_its_budget(tiny_model, small_mnist):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    for algorithm in ("sa", "ga"):
        config = make_config("study", budget=130, eval_set="validation")
        r = prune(tiny_model, Images((x_val, y_val), (x_te, y_te)), algorithm, config, hooks=Hooks(progress=False))
        assert r.summary["evaluations"] == 130


@pytest.mark.parametrize("refit", ["after", "loop"])
def test_a_refitted_run_saves_the_model_its_summary_scores(tiny_model, small_mnist, tmp_path, refit):
    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, budget=40, seed=1, refit=refit, eval_set="validation")
    result = prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), "sa", config,
                   folder=str(tmp_path), hooks=Hooks(progress=False))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["refit"] is True and s["refit_report"]["layers"]
    # after: on the training images; loop: on the search images
    assert s["refit_report"]["images"] == len(x_tr if refit == "after" else x_val)
    assert "calibration" not in json.loads((tmp_path / "run.json").read_text())["config"]
    saved = load_model(str(tmp_path / "pruned.keras"))
    loss, acc = evaluate(saved, x_te, y_te)
    assert acc == s["final_accuracy"] and loss == pytest.approx(s["final_loss"], rel=1e-6)
    masks = load_masks(str(tmp_path / "masks.npz"), prunable_layers(tiny_model))
    for spec in prunable_layers(saved):
        assert np.all(saved.layers[spec.index].kernel.numpy()[~masks[spec.name]] == 0)  # pruned stay zero
    assert s["final_accuracy"] != s["final_accuracy_before_refit"]  # the weights did change


@pytest.mark.parametrize("order", ["refitted", "obs"])
def test_the_refitted_one_shots_prune_by_their_order_and_need_training_images(tiny_model, small_mnist, order):
    from evoprune.errors import ConfigError
    from evoprune.problem import importance

    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, sparsity=0.8, refit="after", eval_set="validation")
    with pytest.raises(ConfigError, match="training images"):
        prune(tiny_model, Images((x_val, y_val), (x_te, y_te)), order, config, hooks=Hooks(progress=False))
    result = prune(tiny_model, Images((x_val, y_val), (x_te, y_te), (x_tr, y_tr)), order, config,
                   hooks=Hooks(progress=False))
    specs = prunable_layers(tiny_model)
    expected = importance.global_threshold_masks(getattr(importance, order)(tiny_model, specs, x_tr), 0.8)
    for s in specs:
        np.testing.assert_array_equal(result.masks[s.name], expected[s.name])
    assert result.summary["sparsity_global"] == pytest.approx(0.8, abs=1e-3) and result.summary["refit"] is True
