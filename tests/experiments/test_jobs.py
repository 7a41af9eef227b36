"""Runs as jobs: which recorded runs count as the same run, so an experiment reuses them."""
import json
from dataclasses import replace
from pathlib import Path

import pytest

from evoprune.errors import ConfigError
from evoprune.experiments import spec as specs
from evoprune.experiments.jobs import Job, differences, not_reused, plan, same_plan, status
from evoprune.experiments.spec import Variant
from evoprune.search.config import SearchConfig


def a_plan(**settings) -> dict:
    config = {**SearchConfig().shared(), "t0": 0.002, **settings}
    return {"variant": "sa", "algorithm": "sa", "config": config, "operators": {}, "model": {"digest": "m"},
            "data": {"sizes": [4, 1, 10]}}


def test_a_run_recorded_before_a_shared_setting_existed_is_the_same_run_at_that_setting_s_default():
    plan = a_plan()
    before = {**plan, "config": {k: v for k, v in plan["config"].items() if k != "start_refine"}}
    assert same_plan(plan, plan) and same_plan(before, plan)
    assert not same_plan(before, a_plan(start_refine=2))  # the new setting away from its default
    assert not same_plan(before, a_plan(budget=7))                      # a setting the run did record, changed
    assert not same_plan({**before, "model": {"sha256": "other"}}, plan)
    assert not same_plan(None, plan)


def test_a_run_recorded_before_an_algorithm_s_own_setting_existed_is_the_same_run_at_its_default():
    before = a_plan()  # no `proposals`: SA's setting came after the committed SA runs were recorded
    assert same_plan(before, a_plan(proposals=1))
    assert differences(before, a_plan(proposals=4)) == ["another setting: proposals unset → 4"]


# ----- issue 29: the same model is the same model, and runs not reused say why -----
REPO = Path(__file__).resolve().parents[2]


def committed_runs():
    """(recorded plan, the plan evoprune makes now for that run) of every committed run recorded before model
    digests (and before certification), but for specs naming a removed setting (refit-loop's two last variants)."""
    for spec_file in sorted(REPO.glob("results/*/spec.toml")):
        try:
            spec, _ = specs.load(str(spec_file))
        except ConfigError as e:
            assert "was removed from evoprune" in str(e)
            continue
        for v in spec.variants:
            for seed in spec.seeds:
                path = spec_file.parent / "runs" / f"{v.name}-seed{seed}" / "run.json"
                recorded = json.loads(path.read_text()) if path.exists() else {}
                if "sha256" not in recorded.get("plan", {}).get("model", {}):
                    continue
                config = replace(spec.config(v, seed), certify=False)  # they were made before certification
                yield recorded["plan"], plan(v, config, {"digest": "d"}, recorded["plan"]["data"])


def test_committed_runs_recorded_by_path_and_checksum_are_reused_where_the_file_is_the_same():
    runs = list(committed_runs())
    assert len(runs) >= 40
    for recorded, now in runs:
        assert same_plan(recorded, now, {"elsewhere", recorded["model"]["sha256"]})  # wherever that file lies now
        assert differences(recorded, now, {"another file"}) == ["another model"]
        certified = {**now, "config": {**now["config"], "certify": True}}  # today's default: another run
        assert differences(recorded, certified, {recorded["model"]["sha256"]}) == [
            "another setting: certify unset → True"]


def job(folder: Path, recorded: dict | None = None, finished: bool = True, **settings) -> Job:
    """The job of `a_plan(**settings)` in `folder`, which holds a run recording `recorded` (None: no run there)."""
    folder.mkdir(parents=True)
    if recorded is not None:
        (folder / "run.json").write_text(json.dumps({"plan": recorded}))
        if finished:
            (folder / "summary.json").write_text("{}")
    return Job(folder.name, Variant("sa", "sa"), SearchConfig(), str(folder), a_plan(**settings), {},
               frozenset({"older file, same model"}))


def test_a_run_is_reused_by_its_model_s_digest_or_by_the_checksum_an_older_evoprune_recorded(tmp_path):
    old_style = {**a_plan(), "model": {"path": "/gone/model.keras", "sha256": "older file, same model"}}
    assert status(job(tmp_path / "digest", a_plan())) == "reuse"
    assert status(job(tmp_path / "old", old_style)) == "reuse"
    assert status(job(tmp_path / "old-checkpoint", old_style, finished=False)) == "start"  # no checkpoint either
    other = {**old_style, "model": {"path": "/base/model.keras", "sha256": "another file"}}
    assert status(job(tmp_path / "other", other)) == "start"


def test_runs_that_are_not_reused_say_what_their_run_json_records_differently(tmp_path):
    jobs = [job(tmp_path / "a", a_plan(), delta=0.01), job(tmp_path / "b", a_plan(), delta=0.01),
            job(tmp_path / "c", {**a_plan(), "model": {"digest": "x"}}), job(tmp_path / "d", a_plan()),
            job(tmp_path / "e")]
    assert [status(j) for j in jobs] == ["start", "start", "start", "reuse", "start"]
    assert not_reused(jobs) == ("2 runs not reused: their run.json records another setting: delta 0.005 → 0.01; "
                                "1 run not reused: its run.json records another model")
    assert not_reused(jobs[3:]) is None  # a run of the same plan, or no run at all: nothing was thrown away
    both = differences({**a_plan(budget=40), "model": {"digest": "x"}}, a_plan(budget=50, t0=0.004))
    assert both == ["other settings: budget 40 → 50, t0 0.002 → 0.004", "another model"]
    assert differences(None, a_plan()) == ["no plan"]


def test_a_committed_spec_made_before_certification_goes_on_only_uncertified():
    from dataclasses import replace as copy

    from evoprune.experiments.experiment import extends

    held = json.loads((REPO / "results/experiment-operators/experiment.json").read_text())["spec"]
    spec, _ = specs.load(str(REPO / "runners/specs/operators.toml"))  # it says certify = false
    assert extends(held, spec.to_dict())
    default = copy(spec, settings={k: v for k, v in spec.settings.items() if k != "certify"})
    assert not extends(held, default.to_dict())  # certified runs would be another experiment


def test_a_removed_setting_at_the_value_that_kept_today_s_behaviour_is_the_same_run_any_other_another():
    kept = {**a_plan(), "config": {**a_plan()["config"], "refit_folds": 1, "calibration": "images"}}
    assert same_plan(kept, a_plan())
    shifted = {**a_plan(), "config": {**a_plan()["config"], "calibration": "shifted"}}
    assert differences(shifted, a_plan()) == ["another setting: calibration shifted → unset"]
    with pytest.raises(ConfigError, match="calibration = 'shifted' was removed from evoprune: shifted calibration"):
        SearchConfig.from_dict(shifted["config"])
    assert SearchConfig.from_dict(kept["config"]) == SearchConfig.from_dict(a_plan()["config"])


def test_a_run_recorded_without_racing_is_the_same_run_and_one_that_raced_is_refused_saying_why():
    off = {**a_plan(), "config": {**a_plan()["config"], "race": False, "race_confidence": 0.999}}
    assert same_plan(off, a_plan())
    assert SearchConfig.from_dict(off["config"]) == SearchConfig.from_dict(a_plan()["config"])
    raced = {**a_plan(), "config": {**off["config"], "race": True}}
    assert differences(raced, a_plan()) == ["another setting: race True → unset"]
    with pytest.raises(ConfigError, match="race = True was removed from evoprune: racing dropped almost no images"):
        SearchConfig.from_dict(raced["config"])
