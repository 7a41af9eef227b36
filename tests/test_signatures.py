"""Short signatures: every public function of the package takes at most 10 parameters; `prune` at most 10, `Problem`
at most 8. Related options travel in small typed objects (`Images`, `Folder`, `Execution`, `Hooks`, `Floor`)."""
import ast
from pathlib import Path

from conftest import REPO

LIMIT = 10


def parameters(node: ast.FunctionDef) -> int:
    """How many parameters a caller can pass: positional, keyword-only, *args and **kwargs; not self or cls."""
    a = node.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    count = len(names) + (a.vararg is not None) + (a.kwarg is not None)
    return count - (names[:1] in (["self"], ["cls"]))


def public_functions(path: Path):
    """(qualified name, parameter count) of the module's public functions and public classes' public methods
    (`__init__` included: it is the class's signature)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, parameters(node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (item.name == "__init__" or not item.name.startswith("_")):
                    yield f"{node.name}.{item.name}", parameters(item)


def signatures() -> dict[str, int]:
    package = REPO / "evoprune"
    return {f"{path.relative_to(REPO)}:{name}": n for path in sorted(package.rglob("*.py"))
            for name, n in public_functions(path)}


def test_every_public_function_takes_at_most_ten_parameters():
    long = {name: n for name, n in signatures().items() if n > LIMIT}
    assert not long, f"public functions with more than {LIMIT} parameters: {long}"


def test_prune_and_problem_are_short():
    found = signatures()
    assert found["evoprune/api.py:prune"] <= 10
    assert found["evoprune/problem/problem.py:Problem.__init__"] <= 8


def test_the_count_sees_every_kind_of_parameter():
    node = ast.parse("def f(self, a, /, b, *c, d, **e): pass").body[0]
    assert parameters(node) == 5
    assert parameters(ast.parse("def g(a, b=1, *, c=2): pass").body[0]) == 3
