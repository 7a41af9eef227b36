"""The algorithm contract: hooks use the run only through `Run`, the loop's `Search` has all of it, and the
history columns an algorithm declares are the ones its rows carry."""
import ast
import inspect
from pathlib import Path

import pytest

from evoprune.algorithms import ALGORITHMS, Algorithm, Run
from evoprune.algorithms.base import STUDY_COLUMNS
from evoprune.search import HISTORY_FIELDS
from evoprune.search.loop import ROW_FIGURES, ROW_KEYS, history_fields

ALGORITHMS_DIR = Path(inspect.getfile(Algorithm)).parent
MEMBERS = {n for n in vars(Run) if not n.startswith("_")}


def uses_of_search(path: Path) -> set[str]:
    """Every `search.X` an algorithm module reads (its hooks' `search` argument)."""
    return {node.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "search"}


@pytest.mark.parametrize("path", sorted(ALGORITHMS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_algorithms_use_the_run_only_through_the_protocol(path):
    assert uses_of_search(path) <= MEMBERS, f"{path.name} reaches past Run: {uses_of_search(path) - MEMBERS}"


def test_every_hook_is_annotated_with_the_protocol():
    for cls in ALGORITHMS.values():
        for hook in ("configure", "setup", "step", "done", "best"):
            annotation = inspect.signature(getattr(cls, hook)).parameters["search"].annotation
            assert annotation in ("Run", Run), f"{cls.__name__}.{hook}: search is {annotation!r}"


def test_the_search_has_every_member_of_the_protocol():
    from .fake_problem import make_search

    search = make_search("sa", budget=20)
    search.run()
    missing = {m for m in MEMBERS if not hasattr(search, m)}
    assert not missing
    assert search.config.rate0 == 0.02 and search.budget_left == 0 and search.rng is search.state.rng


def test_the_built_in_algorithms_keep_one_history_layout():
    assert all(cls.history_columns == STUDY_COLUMNS for cls in ALGORITHMS.values())
    assert HISTORY_FIELDS == history_fields(STUDY_COLUMNS) == (*ROW_KEYS, *STUDY_COLUMNS, *ROW_FIGURES)
    assert HISTORY_FIELDS[2:4] == ("temperature", "mutation_rate")


def test_a_column_cannot_repeat_a_shared_one():
    from evoprune.errors import ConfigError

    with pytest.raises(ConfigError, match="cost"):
        history_fields(("cost",))
    with pytest.raises(ConfigError):
        history_fields(("x", "x"))


def test_a_row_may_carry_only_declared_columns():
    from .fake_problem import Rows, make_search

    rows = Rows()
    search = make_search("hc", budget=10, callbacks=[rows])
    search.run()
    assert list(rows.rows[0]) == list(HISTORY_FIELDS) and rows.rows[0]["temperature"] == ""
    with pytest.raises(ValueError, match="does not declare"):
        search.record(None, flips=3)
