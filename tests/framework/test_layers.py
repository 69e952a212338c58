"""Imports flow one way: no import circle, and no module imports a layer above its own.

The layers, lowest first, are the map in docs/developing.md ("Where things live").  A module
may import its own layer and any layer below; two layers of the same rank (steps and fence;
agents and snippets) never import each other.  The graph is computed from the AST of every
module of lib/hakit, of the lab and of the installed executables (tests.harness.imports), so
an import inside a function or under TYPE_CHECKING counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.harness.imports import Source, circles, graph, package_sources
from tests.harness.ocf import AGENTS, LIB, ROOT

#: group -> rank.  Lower ranks are imported by higher ones, never the other way.
RANKS = {
    "core": 0,  # hakit/*.py: lean, errors, shown, deadline
    "formats": 1,  # hakit.formats: pure decoders of what the kernel and the disks say
    "os": 2,  # hakit.os: the boundaries (kernel, Ceph, LXC, programs)
    "envelope": 3,  # hakit.envelope: every agent's process envelope (settle, log, metadata)
    "ocf": 4,  # hakit.ocf: declarations, context, the OCF adapter of the envelope
    "steps": 5,  # hakit.steps: domain steps over the boundaries
    "fence": 5,  # hakit.fence: the fence adapter of the envelope, driver and BMC transports
    "agents": 6,  # hakit.agents: one module per agent
    "snippets": 6,  # hakit.snippets: the configuration generator (hakit-snippet)
    "executables": 7,  # agents/*, bin/hakit-snippet
    "lab": 8,  # lab/: runs from the checkout, never installed
}
#: The only modules directly in hakit/: what every layer may use.
CORE = {"hakit", "hakit.lean", "hakit.errors", "hakit.shown", "hakit.deadline"}
#: Third-party and C bindings, and the only modules that may import each (one boundary).
BINDINGS = {
    "subprocess": {"hakit.os.runner"},
    "ctypes": {"hakit.os.mounting", "hakit.os.netns"},
    "rados": {"hakit.os.ceph"},
    "rbd": {"hakit.os.ceph"},
    "pyroute2": {"hakit.os.netlink"},
    "_lxc": {"hakit.os.containers"},
    "lxc": {"hakit.os.containers"},
    "pyghmi": {"hakit.fence.ipmi"},
    "requests": {"hakit.fence.redfish"},
    "urllib3": {"hakit.fence.redfish"},
}


def group_of(module: str) -> str:
    """The layer group of a project module; AssertionError for one outside every group."""
    if module.startswith("exe:"):
        return "executables"
    parts = module.split(".")
    if parts[0] == "lab":
        return "lab"
    assert parts[0] == "hakit", module
    if module in CORE:
        return "core"
    assert len(parts) > 1 and parts[1] in RANKS and parts[1] not in ("core", "lab"), (
        f"{module} is in no layer: put it in hakit/formats, os, steps (or an existing "
        "package) and say so in docs/developing.md")
    return parts[1]


def executables() -> list[Source]:
    paths = [p for p in sorted(AGENTS.iterdir()) if not p.name.startswith(".")]
    return [Source(f"exe:{p.relative_to(ROOT)}", p)
            for p in [*paths, ROOT / "bin" / "hakit-snippet"]]


def all_sources() -> list[Source]:
    return [*package_sources(LIB, "hakit"), *package_sources(ROOT, "lab"), *executables()]


def upward(edges: dict[str, dict[str, int]]) -> list[str]:
    """Every import of a higher layer, or of a sibling layer of the same rank."""
    wrong = []
    for module, targets in sorted(edges.items()):
        mine = group_of(module)
        for target, line in sorted(targets.items()):
            theirs = group_of(target)
            if theirs != mine and RANKS[theirs] >= RANKS[mine]:
                wrong.append(f"{module}:{line} ({mine}) imports {target} ({theirs})")
    return wrong


def test_every_module_has_a_layer() -> None:
    for source in all_sources():
        group_of(source.module)


def test_no_import_circle() -> None:
    assert circles(graph(all_sources())) == []


def test_no_upward_import() -> None:
    assert upward(graph(all_sources())) == []


def test_agents_do_not_import_other_agents() -> None:
    """The container agent composes the rbd, fs, lxc and vip kinds' records and steps
    (hakit.steps), never those agents' modules."""
    edges = graph(all_sources())
    reuse = {(module, target) for module, targets in edges.items() for target in targets
             if group_of(module) == group_of(target) == "agents"}
    assert reuse == set(), "an agent imports another agent: use a library step"


def test_the_library_never_imports_the_lab_or_the_tests() -> None:
    for source in package_sources(LIB, "hakit"):
        tree = ast.parse(source.path.read_bytes())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("lab", "tests"), f"{source.path}: {name}"


def test_bindings_are_imported_by_their_boundary_only() -> None:
    for source in package_sources(LIB, "hakit"):
        tree = ast.parse(source.path.read_bytes())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                owners = BINDINGS.get(name.split(".")[0])
                assert owners is None or source.module in owners, (
                    f"{source.path}:{node.lineno} imports {name}; only {sorted(owners)} may")


# -- the checks themselves, on a small made-up tree -------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> list[Source]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package_sources(tmp_path, "hakit")


def test_the_checks_find_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    sources = _tree(tmp_path, {
        "hakit/__init__.py": "",
        "hakit/errors.py": "",
        "hakit/os/__init__.py": "",
        "hakit/os/runner.py": "from hakit.errors import X\n",
        # a boundary importing a step, inside a function: upward
        "hakit/os/netlink.py": "def f():\n    from hakit.steps import rbd_map\n",
        "hakit/steps/__init__.py": "",
        "hakit/steps/rbd_map.py": "from ..os import runner\nfrom . import lvsconf\n",
        # a circle seen by type checkers only
        "hakit/steps/lvsconf.py": ("TYPE_CHECKING = False\nif TYPE_CHECKING:\n"
                                   "    from hakit.steps.rbd_map import Mapper\n"),
        "hakit/agents/__init__.py": "",
        "hakit/agents/vip.py": "import hakit.os.netlink\nfrom hakit.snippets import cli\n",
        "hakit/snippets/__init__.py": "",
        "hakit/snippets/cli.py": "",
    })
    edges = graph(sources)
    assert edges["hakit.steps.rbd_map"] == {"hakit.os.runner": 1, "hakit.steps.lvsconf": 2}
    assert circles(edges) == [["hakit.steps.lvsconf", "hakit.steps.rbd_map"]]
    assert upward(edges) == [
        "hakit.agents.vip:2 (agents) imports hakit.snippets.cli (snippets)",
        "hakit.os.netlink:2 (os) imports hakit.steps.rbd_map (steps)",
    ]


def test_a_module_outside_every_layer_is_refused() -> None:
    with pytest.raises(AssertionError, match="in no layer"):
        group_of("hakit.boundaries.netlink")
    with pytest.raises(AssertionError, match="in no layer"):
        group_of("hakit.newthing")
