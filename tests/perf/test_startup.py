"""The agents' cheap start-up path stays cheap: what a monitor imports, not how long it takes.

Every action is a new ``python3 -S`` process; a recurring monitor that finds the resource
in order must not import modules that cost more than its work (docs/developing.md,
"Start-up cost"; figures in BENCHMARKS.md).  The interpreter reports every import when
PYTHONPROFILEIMPORTTIME is set, which also honours the agent's own shebang.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from typing import Optional

from tests.fs.conftest import Ext4
from tests.harness.netns import NetnsPool
from tests.harness.ocf import AGENTS, Result, agent_env
from tests.lxc.conftest import ContainerPool

#: Modules (top-level packages) no recurring monitor may import: each costs more CPU than
#: the monitor's own work.  ``site`` pins the shebang's -S.
HEAVY = frozenset({
    "site", "logging", "dataclasses", "typing", "inspect", "subprocess", "selectors",
    "threading", "shutil", "xml", "re", "socket", "enum", "traceback", "ctypes", "json",
    "contextlib", "tempfile", "pathlib", "pyroute2", "rados", "rbd",
})


#: The python3-lxc package's wrapper (``lxc``, which imports subprocess): hakit.os.containers
#: uses its C extension ``_lxc`` alone.
LXC_WRAPPER = frozenset({"lxc"})
#: The fence agents (installed in sbin/, kept next to the OCF agents in the tree).
FENCE_AGENTS = (AGENTS / "fence_hakit", AGENTS / "fence_hakit_redfish",
                AGENTS / "fence_hakit_ceph")
#: What fencing itself needs and metadata must not import.
FENCE_LIBRARIES = frozenset({"pyghmi", "requests", "urllib3", "certifi", "ssl", "http",
                             "rados"})


def imported(stderr: str) -> set[str]:
    """Top-level names of the modules listed by ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


def run_traced(argv: Sequence[str], params: Mapping[str, str], *, interval_ms: int = 10000,
               extra: Optional[Mapping[str, str]] = None) -> tuple[Result, set[str]]:
    env = agent_env(params, interval_ms=interval_ms,
                    extra={"PYTHONPROFILEIMPORTTIME": "1", **(extra or {})})
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr), imported(proc.stderr)


def test_shebangs_skip_site() -> None:
    # Every agent in agents/: a new one cannot forget the fast start-up.
    for agent in sorted(p for p in AGENTS.iterdir() if not p.name.startswith(".")):
        assert agent.read_text().splitlines()[0] == "#!/usr/bin/python3 -S", agent


def test_vip_monitor_imports_nothing_heavy(netns_pool: NetnsPool) -> None:
    ns = netns_pool.create()
    ns.ip("link", "set", "lo", "up")
    ns.ip("addr", "add", "198.18.3.10/24", "dev", "lo")
    params = {"ip": "198.18.3.10", "cidr_netmask": "24", "nic": "lo"}
    for interval in (10000, 0):  # the recurring monitor, and a probe finding it running
        result, modules = run_traced(ns.exec_argv([str(AGENTS / "vip"), "monitor"]), params,
                                     interval_ms=interval)
        assert result.rc == 0, result.stderr[-2000:]
        assert "hakit" in modules  # the trace works
        assert modules & HEAVY == set()


def test_fs_monitor_imports_nothing_heavy(ext4: Ext4) -> None:
    params = {"device": ext4.device(), "directory": ext4.directory()}
    agent = str(AGENTS / "fs")
    started, _ = run_traced([agent, "start"], params, interval_ms=0)
    assert started.rc == 0, started.stderr[-2000:]
    try:
        for level in ("0", "10", "20"):
            result, modules = run_traced([agent, "monitor"], params,
                                         extra={"OCF_CHECK_LEVEL": level})
            assert result.rc == 0, result.stderr[-2000:]
            assert "hakit" in modules
            # term_signals/kill_signals parse to signal.Signals, an enum: the one import
            # fs cannot avoid while its values keep that type.
            assert modules & HEAVY == {"enum"}, level
    finally:
        run_traced([agent, "stop"], params, interval_ms=0)


def test_meta_data_needs_no_logging_or_runner() -> None:
    needed = {"xml", "re", "enum", "contextlib"}  # ElementTree's own imports
    for name in ("vip", "fs"):
        result, modules = run_traced([str(AGENTS / name), "meta-data"], {})
        assert result.rc == 0
        assert modules & (HEAVY - needed) == set(), name


def test_lxc_monitor_imports_nothing_heavy(container_pool: ContainerPool) -> None:
    ct = container_pool.create()
    params = ct.params()
    agent = str(AGENTS / "lxc")
    # A probe of a stopped container (rc 7, logged at debug level only) and of one that was
    # never defined.
    for probed in (params, dict(params, name="hk-absent")):
        result, modules = run_traced([agent, "monitor"], probed, interval_ms=0)
        assert result.rc == 7, result.stderr[-2000:]
        assert "hakit" in modules
        assert modules & (HEAVY | LXC_WRAPPER) == set()
    started, _ = run_traced([agent, "start"], params, interval_ms=0)
    assert started.rc == 0, started.stderr[-2000:]
    try:
        for interval in (10000, 0):  # the recurring monitor, and a probe finding it running
            result, modules = run_traced([agent, "monitor"], params, interval_ms=interval)
            assert result.rc == 0, result.stderr[-2000:]
            assert "hakit" in modules and "_lxc" in modules
            assert modules & (HEAVY | LXC_WRAPPER) == set(), interval
    finally:
        run_traced([agent, "stop"], params, interval_ms=0)


def test_fence_metadata_needs_no_transport_or_site() -> None:
    for agent in FENCE_AGENTS:
        proc = subprocess.run([str(agent), "-o", "metadata"], capture_output=True, text=True,
                              timeout=60, check=False,
                              env=agent_env({}, extra={"PYTHONPROFILEIMPORTTIME": "1"}))
        assert proc.returncode == 0, proc.stderr[-2000:]
        modules = imported(proc.stderr)
        assert "hakit" in modules
        assert modules & (FENCE_LIBRARIES | {"site"}) == set(), agent.name
