"""`evoprune experiment export --format ioh`: IOHprofiler's files, read back with iohinspector (no TensorFlow)."""
import csv
import json
import os
import shutil
from pathlib import Path

import iohinspector
import pytest

from evoprune.cli import main
from evoprune.experiments import export

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("layer,step,temperature,mutation_rate,cost,feasible,accuracy,loss,sparsity_layer_mean,sparsity_global,"
          "evaluations,seconds,event,images").split(",")
LAYERS = [{"name": "conv", "index": 0, "kernel_size": 150}, {"name": "fc", "index": 3, "kernel_size": 850}]


def make_run(out: Path, variant: str, algorithm: str, seed: int, rows, evaluations: int, problem=None,
             layers=LAYERS, under: str = "") -> Path:
    """A finished run as `experiment run` leaves it (in OUT/runs/[under/]), with only the fields the exporter reads.
    rows: (evaluations, feasible, global sparsity), or (evaluations, event) for a row without figures."""
    folder = out / "runs" / under / f"{variant}-seed{seed}"
    folder.mkdir(parents=True)
    with open(folder / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for row in rows:
            if len(row) == 2:
                w.writerow({"layer": "all", "evaluations": row[0], "event": row[1]})
            else:
                e, ok, s = row
                w.writerow({"layer": "all", "step": 0, "cost": 1 - s, "feasible": int(ok), "accuracy": 0.9,
                            "loss": 0.3, "sparsity_layer_mean": s, "sparsity_global": s, "evaluations": e})
    info = {"algorithm": algorithm, "config": {"budget": 20, "seed": seed},
            "plan": {"variant": variant, "algorithm": algorithm}, **({"problem": problem} if problem else {})}
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "summary.json").write_text(json.dumps({"algorithm": algorithm, "seed": seed, "evaluations": evaluations,
                                                     "budget": 20, "layers": layers}))
    return folder


# variant -> seed -> (history rows, evaluations in all, the records IOH must hold: (evaluations, best so far))
HAND = {
    "sa-fast": {
        0: ([(4, 1, 0.2), (5, 0, 0.5), (6, 1, 0.2), (7, 1, 0.3125), (8, "stall"), (9, 1, 0.25), (12, 1, 0.375)], 20,
            [(1, 0.0), (4, 0.2), (7, 0.3125), (12, 0.375), (20, 0.375)]),
        1: ([(4, 0, 0.9), (10, 0, 0.95), (20, 1, 0.1)], 20,            # infeasible until its last evaluation
            [(1, 0.0), (20, 0.1)]),
    },
    "ga-big": {
        0: ([(12, 1, 0.0), (22, 1, 0.0187), (32, 0, 0.5), (42, 1, 0.0187)], 42,
            [(1, 0.0), (22, 0.0187), (42, 0.0187)]),
        1: ([(2, 0, 0.8), (6, 0, 0.95)], 6,                            # one-shot, never feasible
            [(1, 0.0), (6, 0.0)]),
    },
}


@pytest.fixture
def hand_made(tmp_path) -> Path:
    out = tmp_path / "tiny"
    out.mkdir()
    (out / "experiment.json").write_text(json.dumps({"spec": {"variants": {"sa-fast": {}, "ga-big": {}}}}))
    for variant, seeds in HAND.items():
        for seed, (rows, evaluations, _) in seeds.items():
            make_run(out, variant, "sa" if variant.startswith("sa") else "ga", seed, rows, evaluations)
    return out


def read_back(folder) -> tuple[list[dict], dict]:
    """iohinspector's overview rows, and (algorithm, instance) -> [(evaluations, raw_y)] as written."""
    dm = iohinspector.DataManager()
    dm.add_folder(str(folder))
    data = dm.load(monotonic=False, include_meta_data=True)
    curves = {}
    for row in data.sort(["data_id", "evaluations"]).iter_rows(named=True):
        curves.setdefault((row["algorithm_name"], row["instance"]), []).append((row["evaluations"], row["raw_y"]))
    return dm.overview.to_dicts(), curves


