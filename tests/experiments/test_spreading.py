"""`compare` and `experiment run` spread runs over every core by default, under a flag of their own (--parallel),
and say how long the rest will take as runs finish."""
import pytest

from evoprune.cli import main
from evoprune.experiments import experiment
from evoprune.experiments.experiment import remaining


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('seeds = 2\nbudget = 10\n[variants.sa]\nalgorithm = "sa"\n')
    return path


def test_runs_go_one_per_core_by_default_and_parallel_says_how_many(spec, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(experiment, "run", lambda spec, out, **kw: seen.append(kw["parallel"]) or experiment.Outcome())
    monkeypatch.setattr("evoprune.executors.worker.cores", lambda: 6)
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "b"), "--parallel", "3"]) == 0
    assert seen == [6, 3]


def test_workers_on_an_experiment_is_refused_pointing_to_parallel(spec, tmp_path, capsys):
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "a"), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers counts evaluation processes within one run" in err and "--parallel 2" in err
    assert main(["experiment", "run", str(spec), "--out", str(tmp_path / "a"), "--parallel", "0"]) == 2
    assert not (tmp_path / "a").exists()


def test_the_time_left_is_the_evaluations_left_at_the_pace_so_far():
    assert remaining(60.0, 100, 1000) == ", about 9 min left"  # 900 evaluations at 100 a minute
    assert remaining(10.0, 100, 200) == ", about 10 s left"
    assert remaining(10.0, 200, 200) == ""  # nothing left
    assert remaining(0.0, 0, 200) == ""  # no pace yet
