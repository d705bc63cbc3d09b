"""The package's import structure: no cycles between modules and no module importing another
module's private (``_name``) symbols, counting every import: at module level, inside
function bodies and under ``if TYPE_CHECKING:`` (a cycle hidden there is still a cycle).

Read with ``ast`` from the source files (nothing is imported), so the test sees exactly what
a reader of the code sees.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "leadpilot"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE


@dataclass(frozen=True)
class Import:
    importer: str  # module doing the import
    target: str  # module imported (a module of the package)
    names: tuple[str, ...]  # symbols taken from it (empty for ``import x``)
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import of a package module by ``name``, wherever it appears in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield Import(name, _owning_module(alias.name, known), (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node)
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # ``from pkg import submodule``: the submodule is the target
                    yield Import(name, sub, (), node.lineno)
                else:
                    yield Import(name, _owning_module(base, known), (alias.name,), node.lineno)


def _owning_module(dotted: str, known: set[str]) -> str:
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted


def import_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], list[Import]]:
    """(module -> package modules it imports, every import found)."""
    mods = modules(root)
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    found: list[Import] = []
    for name, path in mods.items():
        for imp in imports_of(name, path, known):
            found.append(imp)
            if imp.target != name:
                edges[name].add(imp.target)
    return edges, found


@functools.cache
def package_graph() -> tuple[dict[str, set[str]], list[Import]]:
    """:func:`import_graph` of the package itself, parsed once for the tests below (the
    sources do not change during a run; each parse of every module costs ~1 s of CPU)."""
    return import_graph()


def _is_ancestor_package(importer: str, target: str) -> bool:
    """Importing a module runs its parent packages' ``__init__`` first, so an edge from a
    module to its own parent package is not a dependency the module chose."""
    return importer.startswith(target + ".")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    graph = {
        m: {t for t in ts if not _is_ancestor_package(m, t) and t in edges}
        for m, ts in edges.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def private_imports(found: list[Import]) -> list[str]:
    """``from other_module import _name`` between different modules of the package: only
    the defining module may use a private name (dunders such as ``__version__`` are
    public)."""
    out = []
    for imp in found:
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__") and imp.target != imp.importer:
                out.append(f"{imp.importer}:{imp.line} imports {name} from {imp.target}")
    return sorted(out)


def test_the_walker_sees_imports_everywhere(tmp_path: Path) -> None:
    """The walker finds imports in function bodies and TYPE_CHECKING blocks, resolves
    relative imports, and reports a cycle and a private import it is shown."""
    src = tmp_path / PACKAGE
    (src / "sub").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "sub" / "__init__.py").write_text("")
    (src / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from leadpilot.b import B\n"
    )
    (src / "b.py").write_text("def f():\n    from .sub.c import _hidden\n")
    (src / "sub" / "c.py").write_text("import leadpilot.a\n_hidden = 1\n")
    edges, found = import_graph(src)
    assert edges["leadpilot.a"] == {"leadpilot.b"}
    assert edges["leadpilot.b"] == {"leadpilot.sub.c"}
    assert cycles(edges) == [["leadpilot.a", "leadpilot.b", "leadpilot.sub.c"]]
    assert private_imports(found) == ["leadpilot.b:2 imports _hidden from leadpilot.sub.c"]


def test_no_import_cycles() -> None:
    edges, _ = package_graph()
    found = cycles(edges)
    assert not found, "import cycles (each line: modules that import each other):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_no_module_imports_another_modules_private_names() -> None:
    _, found = package_graph()
    bad = private_imports(found)
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", ["policy", "model"])
def test_policy_and_model_depend_only_on_schema_and_errors(layer: str) -> None:
    """The layering the issues rely on: the decision and learning cores import nothing of
    the service, store, CLI, ingest or analysis layers."""
    edges, _ = package_graph()
    allowed = {f"{PACKAGE}.{layer}", f"{PACKAGE}.schema", f"{PACKAGE}.errors", PACKAGE}
    outside = sorted(
        f"{m} -> {t}"
        for m, ts in edges.items()
        if m == f"{PACKAGE}.{layer}" or m.startswith(f"{PACKAGE}.{layer}.")
        for t in ts
        if not any(t == a or t.startswith(a + ".") for a in allowed)
    )
    assert not outside, "\n".join(outside)
