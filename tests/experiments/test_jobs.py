"""Runs as jobs: which recorded runs count as the same run, so an experiment reuses them."""
from evoprune.experiments.jobs import same_plan
from evoprune.search.config import SearchConfig


def a_plan(**settings) -> dict:
    config = {**SearchConfig().shared(), "t0": 0.002, **settings}
    return {"variant": "sa", "algorithm": "sa", "config": config, "operators": {}, "model": {"sha256": "m"},
            "data": {"sizes": [4, 1, 10]}}


def test_a_run_recorded_before_a_shared_setting_existed_is_the_same_run_at_that_setting_s_default():
    plan = a_plan()
    before = {**plan, "config": {k: v for k, v in plan["config"].items() if k not in ("refit_folds", "start_refine")}}
    assert same_plan(plan, plan) and same_plan(before, plan)
    assert not same_plan(before, a_plan(refit="loop", refit_folds=5))  # the new setting away from its default
    assert not same_plan(before, a_plan(budget=7))                      # a setting the run did record, changed
    assert not same_plan({**before, "model": {"sha256": "other"}}, plan)
    assert not same_plan(None, plan)
