"""The package reads from the top down: entry points, then the code location and the catalog
component, then automation, the domain packages, the shared Dagster conventions, and at the bottom
pure builders with no Dagster in them. An import may only run downwards, two parts of one floor
never import each other, and no modules import each other in a loop. Read from the code's own
imports (ast), so a new import that runs back up fails here, naming the file and the line."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "warehouse_platform"

# Floors from the top down. A part is a subpackage (its folder) or a top-level module (.py).
FLOORS: list[tuple[str, ...]] = [
    ("benchmarks", "docs_screenshots.py"),
    ("cli.py",),
    ("definitions.py",),
    ("environment.py", "defs"),
    ("catalog.py",),
    ("components",),
    ("automation",),
    ("quality",),
    ("extract", "transform", "export"),
    ("warehouse",),
    ("stage",),
    ("logs", "conventions", "instance"),
    ("sql", "staged_files", "sample_data", "settings.py"),
    ("contract", "postgres_endpoint.py"),
    ("secrets.py", "chosen_features.py", "rules"),
]
# The pure bottom: plain functions and dataclasses, tested directly, no Dagster in them.
WITHOUT_DAGSTER = ("contract", "sql", "staged_files", "logs", "rules", "sample_data", "settings.py", "secrets.py")


@dataclass(frozen=True)
class Import:
    source: Path  # the importing file
    line: int
    module: str  # the imported module, dotted


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> list[Import]:
    """The platform's modules a file imports (at any depth: a deferred import counts too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` imports the module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found += [Import(path, node.lineno, t) for t in targets if t in modules and t != name]
    return found


def _part(module: str) -> str:
    first = module.split(".")[1] if "." in module else ""
    return first if (PACKAGE / first).is_dir() else f"{first}.py"


def _floor_of() -> dict[str, int]:
    return {part: depth for depth, parts in enumerate(FLOORS) for part in parts}


def test_every_part_of_the_package_has_a_floor():
    parts = {_part(m) for m in _modules() if m != "warehouse_platform"}
    assert parts - set(_floor_of()) == set(), "place each new package or module on a floor in FLOORS"
    assert set(_floor_of()) - parts == set(), "FLOORS names a part that no longer exists"


def test_imports_only_run_down_the_floors():
    modules, floor = _modules(), _floor_of()
    wrong = []
    for path in modules.values():
        for imp in _imports(path, modules):
            here, there = _part(_module_name(path)), _part(imp.module)
            if here != there and floor[there] <= floor[here]:
                relation = "the same floor" if floor[there] == floor[here] else "a floor above"
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{imp.line} imports {imp.module} ({there}: {relation})")
    assert wrong == []


def test_no_modules_import_each_other_in_a_loop():
    modules = _modules()
    edges = {m: {i.module for i in _imports(p, modules)} for m, p in modules.items()}
    assert _loops(edges) == []


def test_the_pure_bottom_never_imports_dagster():
    offenders = []
    for name, path in _modules().items():
        if _part(name) in WITHOUT_DAGSTER:
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for n in names if n.split(".")[0].startswith("dagster")]
    assert offenders == []


def test_every_package_says_what_belongs_there():
    missing = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("__init__.py") if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


@pytest.mark.parametrize(
    ("edges", "loops"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_the_loop_finder_finds_exactly_the_loops(edges, loops):
    assert _loops(edges) == loops


def _loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)
