"""Record the golden outputs of `cases.CASES` on this machine: `python tests/golden/record.py --data PATH`.

Run it with the code whose behaviour is the reference (before a refactor), then commit
tests/golden/*.json (the model is trained, or reused from the baseline cache, at run time: `cases.base_model`); tests/test_golden.py compares later code with them on the same machine.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile

sys.path.insert(0, __import__("os").path.dirname(__file__))
from cases import CASES, HERE, machine, run_case  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the 5k MNIST .npz")
    p.add_argument("cases", nargs="*", default=list(CASES))
    args = p.parse_args()
    (HERE / "machine.json").write_text(json.dumps(machine(), indent=2) + "\n")
    for name in args.cases:
        with tempfile.TemporaryDirectory() as out:
            result = run_case(name, args.data, out)
        (HERE / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
        print(name, "recorded:", len(result["history"]), "history rows")


if __name__ == "__main__":
    main()
