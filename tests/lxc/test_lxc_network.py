"""wait_for_ip, with the container's veth pair made inside a test namespace.

The agent (and so lxc-start, which creates the veth pair in its own network namespace) runs
under ``ip netns exec``; the host side of the pair lands in the test namespace, never in the
host's.  Every action runs there: liblxc's command socket is an abstract unix socket, which
belongs to the network namespace lxc-start ran in.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping

from tests.harness.netns import IP, Netns, NetnsPool
from tests.harness.ocf import Result, agent_env
from tests.lxc.conftest import AGENT, BusyboxContainer, ContainerPool

VETH_CONFIG = """\
lxc.net.0.type = veth
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.apparmor.profile = unconfined
"""

#: The container's own init configures its address a second after boot.
LATE_ADDRESS_RCS = """\
#!/bin/sh
(sleep 1; ip addr add 198.18.7.2/24 dev eth0) &
"""


def _in_netns(ns: Netns, action: str, params: Mapping[str, str],
              timeout_ms: int = 20000) -> Result:
    proc = subprocess.run(ns.exec_argv([str(AGENT), action]), capture_output=True, text=True,
                          env=agent_env(params, timeout_ms=timeout_ms), timeout=60,
                          check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _host_links() -> set[str]:
    out = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return {line.split(":")[1].strip() for line in out.splitlines()}


def _veth_container(netns_pool: NetnsPool,
                    container_pool: ContainerPool) -> tuple[Netns, BusyboxContainer]:
    ns = netns_pool.create()
    ct = container_pool.create(base_config=VETH_CONFIG)
    ct.netns = ns.name
    ct.write_rootfs_file("etc/init.d/rcS", LATE_ADDRESS_RCS, 0o755)
    return ns, ct


def test_start_waits_for_an_address(netns_pool: NetnsPool,
                                    container_pool: ContainerPool) -> None:
    ns, ct = _veth_container(netns_pool, container_pool)
    host_before = _host_links()
    params = ct.params(wait_for_ip="ipv4")
    started = time.monotonic()
    result = _in_netns(ns, "start", params)
    assert result.rc == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert "198.18.7.2" in result.stderr  # logged when the address appeared
    assert _in_netns(ns, "monitor", params).rc == 0
    # The veth pair's host side is in the test namespace; the host has nothing new.
    assert any(line for line in ns.ip("-o", "link", "show").stdout.splitlines()
               if "veth" in line)
    assert _host_links() == host_before
    assert _in_netns(ns, "stop", params).rc == 0
    assert _in_netns(ns, "monitor", params).rc == 7


def test_start_without_an_address_fails_in_time(netns_pool: NetnsPool,
                                                container_pool: ContainerPool) -> None:
    ns, ct = _veth_container(netns_pool, container_pool)
    params = ct.params(wait_for_ip="ipv6", start_timeout="3")  # the container sets only v4
    started = time.monotonic()
    result = _in_netns(ns, "start", params)
    assert result.rc == 1
    assert time.monotonic() - started < 6.0
    assert "ipv6 address" in result.reason
    assert _in_netns(ns, "stop", params).rc == 0