def test_a_hand_made_experiment_round_trips_through_iohinspector(hand_made, capsys):
    assert main(["experiment", "export", str(hand_made), "--format", "ioh"]) == 0
    assert capsys.readouterr().out.startswith(f"4 runs (2 variants, 1 problem) -> {hand_made / 'ioh'}: 4 files")
    overview, curves = read_back(hand_made / "ioh")

    assert sorted((r["algorithm_name"], r["instance"]) for r in overview) == \
        [("ga-big", 0), ("ga-big", 1), ("sa-fast", 0), ("sa-fast", 1)]
    for r in overview:
        _, evaluations, records = HAND[r["algorithm_name"]][r["instance"]]
        assert (r["function_id"], r["function_name"], r["suite"]) == (1, "tiny", "evoprune")
        assert r["dimension"] == 1000  # the genome: every prunable weight of the run's layers
        assert r["algorithm_info"] == ("sa" if r["algorithm_name"] == "sa-fast" else "ga")
        assert r["evals"] == evaluations
        assert r["best_y"] == records[-1][1]
        assert curves[r["algorithm_name"], r["instance"]] == records  # exactly, at full precision

    # iohinspector's own best-so-far (maximising) keeps each improvement and drops the closing repeat
    dm = iohinspector.DataManager()
    dm.add_folder(str(hand_made / "ioh"))
    assert all(ds.function.maximization for ds in dm.data_sets)
    monotonic = dm.load(monotonic=True, include_meta_data=True).filter(algorithm_name="sa-fast", instance=0)
    assert list(zip(monotonic["evaluations"], monotonic["raw_y"])) == [(1, 0.0), (4, 0.2), (7, 0.3125), (12, 0.375)]


def test_the_files_are_those_ioh_writes(hand_made):
    done = export.export(str(hand_made), "ioh")
    folder = Path(done.folder) / "sa-fast"
    index = json.loads((folder / "IOHprofiler_f1_tiny.json").read_text())
    assert index["maximization"] is True and index["attributes"] == ["evaluations", "raw_y"]
    assert [(r["instance"], r["seed"], r["evals"], r["best"]["evals"], r["best"]["y"])
            for r in index["scenarios"][0]["runs"]] == [(0, 0, 20, 12, 0.375), (1, 1, 20, 20, 0.1)]
    dat = (folder / "data_f1_tiny" / "IOHprofiler_f1_DIM1000.dat").read_text().splitlines()
    assert dat == ["evaluations raw_y", "1 0.0", "4 0.2", "7 0.3125", "12 0.375", "20 0.375",
                   "evaluations raw_y", "1 0.0", "20 0.1"]


def test_problems_come_from_run_json_or_a_benchmark(tmp_path):
    out = tmp_path / "several"  # OUT/runs/<folder>/<run>/, each run.json naming its problem
    for under, problem, seed in (("m", "lenet-mnist", 0), ("f", "lenet-fashion", 0), ("f", "lenet-fashion", 1)):
        make_run(out, "sa", "sa", seed, [(4, 1, 0.5)], 10, problem=problem, under=under,
                 layers=[{"kernel_size": 100 if problem == "lenet-mnist" else 300}])
    bench = tmp_path / "bench"  # a benchmark: OUT/benchmark.json, OUT/problems/<name>/ each an experiment
    (bench / "problems").mkdir(parents=True)
    (bench / "benchmark.json").write_text(json.dumps({"problems": ["mnist", "fashion"]}))
    for problem in ("fashion", "mnist"):
        make_run(bench / "problems" / problem, "hc", "hc", 3, [(5, 1, 0.25)], 10)
    make_run(bench / "problems" / "mnist", "hc", "hc", 70000, [(5, 1, 0.5)], 10)  # beyond IOH's 16-bit instances

    for folder, expected in ((out, {"lenet-fashion": (1, 300), "lenet-mnist": (2, 100)}),  # by name
                             (bench, {"mnist": (1, 1000), "fashion": (2, 1000)})):
        export.export(str(folder))
        overview, _ = read_back(folder / "ioh")
        assert {r["function_name"]: (r["function_id"], r["dimension"]) for r in overview} == expected
    # a seed IOH cannot hold as an instance: every run numbered 1.. instead, its seed kept as the run attribute
    assert sorted((r["function_name"], r["instance"]) for r in overview) == [("fashion", 1), ("mnist", 1),
                                                                              ("mnist", 2)]
    runs = json.loads((bench / "ioh" / "hc" / "IOHprofiler_f1_mnist.json").read_text())["scenarios"][0]["runs"]
    assert [r["seed"] for r in runs] == [3, 70000]


