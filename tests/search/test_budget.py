"""The budget is spent exactly: a whole-model search's single genome gets every evaluation left."""
import pytest

from algorithms.fake_problem import make_search


@pytest.mark.parametrize("budget", [120, 150, 200])
def test_a_whole_model_search_makes_exactly_its_budget(budget):
    # random search draws independent masks, so it never runs out of new ones before the budget does; on this
    # 102-bit genome (left × w) / w once rounded 119 left to 118, one evaluation short of 120
    state = make_search("random-search", budget=budget).run()
    assert state.evaluations == budget
