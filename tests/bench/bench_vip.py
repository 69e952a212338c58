"""ocf:hakit:vip against ocf:heartbeat:IPaddr2: monitor, start and stop on the same interface.

Both agents run inside one throwaway namespace through ``ip netns exec`` (the same wrapper
for both), on the same veth, each with its own address.  Byte-compiled modules are allowed
(an installed hakit is byte-compiled by Debian's python3 tooling), so the first run of each
command is a warm-up and is not counted.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence

from tests.bench.common import Stats, measure, ratio, run_once, table
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


def _cycle(label: str, ns: Netns, agent: str, params: Mapping[str, str],
           runs: int) -> tuple[Stats, Stats]:
    """Median start and stop cost over ``runs`` start/stop cycles."""
    starts: list[tuple[float, float]] = []
    stops: list[tuple[float, float]] = []
    env = _env(params)
    for _ in range(runs + 1):
        starts.append(run_once(ns.exec_argv([agent, "start"]), env))
        stops.append(run_once(ns.exec_argv([agent, "stop"]), env))
    starts, stops = starts[1:], stops[1:]  # the first cycle is the warm-up

    def stats(what: str, samples: Sequence[tuple[float, float]]) -> Stats:
        return Stats(f"{label} {what}", runs, statistics.median(s[0] for s in samples) * 1000,
                     statistics.median(s[1] for s in samples) * 1000)
    return stats("start", starts), stats("stop", stops)


def _monitor(label: str, argv: Sequence[str], params: Mapping[str, str]) -> Stats:
    env = _env(params, interval_ms=10000)
    run_once(argv, env)  # warm-up (byte-compiles hakit when allowed)
    return measure(label, argv, env, runs=MONITOR_RUNS)


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

        cycles = [
            *_cycle("IPaddr2 IPv4", host, IPADDR2, theirs4, START_RUNS),
            *_cycle("vip IPv4 (dad=true, 200 ms of ARP probes)", host, VIP, ours4, START_RUNS),
            *_cycle("vip IPv4 (dad=false)", host, VIP, ours4_nodad, START_RUNS),
        ]
        for agent, params in ((IPADDR2, theirs4), (VIP, ours4), (IPADDR2, theirs6),
                              (VIP, ours6)):
            run_once(host.exec_argv([agent, "start"]), _env(params))
        mon = [
            _monitor("IPaddr2 IPv4 monitor", host.exec_argv([IPADDR2, "monitor"]), theirs4),
            _monitor("vip IPv4 monitor", host.exec_argv([VIP, "monitor"]), ours4),
            _monitor("vip IPv4 monitor (network_namespace=, no ip netns exec)", [VIP, "monitor"],
                     ours4_netns),
            _monitor("IPaddr2 IPv6 monitor", host.exec_argv([IPADDR2, "monitor"]), theirs6),
            _monitor("vip IPv6 monitor", host.exec_argv([VIP, "monitor"]), ours6),
        ]
        base = [
            _monitor("python3 -c pass (interpreter start)", host.exec_argv(
                ["/usr/bin/python3", "-c", "pass"]), {}),
            _monitor("python3 -S -c pass (as the agents start)", host.exec_argv(
                ["/usr/bin/python3", "-S", "-c", "pass"]), {}),
            _monitor("python3 -S importing hakit.ocf.dispatch", host.exec_argv(
                ["/usr/bin/python3", "-S", "-c", "import hakit.ocf.dispatch"]), {}),
        ]
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
        f"- {ratio(cycles[4], cycles[0])}",
        f"- {ratio(cycles[3], cycles[1])} (stop)",
        "",
        "Where a Python agent's CPU goes (same wrapper):\n",
        table(base),
        "",
    ]
    return "\n".join(lines)