def test_a_committed_experiment_round_trips(tmp_path):
    source = ROOT / "results" / "certified-fashion"
    out = tmp_path / "certified-fashion"
    out.mkdir()
    shutil.copy(source / "experiment.json", out)
    for run in sorted((source / "runs").iterdir()):
        (out / "runs" / run.name).mkdir(parents=True)
        for name in ("history.csv", "run.json", "summary.json"):
            shutil.copy(run / name, out / "runs" / run.name)

    assert main(["experiment", "export", str(out), "--to", str(tmp_path / "ioh")]) == 0
    overview, curves = read_back(tmp_path / "ioh")
    assert len(overview) == 50
    seeds = {}
    for r in overview:
        seeds.setdefault(r["algorithm_name"], []).append(r["instance"])
    assert {v: sorted(s) for v, s in seeds.items()} == {v: list(range(10)) for v in
                                                        ("sa", "ga", "hc", "obs-refit", "magnitude")}
    for r in overview:
        folder = out / "runs" / f"{r['algorithm_name']}-seed{r['instance']}"
        summary = json.loads((folder / "summary.json").read_text())
        with open(folder / "history.csv") as f:
            rows = list(csv.DictReader(f))
        best, expected = 0.0, [(1, 0.0)]
        for row in rows:  # the sparsest feasible mask so far, straight from the history
            if row["feasible"] == "1" and float(row["sparsity_global"]) > best:
                best = float(row["sparsity_global"])
                expected.append((int(row["evaluations"]), best))
        expected += [(summary["evaluations"], best)] if summary["evaluations"] > expected[-1][0] else []
        assert (r["dimension"], r["evals"], r["best_y"]) == (61470, summary["evaluations"], best)
        assert curves[r["algorithm_name"], r["instance"]] == expected
    by = {(r["algorithm_name"], r["instance"]): r for r in overview}
    assert by["ga", 0]["best_y"] == 0.4065560436 and by["ga", 0]["evals"] == 1000
    assert (by["obs-refit", 0]["best_y"], by["obs-refit", 0]["evals"]) == (0.0, 6)  # its one-shot masks miss the floor


def test_refusals_are_one_line_and_exit_2(hand_made, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    for args, says in ((["--format", "coco"], "--format 'coco': the formats are ioh"),
                       (["--to", str(foreign)], "that folder holds other files (todo.txt)")):
        assert main(["experiment", "export", str(hand_made), *args]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1
    assert main(["experiment", "export", str(empty)]) == 2
    assert "no finished runs to export" in capsys.readouterr().err
    assert (foreign / "todo.txt").read_text() == "keep me"

    # an earlier export is replaced, never merged: a variant gone from OUT is gone from the export
    assert main(["experiment", "export", str(hand_made)]) == 0
    shutil.rmtree(hand_made / "runs" / "ga-big-seed0")
    shutil.rmtree(hand_made / "runs" / "ga-big-seed1")
    (hand_made / "runs" / "ga-big-seed2").mkdir()
    (hand_made / "runs" / "ga-big-seed2" / "history.csv").write_text(",".join(FIELDS) + "\n")  # not finished
    assert main(["experiment", "export", str(hand_made)]) == 0
    assert "2 runs (1 variant, 1 problem)" in capsys.readouterr().out.splitlines()[-1]
    assert sorted(os.listdir(hand_made / "ioh")) == ["sa-fast"]
