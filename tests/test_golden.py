"""Refactors keep results: small runs of every search path equal the golden outputs recorded before, bit for bit."""
import json
import sys

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "golden"))
from cases import CASES, HERE, differences, machine, run_case  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def same_machine():
    recorded = json.loads((HERE / "machine.json").read_text())
    here = machine()
    if here != recorded:
        pytest.skip(f"golden outputs were recorded on {recorded}; this machine is {here}: float results may "
                    "differ in the last bits, so they are not compared here (re-record with tests/golden/record.py)")


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_equal_the_golden_ones(name, same_machine, mnist_path, tmp_path):
    expected = json.loads((HERE / f"{name}.json").read_text())
    got = run_case(name, mnist_path, str(tmp_path / "run"))
    assert expected["history"], "a golden run with no history rows compares nothing"
    problems = differences(expected, got)
    assert not problems, f"{len(problems)} differences, first: " + "; ".join(problems[:5])
