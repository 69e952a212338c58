"""Benchmark ocf:hakit:rbd on the fuse path against a real one-node cluster.

ClusterLabs' ocf:ceph:rbd needs the krbd module, which this kernel lacks, so there is no
side-by-side figure: this measures monitor depth 0 and 10 and a start/stop cycle.
"""

from __future__ import annotations

import statistics
import uuid

from tests.bench.common import Stats, measure, run_once, table
from tests.harness.ceph import CephCluster
from tests.harness.ocf import AGENTS, agent_env

AGENT = str(AGENTS / "rbd")


def _cycle(env_start: dict[str, str], env_stop: dict[str, str], runs: int) -> list[Stats]:
    starts, stops = [], []
    for _ in range(runs):
        starts.append(run_once([AGENT, "start"], env_start))
        stops.append(run_once([AGENT, "stop"], env_stop))
    return [Stats(label, runs, statistics.median(w for w, _ in rows) * 1000,
                  statistics.median(c for _, c in rows) * 1000)
            for label, rows in (("start (fuse)", starts), ("stop (fuse)", stops))]


def main() -> str:
    cluster = CephCluster()
    cluster.start()
    try:
        pool = "bench"
        cluster.create_pool(pool)
        keyring, _ = cluster.create_user("bench", pool)
        image = f"img-{uuid.uuid4().hex[:8]}"
        cluster.create_image(f"{pool}/{image}")
        params = {"pool": pool, "image": image, "cephconf": str(cluster.conf),
                  "user": "bench", "keyring": str(keyring), "device_type": "fuse"}
        cycle = _cycle(agent_env(params), agent_env(params), 10)
        run_once([AGENT, "start"], agent_env(params))
        try:
            rows = [
                measure("monitor depth 0 (fuse)", [AGENT, "monitor"],
                        agent_env(params, interval_ms=10000), runs=30),
                measure("monitor depth 10 (fuse)", [AGENT, "monitor"],
                        agent_env(params, interval_ms=60000, extra={"OCF_CHECK_LEVEL": "10"}),
                        runs=20),
            ]
        finally:
            run_once([AGENT, "stop"], agent_env(params))
        stopped = measure("probe, not mapped", [AGENT, "monitor"],
                          agent_env(params, interval_ms=0), runs=30, expect=(7,))
    finally:
        cluster.stop()
    return ("## rbd (ocf:hakit:rbd)\n\n"
            "One-node test cluster (memstore OSD) on loopback; device_type=fuse (rbd-fuse + "
            "loop), the only path this host kernel runs. ocf:ceph:rbd needs krbd: the "
            "side-by-side comparison runs in a kernel guest (bench_rbd_kernel). Start's CPU "
            "excludes the "
            "rbd-fuse daemon it leaves running.\n\n" + table([*rows, stopped, *cycle]) + "\n")
