"""Benchmarks: a spec's problems (its own [problems.NAME] tables or a built-in suite), each run as an experiment,
then a report across them; bad problems refused in one line before any training."""
import os

import pytest

from conftest import HOW, run_evoprune
from evoprune.experiments.spec import DEFAULT_TARGETS, parse
from evoprune.suites import SUITES

VARIANTS = '[variants.sa]\nalgorithm = "sa"\n[variants.hc]\nalgorithm = "hc"\n'


def test_the_small_suite_has_problems_that_differ_with_increasing_target_ladders():
    spec = parse({"suite": "small", "variants": {"sa": {"algorithm": "sa"}}})
    names = [p.name for p in spec.problems]
    assert len(names) >= 4 and names == list(SUITES["small"])
    architectures = {p.model["train"]["architecture"] for p in spec.problems}
    assert {"lenet5", "lenet300", "bnconv"} <= architectures
    assert {p.data["dataset"] for p in spec.problems} == {"mnist", "fashion_mnist"}
    assert any(p.settings.get("delta", 0.005) < 0.005 for p in spec.problems)  # a tighter δ
    for p in spec.problems:
        assert all(b > a for a, b in zip(p.targets, p.targets[1:])) and 0 < p.targets[0] and p.targets[-1] < 1
        sub = spec.for_problem(p)
        assert not sub.problems and sub.data == p.data and sub.config(sub.variants[0], 0).delta == \
            p.settings.get("delta", 0.005)


def test_a_problem_without_targets_gets_the_default_ladder_and_a_single_problem_spec_keeps_its_record():
    spec = parse({"problems": {"a": {"data": {"dataset": "mnist"}}}, "variants": {"sa": {"algorithm": "sa"}}})
    assert spec.problems[0].targets == DEFAULT_TARGETS and "problems" in spec.to_dict()
    plain = parse({"data": {"dataset": "mnist"}, "variants": {"sa": {"algorithm": "sa"}}})
    assert "problems" not in plain.to_dict()  # the digest of every spec made before benchmarks is unchanged


BAD = {
    "an unknown suite": ('suite = "huge"\n', "unknown suite 'huge' (suites: small)"),
    "a problem without data": ('[problems.a]\nmodel.train.epochs = 1\n', "[problems.a] has no data"),
    "a ladder that is not increasing": ('[problems.a]\ndata.dataset = "mnist"\ntargets = [0.5, 0.4]\n',
                                        "[problems.a] targets must be a strictly increasing list"),
    "a target out of range": ('[problems.a]\ndata.dataset = "mnist"\ntargets = [0.5, 1.2]\n',
                              "[problems.a] targets must be a strictly increasing list"),
    "an unknown problem key": ('[problems.a]\ndata.dataset = "mnist"\ndelta = 0.01\n', "unknown key 'delta'"),
    "a problem whose data cannot be read": ('[problems.a]\ndata.dataset = "mnist"\n[problems.b]\n'
                                            'data.path = "/no/such/data.npz"\n', "problem b: "),
    "a problem and a top-level model": ('[model.train]\nepochs = 1\n[problems.a]\ndata.dataset = "mnist"\n',
                                        "names each problem's data and model in its [problems.NAME] table"),
}


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_problem_is_refused_in_one_line_before_any_training(tmp_path, case, how, mnist_path):
    text, message = BAD[case]
    spec = tmp_path / "spec.toml"
    spec.write_text("seeds = 1\nbudget = 10\n" + text + VARIANTS)
    out = tmp_path / "out"
    p = run_evoprune(["experiment", "run", str(spec), "--out", str(out), "--no-progress"], how,
                     env={**os.environ, "EVOPRUNE_DATA": mnist_path, "EVOPRUNE_BASELINES": str(tmp_path / "cache")})
    assert p.returncode == 2 and message in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cache").exists()  # nothing made, nothing trained


@pytest.mark.slow
def test_a_two_problem_benchmark_runs_end_to_end_and_its_report_redraws(tiny_model, mnist_path, tmp_path):
    from evoprune.cli import main

    tiny_model.save(tmp_path / "model.keras")
    problem = f'data.path = "{mnist_path}"\nmodel.path = "{tmp_path / "model.keras"}"\n'
    (tmp_path / "spec.toml").write_text(
        'title = "two problems"\nseeds = 2\nbudget = 16\n'
        f'[problems.wide]\n{problem}targets = [0.1, 0.3, 0.5]\n'
        f'[problems.tight]\n{problem}settings.delta = 0.0025\ntargets = [0.1, 0.2]\n'
        '[variants.sa]\nalgorithm = "sa"\n[variants.hc]\nalgorithm = "hc"\n'
        '[variants.one-plus-one]\nalgorithm = "one-plus-one"\n')
    out = tmp_path / "out"
    assert main(["experiment", "run", str(tmp_path / "spec.toml"), "--out", str(out), "--parallel", "1",
                 "--no-progress"]) == 0
    for name in ("wide", "tight"):
        runs = sorted(os.listdir(out / "problems" / name / "runs"))
        assert runs == sorted(f"{v}-seed{s}" for v in ("sa", "hc", "one-plus-one") for s in (0, 1))
        assert (out / "problems" / name / "summary.md").exists()
    tight = (out / "problems" / "tight" / "runs" / "sa-seed0" / "run.json").read_text()
    assert '"delta": 0.0025' in tight  # the problem's own settings reached its runs
    summary = (out / "summary.md").read_text()
    for part in ("# two problems", "## Anytime", "Area under the ECDF", "Expected running time",
                 "Ranks across problems", "### wide", "### tight", "Each problem's verdict"):
        assert part in summary, part
    assert (out / "ecdf.png").stat().st_size > 0
    before = summary
    (out / "summary.md").unlink()
    assert main(["experiment", "report", str(out)]) == 0
    assert (out / "summary.md").read_text() == before  # redrawn from the files alone, byte for byte
    assert main(["experiment", "run", str(tmp_path / "spec.toml"), "--out", str(out), "--parallel", "1",
                 "--no-progress"]) == 0  # the same spec again: every run reused
