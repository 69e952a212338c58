"""The one start-up rule: what the monitor path may import (docs/developing.md, "Start-up cost").

Every action is a new ``python3 -S`` process, and a recurring monitor that finds the
resource in order does 1-2 ms of work: importing one more heavy module (``typing``,
``logging``, ``enum``, ``re``, ``socket``...) costs more than that (figures in
BENCHMARKS.md).  So an OCF agent's module, the dispatcher and every module they import may
import at module level only hakit's own modules and the standard modules in
``MONITOR_PATH_MAY_IMPORT`` (with what those import themselves); anything else is imported
in the function that needs it.  These tests import every agent module, and run the vip,
fs and lxc monitors, under ``-X importtime`` (PYTHONPROFILEIMPORTTIME, which also honours
the agent's own shebang) and fail on any other module.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Mapping, Sequence
from typing import Optional

import pytest

from tests.fs.conftest import Ext4
from tests.harness.netns import NetnsPool
from tests.harness.ocf import AGENTS, LIB, Result, agent_env
from tests.lxc.conftest import ContainerPool

#: THE RULE: what the monitor path may import at module level, besides hakit's modules.
MONITOR_PATH_MAY_IMPORT = ("os", "stat", "time", "errno", "atexit", "struct", "mmap", "select",
                           "_socket", "ipaddress", "__future__", "gc")
#: What an OCF agent's monitor imports beyond the rule, and why; each a closure (the
#: module with what it imports).  The rule holds for every other agent and action path.
KNOWN_EXTRA = {
    # term_signals/kill_signals parse to signal.Signals (an enum) on every action.
    "fs": ("signal",),
    # The monitor's own work: the C extension of python3-lxc, not its wrapper ``lxc``.
    "lxc": ("_lxc",),
    # The lxc layer's halt signal and its monitor's C extension, as for fs and lxc.
    "container": ("signal", "_lxc"),
}
#: The OCF agents (the fence agents have their own rule below: metadata needs no transport).
OCF_AGENTS = ("vip", "fs", "lxc", "rbd", "container", "lvs")
#: The fence agents (installed in sbin/, kept next to the OCF agents in the tree).
FENCE_AGENTS = (AGENTS / "fence_hakit", AGENTS / "fence_hakit_redfish",
                AGENTS / "fence_hakit_ceph")
#: What fencing itself needs and metadata must not import.
FENCE_LIBRARIES = frozenset({"pyghmi", "requests", "urllib3", "certifi", "ssl", "http",
                             "rados"})


def imported_modules(stderr: str) -> set[str]:
    """Full names of the modules listed by ``-X importtime`` output (not its header)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line} - {"imported package"}


def imported(stderr: str) -> set[str]:
    """Top-level names of the modules listed by ``-X importtime`` output."""
    return {name.split(".")[0] for name in imported_modules(stderr)}


@functools.cache
def closure(*modules: str) -> frozenset[str]:
    """Top-level names of what ``python3 -S`` imports for ``import MODULES``."""
    code = ("import sys; sys.path.append('/usr/lib/python3/dist-packages'); import "
            + ", ".join(modules))
    proc = subprocess.run(["/usr/bin/python3", "-S", "-X", "importtime", "-c", code],
                          capture_output=True, text=True, env={"PYTHONPATH": str(LIB)},
                          timeout=60, check=True)
    return frozenset(imported(proc.stderr))


def beyond_the_rule(modules: set[str], agent: str = "") -> set[str]:
    """What ``modules`` hold that the rule (and ``agent``'s known extras) does not allow."""
    allowed = closure(*MONITOR_PATH_MAY_IMPORT) | {"hakit"}
    for extra in KNOWN_EXTRA.get(agent, ()):
        allowed |= closure(extra)
    return modules - allowed


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
        assert beyond_the_rule(modules, "vip") == set()


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
            assert beyond_the_rule(modules, "fs") == set(), level
    finally:
        run_traced([agent, "stop"], params, interval_ms=0)


@pytest.mark.parametrize("agent", OCF_AGENTS)
def test_agent_modules_follow_the_rule(agent: str) -> None:
    # Every agent's module and the dispatcher, as each action starts: what they import at
    # module level is what every monitor pays.
    modules = closure(f"hakit.agents.{agent}", "hakit.ocf.dispatch")
    assert "hakit" in modules
    assert beyond_the_rule(set(modules), agent) == set()


def test_rbd_paths_and_names_need_no_pathlib_or_re() -> None:
    # Once a known extra: rbd's paths were pathlib.Path records (pathlib brings re, enum,
    # fnmatch and urllib), and its pool and image names were checked by a regular
    # expression on every action (hakit.ocf.params.Name now checks two character sets).
    for agent in ("rbd", "container"):
        modules = closure(f"hakit.agents.{agent}", "hakit.ocf.dispatch")
        assert not modules & {"pathlib", "contextlib", "re"}, agent


def test_meta_data_needs_no_logging_or_runner() -> None:
    needed = closure("xml.etree.ElementTree")
    for name in ("vip", "fs"):
        result, modules = run_traced([str(AGENTS / name), "meta-data"], {})
        assert result.rc == 0
        assert beyond_the_rule(modules - needed, name) == set(), name


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
        assert beyond_the_rule(modules, "lxc") == set()
    started, _ = run_traced([agent, "start"], params, interval_ms=0)
    assert started.rc == 0, started.stderr[-2000:]
    try:
        for interval in (10000, 0):  # the recurring monitor, and a probe finding it running
            result, modules = run_traced([agent, "monitor"], params, interval_ms=interval)
            assert result.rc == 0, result.stderr[-2000:]
            assert "hakit" in modules and "_lxc" in modules
            assert beyond_the_rule(modules, "lxc") == set(), interval
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


#: Modules of each kind that only start, stop, reload or the host checks run: a monitor
#: imports none of them (docs/developing.md, "A kind's monitor imports only what the
#: monitor runs"), whether the resource runs here or not.
START_ONLY = frozenset({
    "hakit.steps.vip.dad", "hakit.os.announce",
    "hakit.steps.fs.mount", "hakit.steps.fs.unmount", "hakit.steps.fs.check",
    "hakit.steps.fs.host", "hakit.os.holders",
    "hakit.steps.lxc.start", "hakit.steps.lxc.stop", "hakit.steps.lxc.reload",
})
#: A resource of each agent that is not running here (its monitor answers 7 at once).
NOT_RUNNING = {
    "vip": {"ip": "198.18.9.9", "cidr_netmask": "24", "nic": "lo"},
    "fs": {"device": "/dev/hakit-none", "directory": "/nonexistent/hakit", "fstype": "ext4"},
    "lxc": {"name": "hakitnone", "lxcpath": "/nonexistent/hakit"},
    "container": {"name": "hakitnone", "pool": "rbd", "image": "hakitnone"},
}


@pytest.mark.parametrize("agent", sorted(NOT_RUNNING))
def test_monitors_import_no_start_only_module(agent: str) -> None:
    for interval in (10000, 0):  # a recurring monitor and a probe, of a stopped resource
        env = agent_env(NOT_RUNNING[agent], interval_ms=interval,
                        extra={"PYTHONPROFILEIMPORTTIME": "1"})
        proc = subprocess.run([str(AGENTS / agent), "monitor"], capture_output=True,
                              text=True, env=env, timeout=60, check=False)
        assert proc.returncode == 7, proc.stderr[-2000:]
        modules = imported_modules(proc.stderr)
        assert f"hakit.agents.{agent}" in modules  # the trace works
        assert modules & START_ONLY == set(), interval
