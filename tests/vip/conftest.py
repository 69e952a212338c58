"""Fixtures for ocf:hakit:vip: a small LAN of network namespaces on one bridge.

Hosts A and B (where the VIP floats), a client and a third host (the usual conflict) hang
off a bridge in a hub namespace.  Addresses come from 198.18.0.0/15 and fd00::/8; nothing
routes out.  IPv6 DAD is sped up inside these namespaces only (no random delay, 200 ms
retransmission) so the kernel's DAD takes a fifth of a second instead of one to two.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from tests.harness.netns import Netns, NetnsPool
from tests.harness.ocf import AGENTS, Result, agent_env

VIP_AGENT = AGENTS / "vip"
IPADDR2 = Path("/usr/lib/ocf/resource.d/heartbeat/IPaddr2")
SUBNET4 = "198.18.0"
SUBNET6 = "fd00:18::"
VIP4 = f"{SUBNET4}.10"
VIP6 = f"{SUBNET6}10"
HOST_NUMBERS = {"a": 1, "b": 2, "third": 3, "client": 100}


def fast_dad(ns: Netns, ifname: str = "eth0") -> None:
    """Make the kernel's IPv6 DAD quick in this namespace (sysctls are per namespace)."""
    ns.run("/usr/sbin/sysctl", "-qw", f"net.ipv6.conf.{ifname}.router_solicitation_delay=0")
    ns.run("/usr/sbin/sysctl", "-qw", f"net.ipv6.neigh.{ifname}.retrans_time_ms=200")


def mac_of(ns: Netns, ifname: str = "eth0") -> str:
    info = json.loads(ns.ip("-j", "link", "show", ifname).stdout)
    return str(info[0]["address"])


def addresses_of(ns: Netns, ifname: str = "eth0") -> list[dict[str, object]]:
    info = json.loads(ns.ip("-j", "addr", "show", "dev", ifname).stdout)
    return list(info[0]["addr_info"]) if info else []


def owned_addresses(ns: Netns, ifname: str = "eth0") -> set[tuple[object, object]]:
    """(address, prefix) pairs on the interface, ignoring flags that change on their own."""
    return {(a.get("local"), a.get("prefixlen")) for a in addresses_of(ns, ifname)}


def has_address(ns: Netns, ip: str, ifname: str = "eth0") -> bool:
    return any(a.get("local") == ip for a in addresses_of(ns, ifname))


def neighbour_mac(ns: Netns, ip: str) -> Optional[str]:
    entries = json.loads(ns.ip("-j", "neigh", "show", ip).stdout or "[]")
    for entry in entries:
        if entry.get("lladdr") and "FAILED" not in entry.get("state", []):
            return str(entry["lladdr"])
    return None


def wait_for(probe: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if probe():
            return True
        time.sleep(0.05)
    return bool(probe())


def ping(ns: Netns, ip: str) -> bool:
    argv = ["/usr/bin/ping", "-c", "1", "-W", "1", ip]
    return ns.run(*argv, check=False).returncode == 0


@dataclass
class Lan:
    """Namespaces on one bridge: ``hosts['a']``, ``['b']``, ``['third']``, ``['client']``."""

    hub: Netns
    hosts: dict[str, Netns]

    def __getitem__(self, name: str) -> Netns:
        return self.hosts[name]

    def v4(self, name: str) -> str:
        return f"{SUBNET4}.{HOST_NUMBERS[name]}"

    def v6(self, name: str) -> str:
        return f"{SUBNET6}{HOST_NUMBERS[name]}"


@pytest.fixture
def lan(netns_pool: NetnsPool) -> Lan:
    hub = netns_pool.create()
    bridge = netns_pool.bridge(hub)
    hosts = {}
    for name, number in HOST_NUMBERS.items():
        ns = netns_pool.create()
        netns_pool.attach(hub, bridge, ns)
        fast_dad(ns)
        ns.ip("addr", "add", f"{SUBNET4}.{number}/24", "dev", "eth0")
        ns.ip("addr", "add", f"{SUBNET6}{number}/64", "dev", "eth0", "nodad")
        hosts[name] = ns
    return Lan(hub, hosts)


def run_in(ns: Netns, agent: Path, action: str, params: Mapping[str, str], *,
           interval_ms: Optional[int] = None, timeout_ms: int = 20000,
           extra_env: Optional[Mapping[str, str]] = None) -> Result:
    """Run an agent inside ``ns`` with ``ip netns exec``, as on a node of that LAN."""
    env = agent_env(params, interval_ms=interval_ms, timeout_ms=timeout_ms, extra=extra_env)
    proc = subprocess.run(ns.exec_argv([str(agent), action]), capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def strip_reason(result: Result) -> str:
    return re.sub(r"\s+", " ", result.reason)


@pytest.fixture
def lone_host(netns_pool: NetnsPool) -> Iterator[Netns]:
    """One namespace with eth0 up (its veth peer in a second namespace), v4 and v6 subnets."""
    host = netns_pool.create()
    peer = netns_pool.create()
    netns_pool.veth(host, "eth0", peer, "eth0")
    fast_dad(host)
    host.ip("addr", "add", "198.18.1.1/24", "dev", "eth0")
    host.ip("addr", "add", "fd00:19::1/64", "dev", "eth0", "nodad")
    peer.ip("addr", "add", "198.18.1.2/24", "dev", "eth0")
    yield host
