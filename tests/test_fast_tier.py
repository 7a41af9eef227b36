"""The fast tier (`pytest -m "not slow"`) still touches every part of evoprune: each subpackage, and the top-level
api, is imported by at least one test that is not marked slow.

Read statically (ast), so it costs nothing: a test module counts when it has a test that is not slow; what it counts
is its module-level imports, those of the local helper modules it imports (such as algorithms/fake_problem.py), and
the imports inside its fast tests and inside the fixtures and helpers those reach by name. A module whose
`pytestmark` is slow counts for nothing, nor does a test marked slow or one whose parametrized cases
(`pytest.param(..., marks=pytest.mark.slow)`) all are."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "evoprune"


def parts() -> set[str]:
    """evoprune's subpackages, and its top-level api."""
    return {d.name for d in PACKAGE.iterdir() if (d / "__init__.py").exists()} | {"api"}


def reexports() -> dict[str, str]:
    """What `from evoprune import NAME` brings, by the module it comes from: name -> module below evoprune."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    return {alias.asname or alias.name: node.module
            for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
            for alias in node.names}


def is_slow_mark(node: ast.AST) -> bool:
    """`pytest.mark.slow`, or a decorator call on it (`pytest.mark.slow(reason=...)`)."""
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr == "slow" and "mark" in ast.unparse(node)


def slow_case(node: ast.AST) -> bool:
    """A parametrized case `pytest.param(..., marks=pytest.mark.slow)` (or marks=[..., pytest.mark.slow])."""
    if not (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("param")):
        return False
    marks = [k.value for k in node.keywords if k.arg == "marks"]
    marks = [m for v in marks for m in (v.elts if isinstance(v, (ast.List, ast.Tuple)) else [v])]
    return any(is_slow_mark(m) for m in marks)


def assigned(tree: ast.Module, name: str) -> ast.AST | None:
    """The value a module-level `name = ...` gives, if there is one."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
    return None


def is_slow_test(f: ast.FunctionDef, tree: ast.Module) -> bool:
    """Marked slow, or parametrized over cases that are all slow (a list here or in conftest.py, such as HOW)."""
    for d in f.decorator_list:
        if is_slow_mark(d):
            return True
        if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("parametrize") and len(d.args) >= 2:
            values = d.args[1]
            if isinstance(values, ast.Name):  # defined in the module, or imported from conftest
                values = assigned(tree, values.id) or assigned(ast.parse((TESTS / "conftest.py").read_text()),
                                                               values.id)
            if isinstance(values, (ast.List, ast.Tuple)) and values.elts and all(slow_case(v) for v in values.elts):
                return True
    return False


def module_is_slow(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            value = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            if any(is_slow_mark(v) for v in value):
                return True
    return False


def imported(node: ast.AST, names: dict[str, str]) -> set[str]:
    """The evoprune parts the import statements within `node` name (`names`: evoprune's re-exports)."""
    found = set()
    for n in ast.walk(node):
        modules = []
        if isinstance(n, ast.Import):
            modules = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
            if n.module == "evoprune":  # `from evoprune import x`: a subpackage, or a name one re-exports
                modules = [f"evoprune.{names.get(a.name, a.name)}" for a in n.names]
            else:
                modules = [n.module]
        for module in modules:
            dotted = module.split(".")
            if dotted[0] == "evoprune" and len(dotted) > 1:
                found.add(dotted[1])
    return found


def local_helpers(tree: ast.Module, path: Path) -> list[Path]:
    """The test folder's own modules that `tree` imports (`from .fake_problem import ...`), conftest aside."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1:
            folder = path.parent if node.level == 1 else TESTS
            helper = folder / (node.module.replace(".", "/") + ".py")
            if helper.exists() and helper.name != "conftest.py" and not helper.name.startswith("test_"):
                out.append(helper)
    return out


def fast_imports(path: Path, names: dict[str, str]) -> set[str]:
    """The evoprune parts a test module's fast tests import; empty when all of its tests are slow."""
    tree = ast.parse(path.read_text())
    if module_is_slow(tree):
        return set()
    functions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            functions.update({f"{node.name}.{m.name}": m for m in node.body if isinstance(m, ast.FunctionDef)})
    tests = [f for name, f in functions.items() if name.split(".")[-1].startswith("test_")]
    fast = [f for f in tests if not is_slow_test(f, tree)]
    if not fast:
        return set()
    found = set()
    for node in tree.body:  # module-level imports (and those of helper modules) run with any fast test
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= imported(node, names)
    for helper in local_helpers(tree, path):
        found |= {p for node in ast.parse(helper.read_text()).body
                  if isinstance(node, (ast.Import, ast.ImportFrom)) for p in imported(node, names)}
    reached, todo = set(), list(fast)
    while todo:  # the fast tests, and the fixtures and helpers of this module they reach by name
        f = todo.pop()
        if id(f) in reached:
            continue
        reached.add(id(f))
        found |= imported(f, names)
        used = {n.id for n in ast.walk(f) if isinstance(n, ast.Name)} | {a.arg for a in f.args.args}
        todo += [g for name, g in functions.items() if name in used and not name.startswith("test_")]
    return found


def coverage(test_files) -> dict[str, list[str]]:
    """part -> the test modules whose fast tests import it."""
    names = reexports()
    out: dict[str, list[str]] = {}
    for path in test_files:
        for part in fast_imports(path, names):
            out.setdefault(part, []).append(str(path.relative_to(TESTS)))
    return out


def test_every_part_of_evoprune_is_imported_by_a_fast_test():
    found = coverage(sorted(TESTS.rglob("test_*.py")))
    missing = sorted(parts() - set(found))
    assert not missing, (f"no test outside the slow tier imports evoprune's {', '.join(missing)}: add a cheap test, "
                         "or a fast variant of a slow one (see HOW in conftest.py)")


def test_the_check_tells_slow_tests_from_fast_ones(tmp_path):
    """The reading above, on made-up test modules: slow modules and slow tests count for nothing."""
    files = {
        "test_slow_module.py": "import pytest\nfrom evoprune.cli import main\npytestmark = pytest.mark.slow\n"
                               "def test_a():\n    from evoprune.search import x\n",
        "test_mixed.py": "import pytest\nfrom evoprune import prune, Problem\n\n@pytest.fixture\ndef made():\n"
                         "    from evoprune.results import io\n\ndef helper():\n    import evoprune.pruned.front\n\n"
                         "@pytest.mark.slow\ndef test_slow():\n    helper()\n    from evoprune.executors import x\n\n"
                         "@pytest.mark.parametrize('a', [1])\ndef test_fast(made, a):\n    import evoprune.network\n",
        "test_all_slow.py": "import pytest\nimport evoprune.experiments\n\n@pytest.mark.slow\ndef test_one():\n"
                            "    pass\n\nCASES = [pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=["
                            "pytest.mark.slow])]\n\n@pytest.mark.parametrize('n', CASES)\ndef test_two(n):\n"
                            "    pass\n",
        "test_how.py": "import pytest\nfrom conftest import HOW\n\n@pytest.mark.parametrize('how', HOW)\n"
                       "def test_cli(how):\n    from evoprune.cli import main\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    names = reexports()
    assert fast_imports(tmp_path / "test_slow_module.py", names) == set()
    assert fast_imports(tmp_path / "test_all_slow.py", names) == set()
    # prune is the api's, Problem the problem subpackage's; the fixture counts, the slow test and its helper do not
    assert fast_imports(tmp_path / "test_mixed.py", names) == {"api", "problem", "results", "network"}
    assert fast_imports(tmp_path / "test_how.py", names) == {"cli"}  # HOW runs it in process in the fast tier
