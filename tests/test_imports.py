"""The import graph of src/softreg has no circle (function-level imports included).

Every ``import``/``from ... import`` anywhere in a module (also inside functions) is an
edge to the module it names: ``from . import x`` names the submodule ``x`` when there is
one, else the package itself. (A submodule's import also runs its parents' ``__init__``;
that implicit edge is not one a module writes, so it is not counted.)
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "softreg"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]  # a module's relative imports start at its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the softreg modules it imports anywhere in its text."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                subs = [f"{target}.{alias.name}" for alias in node.names]
                targets = [s for s in subs if s in modules] or [target]
            for target in targets:
                while target and target not in modules:  # softreg.x.func -> softreg.x
                    target = target.rpartition(".")[0]
                if target.startswith(PACKAGE) and target != module:
                    graph[module].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_of_softreg_is_acyclic():
    graph = import_graph()
    assert "softreg.estimator" in graph and "softreg.distributed" in graph
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_dask_package_never_imports_the_estimator():
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("softreg.distributed"):
            assert not targets & {"softreg.estimator", "softreg", "softreg.cv"}, module


@pytest.mark.parametrize("edges, circle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
])
def test_find_cycle_finds_circles_and_only_circles(edges, circle):
    assert (find_cycle(edges) is not None) == circle


def test_function_level_imports_count(tmp_path, monkeypatch):
    """A circle closed only by an import inside a function is found."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import g\n")
    (pkg / "b.py").write_text("def g():\n    from .a import x\n    return x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert find_cycle(import_graph()) in (["softreg.a", "softreg.b", "softreg.a"],
                                          ["softreg.b", "softreg.a", "softreg.b"])
