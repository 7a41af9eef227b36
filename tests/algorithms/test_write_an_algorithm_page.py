"""docs/write-an-algorithm.md runs as written: its algorithm registers, searches a tiny model within its budget,
writes the history columns it declares, and resumes exactly from a mid-step snapshot."""
import re
import sys
import types

import numpy as np
import pytest

from conftest import REPO
from evoprune.algorithms import ALGORITHMS
from evoprune.search import Search
from evoprune.search.loop import ROW_FIGURES, ROW_KEYS

pytestmark = pytest.mark.slow  # a trained (tiny) model

PAGE = REPO / "docs" / "write-an-algorithm.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(), flags=re.S | re.M)


@pytest.fixture
def page(tiny_model, small_mnist, tmp_path, monkeypatch):
    """The page's namespace after running its blocks in order, as a module (its State must pickle by name)."""
    monkeypatch.chdir(tmp_path)  # the page writes rls-history.csv where it runs
    module = types.ModuleType("write_an_algorithm_page")
    module.model, module.x_search, module.y_search = tiny_model, small_mnist[2], small_mnist[3]
    sys.modules[module.__name__] = module
    try:
        for block in python_blocks():
            exec(compile(block, str(PAGE), "exec"), module.__dict__)
        yield module
    finally:  # the registration must not reach other tests
        ALGORITHMS.pop("rls", None)
        del sys.modules[module.__name__]


def test_the_page_has_the_blocks_it_walks_through():
    blocks = python_blocks()
    assert len(blocks) == 5
    algorithm = blocks[0].splitlines()
    assert 30 <= len(algorithm) <= 60 and "class RandomLocalSearch(Algorithm[State]):" in blocks[0]


def test_the_page_algorithm_searches_within_its_budget_and_resumes(page):
    result, config = page.result, page.config
    assert isinstance(result.algorithm, page.RandomLocalSearch) and result.config.settings == {"flips": 4}
    assert result.state.evaluations == config.budget == 80
    kept = sum(int(m.sum()) for m in result.masks.values())
    total = sum(m.size for m in result.masks.values())
    assert 0 < 1 - kept / total < 0.5
    assert result.state.algo.best is not None and result.state.algo.best.score.feasible

    # history.csv: the shared columns around the algorithm's own, one row per step
    rows = page.rows
    assert list(rows[0]) == [*ROW_KEYS, "flips", "accepted", *ROW_FIGURES]
    assert len(rows) == result.state.history_rows and rows[-1]["evaluations"] == "80"
    assert {r["flips"] for r in rows} == {"4"} and {r["accepted"] for r in rows} == {"0", "1"}
    assert [int(r["step"]) for r in rows] == list(range(len(rows)))

    # the snapshot was taken mid-step (after its evaluation, before its row): the resumed run replays that step
    state = Search.restore(page.snap.data)
    assert state.evaluations + len(state.replay) == 30 and len(state.replay) == 1
    assert page.resumed.state.history_rows == result.state.history_rows
    assert all(np.array_equal(page.resumed.masks[k], result.masks[k]) for k in result.masks)


def test_the_registration_is_undone():
    assert "rls" not in ALGORITHMS
