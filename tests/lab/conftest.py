"""Fixtures for the lab tests: a lab with a random name in a temporary state directory."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import network, procs
from lab.cluster import Lab
from lab.layout import LabLayout, make_layout
from lab.progress import Progress

#: A cluster that has not formed by then is broken, not slow.
FORM_BOUND = 30.0


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, mounts, cluster daemons)")


def new_layout(base: Path) -> LabLayout:
    """A layout nobody else uses: random name (so random namespaces), its own directory."""
    name = f"t{secrets.token_hex(3)}"
    return make_layout(name, base / name)


def lab_processes(layout: LabLayout) -> set[procs.Proc]:
    """Every live process in the lab's namespaces or recorded in its pidfiles."""
    found: set[procs.Proc] = set()
    for name in [n.netns for n in layout.nodes] + [layout.hub_netns]:
        if network.netns_exists(name):
            for pid in _netns_pids(name):
                proc = procs.identify(pid)
                if proc:
                    found.add(proc)
    for node in layout.nodes:
        for pidfile in node.dir.glob("*.pid"):
            proc = procs.read_pidfile(pidfile)
            if proc and procs.is_alive(proc):
                found.add(proc)
    return found


def _netns_pids(name: str) -> list[int]:
    """PIDs whose network namespace is ``name``, found independently of ``ip netns pids``."""
    target = os.stat(network.NETNS_DIR / name)
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                st = os.stat(entry / "ns" / "net")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                pids.append(int(entry.name))
    return pids


def leftovers(layout: LabLayout, seen: set[procs.Proc]) -> list[str]:
    """What a lab left behind: namespaces, mounts, live processes, directories."""
    found = [f"netns {n}" for n in [x.netns for x in layout.nodes] + [layout.hub_netns]
             if network.netns_exists(n)]
    mountinfo = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line}" for line in mountinfo.splitlines()
              if str(layout.state_dir) in line or f"/run/netns/{layout.name}-" in line]
    found += [f"process {p.pid}" for p in seen if procs.is_alive(p)]
    if layout.state_dir.exists():
        found.append(f"directory {layout.state_dir}")
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A formed three-node cluster shared by a module's tests; always taken down."""
    need_root()
    the_lab = Lab(new_layout(tmp_path_factory.mktemp("lab")), Progress(sys.stdout))
    try:
        the_lab.up(form_timeout=FORM_BOUND)
        yield the_lab
    finally:
        the_lab.down()
