"""fence_hakit_ceph: time to a verified fence (off) and to an unfence (on), next to the
bare ``ceph osd blocklist add`` an admin would type (no verification, no removal
bookkeeping). No Debian fence agent fences through Ceph, so the CLI is the reference.

The cluster and the agent run in one network namespace, as in tests/fence (one mon, one
memstore OSD); the victim node has two addresses, so off is two monitor commits.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from tests.bench.common import Stats, run_once, table
from tests.fence.ceph_fabric import BYSTANDER_ADDRESS, HUB_ADDRESS, VICTIM_ADDRESSES, make_fabric
from tests.harness.ceph import CephCluster
from tests.harness.netns import NetnsPool
from tests.harness.ocf import AGENTS, LIB

RUNS = 10


def _pairs(label: str, off: Sequence[str], on: Sequence[str], env: dict[str, str],
           runs: int = RUNS) -> tuple[Stats, Stats]:
    offs, ons, off_cpu, on_cpu = [], [], [], []
    for _ in range(runs):
        wall, cpu = run_once(off, env)
        offs.append(wall)
        off_cpu.append(cpu)
        wall, cpu = run_once(on, env)
        ons.append(wall)
        on_cpu.append(cpu)
    return (Stats(f"{label} off", runs, statistics.median(offs) * 1000,
                  statistics.median(off_cpu) * 1000),
            Stats(f"{label} on", runs, statistics.median(ons) * 1000,
                  statistics.median(on_cpu) * 1000))


def main() -> str:
    pool = NetnsPool()
    try:
        hub, victim = pool.create(), pool.create()
        pool.veth(hub, "eth0", victim, "eth0")
        hub.ip("addr", "add", f"{HUB_ADDRESS}/24", "dev", "eth0")
        for address in (*VICTIM_ADDRESSES, BYSTANDER_ADDRESS):
            victim.ip("addr", "add", f"{address}/24", "dev", "eth0")
        with CephCluster(address=HUB_ADDRESS, netns=hub.name) as cluster:
            fab = make_fabric(cluster, hub, victim)
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
                   "PYTHONWARNINGS": "ignore"}
            agent = hub.exec_argv([str(AGENTS / "fence_hakit_ceph")])
            common = ["--node-addresses", fab.node_map(), "--cephconf", str(cluster.conf),
                      "-n", "node1"]
            fence_user = [*common, "--user", "fence", "--keyring", str(fab.fence_keyring)]
            admin = [*common, "--user", "admin", "--keyring", str(cluster.admin_keyring)]
            cli = hub.exec_argv(["/usr/bin/ceph", "-c", str(cluster.conf), "--id", "admin",
                                 "--keyring", str(cluster.admin_keyring)])
            rows = [
                *_pairs("fence_hakit_ceph (user fence, committed map)",
                        [*agent, *fence_user, "-o", "off"], [*agent, *fence_user, "-o", "on"],
                        env),
                *_pairs("fence_hakit_ceph (admin: every OSD's map checked)",
                        [*agent, *admin, "-o", "off"], [*agent, *admin, "-o", "on"], env),
            ]
            cli_off = [*cli, "osd", "blocklist", "add", VICTIM_ADDRESSES[0]]
            cli_on = [*cli, "osd", "blocklist", "rm", VICTIM_ADDRESSES[0]]
            add, rm = _pairs("ceph CLI, one address, unverified", cli_off, cli_on, env)
            rows += [Stats("ceph CLI osd blocklist add, one address", *_rest(add)),
                     Stats("ceph CLI osd blocklist rm, one address", *_rest(rm))]
    finally:
        pool.cleanup()
    by = {r.label: r for r in rows}
    ours = by["fence_hakit_ceph (user fence, committed map) off"]
    theirs = by["ceph CLI osd blocklist add, one address"]
    return "\n".join([
        "## fence_hakit_ceph (time to verified fenced)", "",
        "One-node Ceph 16.2 (mon, memstore OSD) and the agent in one network namespace; the "
        f"victim has {len(VICTIM_ADDRESSES)} addresses, so off and on are "
        f"{len(VICTIM_ADDRESSES)} monitor commits each. Each off is followed by an on.", "",
        table(rows), "",
        f"- off (both addresses, verified) / CLI add of one address: "
        f"{ours.wall_ms / theirs.wall_ms:.2f}x wall, {ours.cpu_ms / theirs.cpu_ms:.2f}x CPU",
        ""])


def _rest(stats: Stats) -> tuple[int, float, float]:
    return stats.runs, stats.wall_ms, stats.cpu_ms
