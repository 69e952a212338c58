"""The test cluster itself: it also runs in a namespace on a lab address, and leaves nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness.ceph import CephCluster, CephError
from tests.harness.netns import NetnsPool


def test_cluster_in_a_namespace_on_a_bridge_address(netns_pool: NetnsPool) -> None:
    ns = netns_pool.create()
    bridge = netns_pool.bridge(ns)
    ns.ip("addr", "add", "198.18.40.1/24", "dev", bridge)
    cluster = CephCluster(address="198.18.40.1", netns=ns.name)
    cluster.start()
    try:
        assert cluster.mon_host.startswith("v2:198.18.40.1:")
        cluster.create_pool("lab")
        cluster.create_image("lab/disk")
        assert "disk" in cluster.run(["rbd", "ls", "lab"]).stdout
        assert len(ns.pids()) >= 3  # mon, mgr and osd run inside the namespace
    finally:
        cluster.stop()
    assert ns.pids() == []
    assert not cluster.dir.exists()


def test_failed_start_stops_what_started(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    cluster = CephCluster(base=tmp_path)
    # An OSD that never comes up (whatever the machine's load: a short timeout alone may
    # pass on a loaded machine, where every step before the wait outlasts it): the monitor,
    # manager and OSD have started and must be stopped.
    cluster._osd_up = lambda: False  # type: ignore[method-assign]
    with pytest.raises(CephError):
        cluster.start(timeout=5.0)
    assert len(cluster.started_pids) == 3
    assert not cluster.dir.exists()
    for pid in cluster.started_pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
