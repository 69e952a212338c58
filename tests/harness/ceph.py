"""The one-node Ceph cluster lives in the library (the lab runs it too); tests import it here."""

from hakit.lab.ceph import CephCluster, CephError, free_port

__all__ = ["CephCluster", "CephError", "free_port"]
