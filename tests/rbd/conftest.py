"""Fixtures for the rbd agent: one real Ceph cluster per session, a fresh image per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.ceph import CephCluster
from tests.harness.ocf import AGENTS, run_agent

POOL = f"hakit-rbd-{os.getpid()}"  # unique per session: /dev/hakit/POOL never collides


@dataclass(frozen=True)
class RbdEnv:
    """The session's cluster, its pool and a cephx user with 'profile rbd' on that pool."""

    cluster: CephCluster
    pool: str
    user: str
    keyring: Path
    secret: str  # the bare key, to check it never leaks

    def params(self, image: str, **extra: str) -> dict[str, str]:
        """Agent parameters for ``image`` on the fuse path (the one that runs here)."""
        base = {"pool": self.pool, "image": image, "cephconf": str(self.cluster.conf),
                "user": self.user, "keyring": str(self.keyring), "device_type": "fuse"}
        base.update(extra)
        return base


def _need_ceph() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (fuse, loop devices)")
    if not (Path("/usr/bin/ceph-mon").exists() and Path("/usr/bin/rbd-fuse").exists()):
        pytest.skip("ceph and rbd-fuse are not installed")


@pytest.fixture(scope="session")
def rbd_env() -> Iterator[RbdEnv]:
    """A running one-node cluster for the whole session, stopped by PID at the end."""
    _need_ceph()
    cluster = CephCluster()
    cluster.start()
    try:
        cluster.create_pool(POOL)
        keyring, secret = cluster.create_user("hakit", POOL)
        yield RbdEnv(cluster, POOL, "hakit", keyring, secret)
    finally:
        cluster.stop()


@pytest.fixture
def image(rbd_env: RbdEnv) -> Iterator[str]:
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
