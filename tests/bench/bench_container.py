"""Benchmark ocf:hakit:container's monitor against the four primitives of one group.

One real stack (a one-node Ceph cluster, rbd-fuse + loop, ext4, a busybox container, a VIP in
a test namespace) is started with the composite; then the composite's depth-0 monitor and
each primitive's depth-0 monitor of the very same layers are timed, and the projected CPU
of 100 containers monitored every 10 s is worked out for both shapes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.bench.common import Stats, measure, run_once, table
from tests.container.conftest import (
    AGENT,
    POOL,
    VIP4,
    CephEnv,
    StackFactory,
    _kill_leftover_fuse,
)
from tests.harness.ceph import CephCluster
from tests.harness.netns import NetnsPool
from tests.harness.ocf import AGENTS, agent_env

CONTAINERS = 100
INTERVAL_S = 10.0
RUNS = 30


def _projection(label: str, cpu_ms: float) -> str:
    per_second = CONTAINERS * cpu_ms / INTERVAL_S  # CPU ms spent per second of wall time
    return f"| {label} | {cpu_ms:.1f} | {per_second:.0f} | {per_second / 10:.1f} % |"


def main() -> str:
    cluster = CephCluster()
    cluster.start()
    netns = NetnsPool()
    try:
        cluster.create_pool(POOL)
        keyring, secret = cluster.create_user("hakit", POOL)
        env = CephEnv(cluster, POOL, "hakit", keyring, secret)
        with tempfile.TemporaryDirectory() as tmp:
            factory = StackFactory(env, Path(tmp) / "lxc", netns)
            factory.lxcpath.mkdir()
            try:
                stack = factory.create(vip=True)
                params = stack.params()
                run_once([str(AGENT), "start"], agent_env(params, timeout_ms=120000))
                assert stack.netns is not None
                primitives = {
                    "rbd": stack.rbd_params(),
                    "fs": {"device": str(stack.device), "directory": str(stack.directory)},
                    "lxc": {"name": stack.name, "lxcpath": str(stack.lxcpath)},
                    "vip": {"ip": VIP4, "cidr_netmask": "24", "nic": "eth0",
                            "network_namespace": stack.netns.name},
                }
                composite = measure("ocf:hakit:container monitor (all four layers)",
                                    [str(AGENT), "monitor"],
                                    agent_env(params, interval_ms=10000), runs=RUNS)
                parts = [measure(f"ocf:hakit:{name} monitor", [str(AGENTS / name), "monitor"],
                                 agent_env(values, interval_ms=10000), runs=RUNS)
                         for name, values in primitives.items()]
                deep = measure("ocf:hakit:container monitor depth 10 (+ Ceph lock)",
                               [str(AGENT), "monitor"],
                               agent_env(params, interval_ms=60000,
                                         extra={"OCF_CHECK_LEVEL": "10"}), runs=10)
                run_once([str(AGENT), "stop"], agent_env(params, timeout_ms=120000))
            finally:
                factory.cleanup()
    finally:
        netns.cleanup()
        _kill_leftover_fuse(POOL)
        cluster.stop()
    group = Stats("sum of the four primitives (one group)", RUNS,
                  sum(p.wall_ms for p in parts), sum(p.cpu_ms for p in parts))
    factor = group.cpu_ms / composite.cpu_ms
    return ("## container (ocf:hakit:container)\n\n"
            "One stack started with the composite: one-node Ceph cluster (memstore OSD) on "
            "loopback, device_type=fuse, ext4, a busybox container, a VIP in a test network "
            "namespace. Each row is a whole agent run at depth 0 (medians), the primitives "
            "monitoring the very same layers.\n\n"
            + table([composite, *parts, group, deep]) + "\n\n"
            f"The composite's monitor costs {factor:.2f}x less CPU than the group's four "
            "(target: at least 2x): one interpreter start and one import of the library "
            "instead of four.\n\n"
            f"Projected for {CONTAINERS} containers, every layer monitored every "
            f"{INTERVAL_S:g} s:\n\n"
            "| shape | CPU ms per container per interval | CPU ms per second | of one CPU |\n"
            "|---|---|---|---|\n"
            + _projection("composite (1 monitor)", composite.cpu_ms) + "\n"
            + _projection("group (4 monitors)", group.cpu_ms) + "\n")
