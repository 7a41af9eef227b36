"""Reports: statistics over seeds, the verdict first, `evoprune plot` without TensorFlow, settings, compare end to end."""
import csv
import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from conftest import HOW, run_evoprune
from evoprune.search import HISTORY_FIELDS
from evoprune.errors import ConfigError
from evoprune.results import aggregate

LAYERS = (("conv1", 150), ("fc1", 1000))

# Fake runs: (algorithm, seed) -> (final accuracy, layer-mean sparsity, seconds, weights kept per layer).
FAKE = {
    ("sa", 0): (0.90, 0.50, 10.0, (100, 400)),
    ("sa", 1): (0.80, 0.60, 12.0, (90, 300)),
    ("sa", 2): (0.85, 0.40, 14.0, (110, 500)),
    ("ga", 0): (0.92, 0.30, 20.0, (140, 700)),
    ("ga", 1): (0.88, 0.34, 22.0, (130, 660)),
}
BASELINE_ACC = 0.96


def write_fake_run(out, algorithm, seed):
    acc, sparsity, seconds, kept = FAKE[algorithm, seed]
    folder = out / "runs" / f"{algorithm}-seed{seed}"
    folder.mkdir(parents=True)
    layers = [{"name": n, "index": i, "kernel_size": size, "weights_kept": k, "sparsity": 1 - k / size,
               "feasible_found": True, "evaluations": 50, "search_accuracy": acc, "search_loss": 0.5,
               "accuracy": acc + 0.01 * (len(LAYERS) - i - 1), "loss": 0.1 * (i + 1) + seed / 100}
              for i, ((n, size), k) in enumerate(zip(LAYERS, kept))]
    summary = {"algorithm": algorithm, "seed": seed, "eval_set": "validation",
               "baseline_accuracy": BASELINE_ACC, "baseline_loss": 0.12, "final_accuracy": acc,
               "final_loss": 1.0 - acc, "sparsity_layer_mean": sparsity,
               "sparsity_global": 1 - sum(kept) / sum(s for _, s in LAYERS),
               "trade_off": sparsity * acc / BASELINE_ACC, "evaluations": 100, "budget": 100,
               "seconds": seconds, "evaluations_per_second": 100 / seconds, "seconds_per_evaluation": seconds / 100,
               "images_per_evaluation": 200, "peak_memory_mib": 900 + seed, "layers": layers}
    (folder / "summary.json").write_text(json.dumps(summary))
    config = {"budget": 100, "seed": seed, "population": 6 if algorithm == "ga" else 12}
    info = {"algorithm": algorithm, "config": config, "model": "/models/lenet/model.keras", "preset": None,
            "data": {"name": "mnist", "source": "/data/mnist.npz", "split": {"seed": 0, "val_fraction": 0.2},
                     "sizes": {"train": 800, "validation": 200, "test": 500}, "search_set": "validation"},
            "command": "evoprune compare --algorithms sa,ga --seeds 3 --out OUT"}
    (folder / "run.json").write_text(json.dumps(info))
    with open(folder / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        w.writeheader()
        for step, (name, _) in enumerate(LAYERS):
            row = dict.fromkeys(HISTORY_FIELDS, "")
            w.writerow({**row, "layer": name, "step": step, "cost": 1e8 + 3, "feasible": 0, "accuracy": 0.5,
                        "loss": 2.0, "sparsity_layer_mean": 0.1, "evaluations": 10 * step + 1})
            w.writerow({**row, "layer": name, "step": step + 1, "cost": 4.0 - step - seed / 10, "feasible": 1,
                        "accuracy": acc, "loss": 0.3, "sparsity_layer_mean": sparsity,
                        "sparsity_global": summary["sparsity_global"] * (step + 1) / len(LAYERS),
                        "evaluations": 10 * step + 2})
            w.writerow({**row, "layer": name, "step": step + 1, "evaluations": 10 * step + 2, "event": "note"})


@pytest.fixture
def fake_compare(tmp_path):
    out = tmp_path / "cmp"
    for algorithm, seed in FAKE:
        write_fake_run(out, algorithm, seed)
    (out / "compare.json").write_text(json.dumps({"algorithms": ["sa", "ga"], "seeds": 3}))
    return out


def read_csv(path):
    with open(path, newline="") as f:
        return {row["metric"]: row for row in csv.DictReader(f)}


def test_aggregation_against_hand_computed_values(fake_compare):
    runs = aggregate.load_runs(str(fake_compare))
    assert [(r.variant, r.seed) for r in runs] == [("sa", 0), ("sa", 1), ("sa", 2), ("ga", 0), ("ga", 1)]
    table = aggregate.summary_table(runs)
    sa, ga = table["final_accuracy"]["sa"], table["final_accuracy"]["ga"]
    assert (sa.mean, sa.std, sa.n) == pytest.approx((0.85, 0.05, 3))  # sample std: sqrt((.05² + .05² + 0) / 2)
    assert (sa.median, sa.q1, sa.q3) == pytest.approx((0.85, 0.825, 0.875))
    assert (ga.mean, ga.std, ga.n) == pytest.approx((0.90, 0.02 * math.sqrt(2), 2))
    assert table["worst_test_drop"]["sa"].mean == pytest.approx(0.96 - 0.80)
    assert table["test_drop"]["ga"].mean == pytest.approx(0.96 - 0.90)
    assert math.isnan(table["worst_test_drop"]["sa"].std)
    assert table["seconds"]["sa"].mean == pytest.approx(12.0) and table["seconds"]["sa"].std == pytest.approx(2.0)
    layers = aggregate.layer_table(runs)
    kept = layers["fc1"]["weights_kept"]["sa"]
    assert (kept.mean, kept.std) == pytest.approx((400.0, 100.0))
    assert layers["conv1"]["kernel_size"]["ga"].mean == 150
    one = aggregate.stat([0.7])
    assert one.mean == 0.7 and math.isnan(one.std) and one.n == 1


@pytest.mark.slow  # a new interpreter, to see that TensorFlow is not imported
def test_plot_regenerates_the_same_tables_without_tensorflow(fake_compare):
    code = ("import sys; from evoprune.cli import main; rc = main(['plot', sys.argv[1]]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'; "
            "sys.exit(rc)")

    def plot():
        p = subprocess.run([sys.executable, "-c", code, str(fake_compare)], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return {name: (fake_compare / name).read_bytes() for name in ("summary.md", "summary.csv")}

    first = plot()
    for name in ("anytime.png", "tradeoff.png", "layers.png"):
        assert (fake_compare / name).stat().st_size > 10_000
        (fake_compare / name).unlink()
    (fake_compare / "summary.md").unlink()
    assert plot() == first
    assert all((fake_compare / n).exists() for n in ("anytime.png", "tradeoff.png", "layers.png"))

    md = first["summary.md"].decode()
    assert md.startswith("# Pruning experiment: sa, ga\n\nsa pruned ")
    assert "\n\n## Verdict\n\n" in md and "- No difference detected between sa and ga in global sparsity: " in md
    assert "| Test accuracy (%) | 85.00 ± 5.00 | 90.00 ± 2.83 |" in md
    assert "| Worst seed's test drop (points) | 16.00 | 8.00 |" in md
    assert "| fc1 | 1000 | sa | 400 ± 100 |" in md
    assert "sample standard deviation (ddof = 1)" in md
    for text in ("mnist from `/data/mnist.npz`", "`/models/lenet/model.keras`", "**Budget**: 100 evaluations per run",
                 "**search set**: validation", "**ga**: algorithm ga, population=6", "`evoprune compare --algorithms sa,ga"):
        assert text in md


def test_the_summary_opens_with_the_headline_in_plain_words(fake_compare):
    runs = aggregate.load_runs(str(fake_compare))
    # sa: sparsity 1 - kept / 1150 for kept 500, 390, 610 -> mean 1 - 500 / 1150 = 56.52 %; drops 6, 16, 11 points
    # ga: kept 840, 790 -> mean 1 - 815 / 1150 = 29.13 %; drops 4, 8 points
    assert aggregate.headline(str(fake_compare), runs) == [
        "sa pruned 56.52 % of the model's prunable weights (global sparsity) for a mean test-accuracy drop of "
        "11.00 points (worst seed 16.00) on 500 MNIST test images no search saw; ga pruned 29.13 % for a drop of "
        "6.00 points (worst seed 8.00). Means over 3 seeds (sa), 2 seeds (ga); the unpruned model scores 96.00 % "
        "on them."]
    manifest = {"algorithms": ["sa", "ga"], "baseline": {"model": "lenet5"}}
    (fake_compare / "compare.json").write_text(json.dumps(manifest))
    for r in runs:  # a gain, images the search decided on, certified answers
        r.summary.update(final_accuracy=0.965, certified={"delta": 0.005, "confidence": 0.95, "images": 2000})
        r.info["data"]["search_set"] = "test"
    assert aggregate.headline(str(fake_compare), runs) == [
        "sa pruned 56.52 % of LeNet-5's prunable weights (global sparsity, certified) for a mean test-accuracy gain "
        "of 0.50 point (worst seed -0.50) on 500 MNIST test images the searches themselves decided on (none held "
        "out); ga pruned 29.13 % for a gain of 0.50 point (worst seed -0.50). Means over 3 seeds (sa), 2 seeds (ga); "
        "the unpruned model scores 96.00 % on them. Certified: each answer's drop was shown to be at most 0.5 point "
        "(95 % confidence) on 2,000 other images set aside for that."]


def test_the_protocol_keeps_removed_settings_and_the_tables_skip_figures_no_run_recorded(fake_compare):
    for path in (fake_compare / "runs").glob("*/run.json"):
        info = json.loads(path.read_text())
        # a setting removed since: shown at the value that made the run different, not at the one kept
        info["config"].update(refit_folds=5 if info["algorithm"] == "sa" else 1, calibration="images")
        path.write_text(json.dumps(info))
    for path in (fake_compare / "runs").glob("*/summary.json"):
        summary = json.loads(path.read_text())
        del summary["peak_memory_mib"]  # as runs from before it was recorded
        path.write_text(json.dumps(summary))
    runs = aggregate.load_runs(str(fake_compare))
    md = aggregate.markdown(str(fake_compare), runs)
    assert "- **sa**: algorithm sa, population=12, refit_folds=5" in md  # in the order run.json has them
    assert "- **ga**: algorithm ga, population=6" in md and "calibration" not in md
    assert "Peak memory" not in md and "Search time (s)" in md


def test_seeds_on_one_point_share_a_label():
    from evoprune.results.plots import _seeds

    assert [_seeds(s) for s in ([3], [4, 0], [2, 0, 1], [0, 1, 3])] == ["3", "0, 4", "0–2", "0, 1, 3"]


def test_summary_agrees_with_the_run_files(fake_compare):
    from evoprune.experiments.report import report

    report(str(fake_compare))
    rows = read_csv(fake_compare / "summary.csv")
    summaries = {}
    for path in (fake_compare / "runs").glob("*/summary.json"):
        s = json.loads(path.read_text())
        summaries.setdefault(s["algorithm"], []).append(s)
    assert not any(m.key in rows for m in aggregate.METRICS if m.certified)  # no run was certified
    for m in (m for m in aggregate.METRICS if not m.certified):
        for algorithm, ss in summaries.items():
            values = [aggregate.value(s, m.field) for s in ss]
            row = rows[m.key]
            assert float(row[f"{algorithm}_mean"]) == pytest.approx(max(values) if m.worst else np.mean(values))
            assert int(row[f"{algorithm}_n"]) == len(values)
            if not m.worst:
                assert float(row[f"{algorithm}_std"]) == pytest.approx(np.std(values, ddof=1))
    for algorithm, ss in summaries.items():
        for name, _ in LAYERS:
            acc = [next(x["accuracy"] for x in s["layers"] if x["name"] == name) for s in ss]
            assert float(rows[f"layer.{name}.accuracy"][f"{algorithm}_mean"]) == pytest.approx(np.mean(acc))


def test_settings_per_algorithm():
    from evoprune.algorithms import make_algorithm
    from evoprune.experiments.settings import parse_settings
    from evoprune.search.config import SearchConfig, with_settings

    s = parse_settings(["ga.population=20", "sa.t0=0.5", "stall-limit=7", "sa.relative_threshold=true",
                        "magnitude.sparsity=0.6"], ["sa", "ga", "magnitude"])
    assert s == {"sa": {"t0": 0.5, "stall_limit": 7, "relative_threshold": True},
                 "ga": {"population": 20, "stall_limit": 7}, "magnitude": {"sparsity": 0.6, "stall_limit": 7}}
    configs = {a: with_settings(SearchConfig(budget=500), **settings) for a, settings in s.items()}
    algos = {a: make_algorithm(a, c) for a, c in configs.items()}
    assert algos["magnitude"].settings.sparsity == 0.6 and algos["sa"].settings.t0 == 0.5
    assert algos["ga"].settings.population == 20 and configs["ga"].budget == 500 and configs["ga"].stall_limit == 7
    bad = {"magnitude.warp=0.6": "no search setting 'warp'", "ga.population=2.5": "type int",
           "tabu.t0=1": "not among the algorithms", "ga.seed=3": "--seeds", "population": "KEY=VALUE",
           "ga.t0=1": "no setting 't0' in ga", "sparsity=0.3": None}
    for item, words in bad.items():
        if words is None:  # a setting of one of the algorithms: fine for all, the others ignore it
            parse_settings([item], ["sa", "ga", "magnitude"])
            continue
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            parse_settings([item], ["sa", "ga", "magnitude"])
    with pytest.raises(ConfigError, match="no setting 't0' in ga"):
        parse_settings(["t0=1"], ["ga"])


@pytest.mark.parametrize("how", HOW)
def test_cli_refuses_bad_settings_in_one_line(tmp_path, how):
    def run(*args):
        return run_evoprune(["compare", *args], how, timeout=120)

    p = run("--algorithms", "sa,ga", "--seeds", "2", "--out", str(tmp_path / "o"), "--set", "ga.warp=1")
    assert p.returncode == 2 and "no search setting 'warp'" in p.stderr and len(p.stderr.splitlines()) == 1
    p = run("--algorithms", "sa", "--seeds", "2", "--out", str(tmp_path / "o"), "--model", "m.keras", "--epochs", "3")
    assert p.returncode == 2 and "--epochs" in p.stderr and "--model" in p.stderr
    p = run("--algorithms", "sa,sa", "--seeds", "2", "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "once" in p.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def quick_lenet(tmp_path_factory, mnist_path):
    """LeNet-5 trained for a few seconds on 1000 images (~90 % accuracy), with the baseline.json `compare` reads."""
    from evoprune.experiments.baselines import train_baseline
    from evoprune.problem.data import Split, prepare
    from evoprune.network.models import TrainConfig

    d = prepare("mnist", mnist_path, Split(0, 0.2))
    d = replace(d, x_train=d.x_train[:1000], y_train=d.y_train[:1000])
    out = tmp_path_factory.mktemp("lenet")
    config = TrainConfig(epochs=10, optimizer="adam", learning_rate=0.005, batch_size=16)
    train_baseline(d, config, str(out), progress=False)
    return str(out / "model.keras")


@pytest.mark.slow
def test_compare_end_to_end_reuses_and_refuses_to_mix(tmp_path, quick_lenet, capsys):
    from evoprune.cli import main

    out = tmp_path / "cmp"
    args = ["compare", "--algorithms", "sa,ga", "--seeds", "2", "--model", quick_lenet, "--budget", "60",
            "--set", "sa.budget=30", "--set", "ga.population=6", "--set", "ga.elite=1", "--set", "ga.tournament=3",
            "--set", "importance=none",  # importance scores cost seconds per run; not what this test is about
            "--out", str(out), "--no-progress", "--parallel", "1"]
    assert main(args) == 0
    names = ["sa-seed0", "sa-seed1", "ga-seed0", "ga-seed1"]
    for name in names:
        for f in ("history.csv", "summary.json", "run.json", "masks.npz", "pruned.keras"):
            assert (out / "runs" / name / f).exists()
    for f in ("summary.md", "summary.csv", "anytime.png", "tradeoff.png", "layers.png", "spec.toml", "experiment.json"):
        assert (out / f).exists()
    summaries = {n: json.loads((out / "runs" / n / "summary.json").read_text()) for n in names}
    assert [s["evaluations"] <= s["budget"] for s in summaries.values()] == [True] * 4
    assert {n: s["budget"] for n, s in summaries.items()} == {"sa-seed0": 30, "sa-seed1": 30, "ga-seed0": 60,
                                                             "ga-seed1": 60}
    assert summaries["sa-seed0"]["seed"] == 0 and summaries["ga-seed1"]["seed"] == 1
    rows = read_csv(out / "summary.csv")
    for algorithm in ("sa", "ga"):
        accs = [summaries[f"{algorithm}-seed{k}"]["final_accuracy"] for k in (0, 1)]
        assert float(rows["final_accuracy"][f"{algorithm}_mean"]) == pytest.approx(np.mean(accs))
        assert float(rows["final_accuracy"][f"{algorithm}_std"]) == pytest.approx(np.std(accs, ddof=1))
    md = (out / "summary.md").read_text()
    assert "- **Command**: `evoprune compare --algorithms sa,ga" in md and "sa: 30, ga: 60 evaluations per run" in md

    # Again: every run reused, and said so; other algorithms or settings for the same folder are refused.
    stamps = {n: (out / "runs" / n / "summary.json").stat().st_mtime_ns for n in names}
    capsys.readouterr()
    assert main(args) == 0
    assert "4 reused, 0 resumed, 0 started" in capsys.readouterr().out
    assert stamps == {n: (out / "runs" / n / "summary.json").stat().st_mtime_ns for n in names}
    other_algorithms = ["compare", "--algorithms", "sa,magnitude", "--seeds", "2", "--model", quick_lenet,
                        "--budget", "60", "--out", str(out), "--no-progress"]
    for changed in ([a.replace("sa.budget=30", "sa.budget=40") for a in args], other_algorithms):
        assert main(changed) == 2
        assert "another spec" in capsys.readouterr().err
    assert sorted(os.listdir(out / "runs")) == sorted(names)  # nothing mixed in


def test_a_certified_run_is_read_for_its_promise_and_the_search_s_own_figures():
    c = {"delta": 0.005, "test_drop_standard_error": 0.002, "bound": 0.004}
    base = {"baseline_accuracy": 0.96, "search": {"sparsity_global": 0.6}, "certified": c}
    kept = {**base, "final_accuracy": 0.96 - 0.008}   # 0.8 point: within δ + 1.645 SE = 0.83 point
    broken = {**base, "final_accuracy": 0.96 - 0.009}  # 0.9 point: beyond it
    assert aggregate.value(kept, "over_promise") == 0.0 and aggregate.value(broken, "over_promise") == 1.0
    assert aggregate.value(kept, "search.sparsity_global") == 0.6
    assert aggregate.value(kept, "certified.bound") == 0.004
    assert np.isnan(aggregate.value({"baseline_accuracy": 0.9, "final_accuracy": 0.9}, "over_promise"))
