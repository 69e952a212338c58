"""start/monitor/stop on cgroup v1-only, hybrid and v2-only layouts, mounting nothing.

This host is hybrid; the other layouts are shown to the agent (and so to lxc-start) through
a private mount namespace (``tests/lxc/cgroup_view.py``).  The agent touches no cgroup: the
container lands in whatever hierarchies liblxc finds.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.harness.ocf import Result, agent_env
from tests.lxc.conftest import AGENT, BusyboxContainer

VIEW = Path(__file__).with_name("cgroup_view.py")
UNSHARE = "/usr/bin/unshare"


def _in_view(view: str, action: str, params: Mapping[str, str]) -> Result:
    if view == "hybrid":
        argv = [str(AGENT), action]
    else:
        argv = [UNSHARE, "--mount", "--propagation", "private", sys.executable, str(VIEW),
                view, str(AGENT), action]
    proc = subprocess.run(argv, capture_output=True, text=True, env=agent_env(params),
                          timeout=60, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _cgroups(pid: int) -> list[tuple[str, str]]:
    """(controllers, path) of each hierarchy a process belongs to."""
    text = Path(f"/proc/{pid}/cgroup").read_text()
    return [(line.split(":", 2)[1], line.split(":", 2)[2]) for line in text.splitlines()]


@pytest.mark.parametrize("view", ["v1", "hybrid", "v2"])
def test_lifecycle_on_each_cgroup_layout(view: str, container: BusyboxContainer) -> None:
    params = container.params()
    start = _in_view(view, "start", params)
    assert start.rc == 0, start.stderr
    groups = _cgroups(container.init_pid())
    in_v2 = any(c == "" and "lxc.payload" in p for c, p in groups)
    in_v1 = any(c != "" and "lxc.payload" in p for c, p in groups)
    assert (in_v1, in_v2) == {"v1": (True, False), "hybrid": (True, True),
                              "v2": (False, True)}[view]
    assert _in_view(view, "monitor", params).rc == 0
    stop = _in_view(view, "stop", params)
    assert stop.rc == 0, stop.stderr
    assert container.state() == "STOPPED"
