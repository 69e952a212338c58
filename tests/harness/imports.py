"""The import graph of the project's own modules, from the AST of every file.

Every import counts: at module level, inside a function (the start-up-cost imports), and
under ``if TYPE_CHECKING:`` (a circle that only type checkers see is still a circle in the
design).  An edge goes from a module to the project module it names; ``from pkg import name``
goes to ``pkg.name`` when that is a module, else to ``pkg``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """One file of the project, under the module name it is imported as."""

    module: str
    path: Path
    is_package: bool = False  # an __init__.py: relative imports start at the module itself


def package_sources(root: Path, package: str) -> list[Source]:
    """Every module of ``package``, whose directory is ``root / package``."""
    sources = []
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        sources.append(Source(".".join(parts), path, is_package))
    return sources


def imported_names(source: Source) -> list[tuple[str, int]]:
    """(absolute dotted name, line) for everything ``source`` imports, candidates first.

    ``from a import b`` yields ``a.b`` then ``a``: the caller keeps the first that is a
    project module.
    """
    tree = ast.parse(source.path.read_bytes(), filename=str(source.path))
    base = source.module if source.is_package else source.module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base.split(".")[: len(base.split(".")) - (node.level - 1)]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                found.append((f"{module}.{alias.name}\0{module}", node.lineno))
    return found


def graph(sources: Iterable[Source]) -> dict[str, dict[str, int]]:
    """module -> {imported project module: line of the first such import}."""
    sources = list(sources)
    known = {s.module for s in sources}

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, dict[str, int]] = {s.module: {} for s in sources}
    for source in sources:
        for name, line in imported_names(source):
            candidates = name.split("\0")
            target = next((c for c in candidates if c in known), None) or resolve(candidates[-1])
            if target is not None and target != source.module:
                edges[source.module].setdefault(target, line)
    return edges


def circles(edges: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """Every set of modules that import each other, directly or round a loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of imports cannot exhaust the recursion limit.
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)
