"""The parts of the package import one way, down: algorithms see no evaluator or executor, results no algorithm."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evoprune"

# Each part may import the parts before it (and itself), never one after it.
ORDER = ("errors", "_tf", "_faults", "_progress", "network", "evaluation", "problem", "executors", "algorithms", "search", "results",
         "pruned", "api", "suites", "experiments", "cli", "__init__", "__main__")


def part_of(module: str) -> str:
    """`evoprune.search.loop` -> "search"; the package itself -> "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """Every evoprune module `path` imports (relative imports resolved), at the top or inside functions."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from .. import x` imports the module evoprune.x, not the package itself
            targets = ([name] if node.module else []) + [f"{name}.{a.name}" for a in node.names]
            found |= {t for t in targets if t.startswith("evoprune")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("evoprune")}
    return {m.removesuffix(".__init__") for m in found}


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_known_part():
    assert {part_of(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) for p in MODULES} <= set(ORDER)


def test_algorithms_import_no_evaluation_or_executor():
    bad = {(p.name, m) for p in (PACKAGE / "algorithms").rglob("*.py") for m in imports(p)
           if part_of(m) in ("evaluation", "executors")}
    assert not bad


def test_results_import_no_algorithm():
    bad = {(p.name, m) for p in (PACKAGE / "results").rglob("*.py") for m in imports(p) if part_of(m) == "algorithms"}
    assert not bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    here = part_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    upward = [m for m in imports(path) if part_of(m) in ORDER and ORDER.index(part_of(m)) > ORDER.index(here)]
    assert not upward, f"{here} imports from parts above it: {upward}"


def test_the_checker_sees_relative_and_nested_imports(tmp_path):
    fake = PACKAGE / "algorithms" / "sa.py"
    assert "evoprune.problem.operators" in imports(fake)  # `from ..problem.operators import …`
    assert "evoprune.evaluation.registry" in imports(PACKAGE / "executors" / "worker.py")
