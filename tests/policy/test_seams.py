"""The router's seams hold: ``route`` takes at most 6 parameters, the policy and evaluation
modules (and ``cli/route.py``) import no other module's private names, and no import cycle
runs through them, counting imports inside functions and ``TYPE_CHECKING`` blocks."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import leadpilot
from leadpilot.policy import route

SRC = Path(leadpilot.__file__).parent
SCOPE = [
    *sorted((SRC / "policy").rglob("*.py")),
    *sorted((SRC / "evaluate").rglob("*.py")),
    SRC / "cli" / "route.py",
]


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Every ``leadpilot`` import of the file, anywhere in it: (module, names, line)."""
    out = []
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("leadpilot"):
                out.append((base, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("leadpilot")]
    return out


def test_route_takes_at_most_six_parameters() -> None:
    assert len(inspect.signature(route).parameters) <= 6


def test_no_private_names_are_imported_across_modules() -> None:
    found = [
        f"{path.relative_to(SRC)}:{line} imports {name} from {module}"
        for path in SCOPE
        for module, names, line in _imports(path)
        for name in names
        if name.startswith("_")
    ]
    assert found == []


def test_no_import_cycle_runs_through_the_router_modules() -> None:
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for module, names, _line in _imports(path):
            # ``from package import module`` imports the module; else the module itself
            found = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            targets.update(found or ([module] if module in modules else []))
        graph[name] = targets - {name}
    scope = {_module(p) for p in SCOPE}
    cycles = []
    for start in sorted(scope):
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []
