"""The one-node Ceph cluster lives in the library (the lab runs it too); tests import it here,
with what the rbd and container tests share: a pool and a cephx user on that cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.ceph import CephCluster, CephError, free_port

__all__ = ["CephCluster", "CephEnv", "CephError", "free_port"]


@dataclass(frozen=True)
class CephEnv:
    """A pool on the session's cluster and a cephx user with 'profile rbd' on that pool."""

    cluster: CephCluster
    pool: str
    user: str
    keyring: Path
    secret: str  # the bare key, to check it never leaks

    @classmethod
    def create(cls, cluster: CephCluster, pool: str, user: str) -> CephEnv:
        cluster.create_pool(pool)
        keyring, secret = cluster.create_user(user, pool)
        return cls(cluster, pool, user, keyring, secret)

    def params(self, image: str, **extra: str) -> dict[str, str]:
        """ocf:hakit:rbd parameters for ``image`` on the fuse path (the one that runs here)."""
        base = {"pool": self.pool, "image": image, "cephconf": str(self.cluster.conf),
                "user": self.user, "keyring": str(self.keyring), "device_type": "fuse"}
        base.update(extra)
        return base
