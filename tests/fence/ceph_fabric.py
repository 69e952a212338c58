"""A Ceph cluster and a victim node on separate network namespaces, for fence_hakit_ceph.

The cluster (mon, mgr, OSD) and the agent run in namespace ``hub`` on 198.18.31.1; the
victim's Ceph clients run in namespace ``victim``, which has two addresses on the same
link.  Which of them a client speaks from is chosen by the route's source address, so a
real librados client can be made to come from either, as a node with two addresses on
the Ceph public network would.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ceph import CephCluster
from tests.harness.netns import Netns

HUB_ADDRESS = "198.18.31.1"
VICTIM_ADDRESSES = ("198.18.31.11", "198.18.31.12")
BYSTANDER_ADDRESS = "198.18.31.21"  # another node's, also on the victim's link
SUBNET = "198.18.31.0/24"
POOL = "fencetest"
OBJECT = "probe"

#: A long-lived librados client: connects, writes, then on each stdin line writes again and
#: prints the result (0 or the errno), as a frozen node's client would after resuming.
_CLIENT = textwrap.dedent("""
    import sys, rados
    r = rados.Rados(conffile=sys.argv[1], rados_id="admin",
                    conf={"keyring": sys.argv[2], "rados_osd_op_timeout": "8",
                          "client_mount_timeout": "8"})
    r.connect(timeout=8)
    io = r.open_ioctx(sys.argv[3])
    io.write_full("held", b"before")
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            io.write_full("held", b"after")
            print(0, flush=True)
        except rados.Error as exc:
            print(getattr(exc, "errno", -1) or -1, flush=True)
""")


@dataclass
class Fabric:
    cluster: CephCluster
    hub: Netns
    victim: Netns
    fence_keyring: Path  # client.fence: only what the agent needs
    fence_secret: str

    def node_map(self) -> str:
        return (f"node1:{','.join(VICTIM_ADDRESSES)};node2:{BYSTANDER_ADDRESS}")

    def params(self, **extra: str) -> dict[str, str]:
        base = {"node_addresses": self.node_map(), "cephconf": str(self.cluster.conf),
                "user": "fence", "keyring": str(self.fence_keyring)}
        base.update(extra)
        return base

    def use_source(self, address: str) -> None:
        """Make the victim's clients speak from ``address``."""
        self.victim.ip("route", "replace", SUBNET, "dev", "eth0", "src", address)

    def client_stat(self, address: str) -> subprocess.CompletedProcess[str]:
        """A fresh ``rados stat`` from ``address``: rc 0, or refused (ESHUTDOWN, 108)."""
        self.use_source(address)
        argv = ["/usr/bin/rados", "-c", str(self.cluster.conf), "--id", "admin",
                "--keyring", str(self.cluster.admin_keyring), "-p", POOL, "stat", OBJECT,
                "--rados-osd-op-timeout", "8", "--client-mount-timeout", "8"]
        return subprocess.run(self.victim.exec_argv(argv), capture_output=True, text=True,
                              timeout=60, check=False)

    def long_lived_client(self, address: str) -> subprocess.Popen[str]:
        """A connected client from ``address`` that has written once (see ``_CLIENT``)."""
        self.use_source(address)
        proc = subprocess.Popen(
            self.victim.exec_argv([sys.executable, "-c", _CLIENT, str(self.cluster.conf),
                                   str(self.cluster.admin_keyring), POOL]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", proc.stderr.read() if proc.stderr else line
        return proc


def make_fabric(cluster: CephCluster, hub: Netns, victim: Netns) -> Fabric:
    """Pool, object and the fence user on a started ``cluster``."""
    cluster.create_pool(POOL, rbd_init=False)
    cluster.run(["rados", "-p", POOL, "put", OBJECT, str(cluster.conf)])
    keyring = cluster.dir / "client.fence.keyring"
    cluster.run(["ceph", "auth", "get-or-create", "client.fence",
                 "mon", 'allow r, allow command "osd blocklist"', "osd", "allow r",
                 "-o", str(keyring)])
    keyring.chmod(0o600)
    secret = cluster.run(["ceph", "auth", "get-key", "client.fence"]).stdout.strip()
    return Fabric(cluster, hub, victim, keyring, secret)
