"""The import graph of the core has no cycles, counting imports inside functions.

A cycle hidden by a function-level import still ties two modules together: a
reader cannot understand either alone.  The one allowed back edge is the
notebook display of a Value (``value`` -> ``viz``), which draws the Value it
belongs to.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autograd", "nn")

# (importer, imported-prefix): edges left out of the cycle check, each with its reason.
ALLOWED = {
    # Value._repr_mimebundle_ / _repr_svg_ draw the Value itself in a notebook.
    ("autograd.value", "autograd.viz"),
}


def module_names(package: str) -> dict[str, Path]:
    names = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``name`` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from pkg import sub` imports the submodule when there is one.
            targets = [
                f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node, at any depth, except inside ``if TYPE_CHECKING:`` (never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = child.test if isinstance(child, ast.If) else None
            name = getattr(test, "id", None) or getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                stack.extend(child.orelse)
            else:
                stack.append(child)


def allowed(src: str, dst: str) -> bool:
    return any(src == a and (dst == b or dst.startswith(b + ".")) for a, b in ALLOWED)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def import_graph(package: str) -> dict[str, set[str]]:
    names = module_names(package)
    known = set(names)
    graph = {}
    for name, path in names.items():
        # The package's own __init__ only gathers names for users; edges into it
        # from its modules would be cycles by construction, so they are real findings.
        graph[name] = {d for d in imports_of(name, path, known) if not allowed(name, d)}
    return graph


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    graph = import_graph(package)
    # The package __init__ imports its modules; a module importing the package
    # back (`from autograd import x`) is a cycle and is reported as one.
    found = cycles(graph)
    assert found == [], f"import cycles in {package}: {found}"


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path):
    (tmp_path / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
        "def f():\n    from . import b\n"
    )
    (tmp_path / "b.py").write_text("from .a import f\n")
    known = {"pkg.a", "pkg.b", "pkg.c"}
    graph = {
        "pkg.a": imports_of("pkg.a", tmp_path / "a.py", known),
        "pkg.b": imports_of("pkg.b", tmp_path / "b.py", known),
    }
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
