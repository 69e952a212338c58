"""Fixtures for the rbd agent: a pool on the session's Ceph cluster, a fresh image per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.harness.ceph import CephCluster, CephEnv
from tests.harness.ocf import AGENTS, run_agent

POOL = f"hakit-rbd-{os.getpid()}"  # unique per session: /dev/hakit/POOL never collides


@pytest.fixture(scope="session")
def rbd_env(ceph_cluster: CephCluster) -> CephEnv:
    """This session's pool for the rbd tests and the cephx user client.hakit."""
    return CephEnv.create(ceph_cluster, POOL, "hakit")


@pytest.fixture
def image(rbd_env: CephEnv) -> Iterator[str]:
    """A new 64 MiB image (exclusive-lock on), unmapped after the test."""
    name = f"img-{uuid.uuid4().hex[:8]}"
    rbd_env.cluster.create_image(f"{rbd_env.pool}/{name}")
    try:
        yield name
    finally:
        # Whatever the test left mapped is unmapped by the agent itself.
        run_agent(AGENTS / "rbd", "stop", rbd_env.params(name))
        # The image itself is not removed: a killed client's watch lingers ~30 s and would
        # block removal, and the whole cluster is discarded at the end of the session.
