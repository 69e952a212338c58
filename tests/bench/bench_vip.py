"""ocf:hakit:vip against ocf:heartbeat:IPaddr2: monitor, start and stop on the same interface.

Both agents run inside one throwaway namespace through ``ip netns exec`` (the same wrapper
for both), on the same veth, each with its own address, taking turns run by run so that
the machine's load weighs on both alike.  Byte-compiled modules are allowed
(an installed hakit is byte-compiled by Debian's python3 tooling), so the first run of each
command is a warm-up and is not counted.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence

from tests.bench.common import Stats, ratio, run_once, table
from tests.harness.netns import Netns, NetnsPool
from tests.harness.ocf import AGENTS, LIB

IPADDR2 = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"
VIP = str(AGENTS / "vip")
MONITOR_RUNS = 60
START_RUNS = 12


def _env(params: Mapping[str, str], interval_ms: int = 0) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "bench",
           "OCF_RESKEY_CRM_meta_timeout": "20000",
           "OCF_RESKEY_CRM_meta_interval": str(interval_ms)}
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    return env


def _median_stats(label: str, samples: Sequence[tuple[float, float]]) -> Stats:
    return Stats(label, len(samples), statistics.median(s[0] for s in samples) * 1000,
                 statistics.median(s[1] for s in samples) * 1000)


def _cycles(ns: Netns, runs: int,
            agents: Sequence[tuple[str, str, Mapping[str, str]]]) -> list[Stats]:
    """Median start and stop cost of each ``(label, agent, params)`` over ``runs`` cycles.

    The agents take turns cycle by cycle (A B C A B C ...), so that a change in the
    machine's load during the run weighs on all of them alike.
    """
    starts: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in agents}
    stops: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in agents}
    for _ in range(runs + 1):
        for label, agent, params in agents:
            env = _env(params)
            starts[label].append(run_once(ns.exec_argv([agent, "start"]), env))
            stops[label].append(run_once(ns.exec_argv([agent, "stop"]), env))
    found = []
    for label, _, _ in agents:  # the first cycle is the warm-up
        found += [_median_stats(f"{label} start", starts[label][1:]),
                  _median_stats(f"{label} stop", stops[label][1:])]
    return found


def _monitors(runs: int, monitors: Sequence[tuple[str, Sequence[str], Mapping[str, str]]]
              ) -> list[Stats]:
    """Median cost of each ``(label, argv, params)`` monitor, the monitors taking turns."""
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in monitors}
    for _ in range(runs + 1):
        for label, argv, params in monitors:
            samples[label].append(run_once(argv, _env(params, interval_ms=10000)))
    # The first round is the warm-up (byte-compiles hakit when allowed).
    return [_median_stats(label, samples[label][1:]) for label, _, _ in monitors]


def main() -> str:
    if not os.path.exists(IPADDR2) or os.geteuid() != 0:
        return "## vip\n\nskipped: needs root and resource-agents' IPaddr2\n"
    pool = NetnsPool()
    try:
        host, peer = pool.create(), pool.create()
        pool.veth(host, "eth0", peer, "eth0")
        host.ip("addr", "add", "198.18.2.1/24", "dev", "eth0")
        host.ip("addr", "add", "fd00:1a::1/64", "dev", "eth0", "nodad")
        peer.ip("addr", "add", "198.18.2.2/24", "dev", "eth0")
        theirs4 = {"ip": "198.18.2.11", "cidr_netmask": "24", "nic": "eth0"}
        ours4 = {"ip": "198.18.2.10", "cidr_netmask": "24", "nic": "eth0"}
        ours4_nodad = {**ours4, "dad": "false"}
        ours4_netns = {**ours4, "network_namespace": host.name}
        ours6 = {"ip": "fd00:1a::10", "cidr_netmask": "64", "nic": "eth0", "dad": "false"}
        theirs6 = {"ip": "fd00:1a::11", "cidr_netmask": "64", "nic": "eth0"}

        cycles = _cycles(host, START_RUNS, [
            ("IPaddr2 IPv4", IPADDR2, theirs4),
            ("vip IPv4 (dad=true, 200 ms of ARP probes)", VIP, ours4),
            ("vip IPv4 (dad=false)", VIP, ours4_nodad),
        ])
        for agent, params in ((IPADDR2, theirs4), (VIP, ours4), (IPADDR2, theirs6),
                              (VIP, ours6)):
            run_once(host.exec_argv([agent, "start"]), _env(params))
        mon = _monitors(MONITOR_RUNS, [
            ("IPaddr2 IPv4 monitor", host.exec_argv([IPADDR2, "monitor"]), theirs4),
            ("vip IPv4 monitor", host.exec_argv([VIP, "monitor"]), ours4),
            ("vip IPv4 monitor (network_namespace=, no ip netns exec)", [VIP, "monitor"],
             ours4_netns),
            ("IPaddr2 IPv6 monitor", host.exec_argv([IPADDR2, "monitor"]), theirs6),
            ("vip IPv6 monitor", host.exec_argv([VIP, "monitor"]), ours6),
        ])
        base = _monitors(MONITOR_RUNS, [
            ("python3 -c pass (interpreter start)", host.exec_argv(
                ["/usr/bin/python3", "-c", "pass"]), {}),
            ("python3 -S -c pass (as the agents start)", host.exec_argv(
                ["/usr/bin/python3", "-S", "-c", "pass"]), {}),
            ("python3 -S importing hakit.ocf.dispatch", host.exec_argv(
                ["/usr/bin/python3", "-S", "-c", "import hakit.ocf.dispatch"]), {}),
        ])
    finally:
        pool.cleanup()
    lines = [
        "## vip (ocf:hakit:vip vs ocf:heartbeat:IPaddr2)\n",
        "Monitor (recurring, interval 10 s), same interface, same `ip netns exec` wrapper:\n",
        table(mon),
        "",
        f"- {ratio(mon[1], mon[0])}",
        f"- {ratio(mon[4], mon[3])}",
        "",
        "Start and stop (medians over start/stop cycles):\n",
        table(cycles),
        "",
        f"- {ratio(cycles[2], cycles[0])}",
        f"- {ratio(cycles[4], cycles[0])}",
        f"- {ratio(cycles[3], cycles[1])}",
        f"- {ratio(cycles[5], cycles[1])}",
        "",
        "Where a Python agent's CPU goes (same wrapper):\n",
        table(base),
        "",
    ]
    return "\n".join(lines)
