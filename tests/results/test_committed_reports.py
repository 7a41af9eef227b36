"""Every committed report under results/ is what today's code writes from the folder's files, byte for byte.

A folder made by `evoprune experiment run` (experiment.json) or `evoprune compare` (compare.json) has its summary.md
and summary.csv redrawn (`evoprune experiment report`, `evoprune plot`) from a copy of the files the report reads,
in a temporary folder: no TensorFlow, no search, no figures. A change to the report's wording, or to a run file,
shows here until the folder is redrawn and committed with it.
"""
import json
import shutil
from pathlib import Path

import pytest

from evoprune.experiments.report import tables

RESULTS = Path(__file__).resolve().parents[2] / "results"
MANIFESTS = ("experiment.json", "compare.json")
FOLDERS = sorted(p.parent for p in RESULTS.glob("*/summary.md") if any((p.parent / m).exists() for m in MANIFESTS))
RUN_FILES = ("summary.json", "run.json")  # what the tables read of a run (history.csv feeds the figures alone)


def copy_inputs(folder: Path, to: Path) -> Path:
    """The files summary.md and summary.csv are made from: the manifest, the spec, each run's summary and record."""
    to.mkdir()
    for name in (*MANIFESTS, "spec.toml"):
        if (folder / name).exists():
            shutil.copy(folder / name, to / name)
    for run in sorted((folder / "runs").iterdir()):
        for name in RUN_FILES:
            if (run / name).exists():
                (to / "runs" / run.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(run / name, to / "runs" / run.name / name)
    return to


def test_every_committed_report_is_checked():
    assert len(FOLDERS) >= 15 and {"certified-mnist5k", "study-mnist5k"} <= {f.name for f in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_the_committed_summary_is_what_its_files_give(folder, tmp_path):
    copy = copy_inputs(folder, tmp_path / folder.name)
    tables(str(copy))
    for name in ("summary.md", "summary.csv"):
        assert (copy / name).read_bytes() == (folder / name).read_bytes(), (
            f"results/{folder.name}/{name} is not what today's code writes from its files: redraw it "
            f"(`evoprune {'experiment report' if (folder / 'experiment.json').exists() else 'plot'} "
            f"results/{folder.name}`) and commit the result")


@pytest.mark.parametrize("change, changed", [(0.005, ("summary.md", "summary.csv")), (1e-9, ("summary.csv",))])
def test_a_changed_run_file_changes_the_report(tmp_path, change, changed):
    """The comparison above can fail: one run's test accuracy lowered by half a point changes both files; by a
    billionth, beyond summary.md's digits, summary.csv (full precision) still shows it."""
    folder = RESULTS / "certified-mnist5k"
    copy = copy_inputs(folder, tmp_path / folder.name)
    path = copy / "runs" / "sa-seed0" / "summary.json"
    summary = json.loads(path.read_text())
    summary["final_accuracy"] -= change
    path.write_text(json.dumps(summary))
    tables(str(copy))
    for name in ("summary.md", "summary.csv"):
        assert ((copy / name).read_bytes() != (folder / name).read_bytes()) == (name in changed), name


BENCHMARKS = sorted(p.parent for p in RESULTS.glob("*/benchmark.json"))


def copy_benchmark(folder: Path, to: Path) -> Path:
    """What a benchmark's report reads: its manifest and spec, and per problem what an experiment's report reads
    plus each run's history.csv (the anytime analysis)."""
    to.mkdir()
    for name in ("benchmark.json", "spec.toml"):
        shutil.copy(folder / name, to / name)
    (to / "problems").mkdir()
    for problem in sorted((folder / "problems").iterdir()):
        copy = copy_inputs(problem, to / "problems" / problem.name)
        for run in sorted((problem / "runs").iterdir()):
            shutil.copy(run / "history.csv", copy / "runs" / run.name / "history.csv")
    return to


def test_a_benchmark_is_committed():
    assert {f.name for f in BENCHMARKS} >= {"benchmark-small"}


@pytest.mark.parametrize("folder", BENCHMARKS, ids=lambda f: f.name)
def test_the_committed_benchmark_summary_is_what_its_files_give(folder, tmp_path):
    from evoprune.experiments import benchmark

    copy = copy_benchmark(folder, tmp_path / folder.name)
    benchmark.report(str(copy))
    written = [copy / "summary.md", *sorted(copy.glob("problems/*/summary.md"))]
    assert len(written) == 1 + len(list((folder / "problems").iterdir()))
    for path in written:
        relative = path.relative_to(copy)
        assert path.read_bytes() == (folder / relative).read_bytes(), (
            f"results/{folder.name}/{relative} is not what today's code writes from its files: redraw it "
            f"(`evoprune experiment report results/{folder.name}`) and commit the result")
