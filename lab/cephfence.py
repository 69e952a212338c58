"""The lab's second fencing level: fence_hakit_ceph, after each node's BMC.

With ``LabServices(ceph_fencing=True)`` the lab gets a cephx user for the fence agent
with only the caps it needs (the docs' recommendation), its keyring in every node's /etc,
the fencing snippet's ``--ceph`` set-up (level 1 the node's BMC, level 2 the Ceph
blocklist, one ``fence-ceph`` device providing unfencing) and the stack with
``requires=unfencing``.  The lab's nodes reach Ceph from their ``eth0`` address only, so
that is each node's entry in the node map.
"""

from __future__ import annotations

from pathlib import Path

from hakit.os import ceph
from lab import image, stack
from lab.ceph import CephCluster
from lab.layout import LabLayout, LabNode

FENCE_USER = "hakitfence"
#: Inside each node's /etc (the lab's /etc overlay, ``lab.image``).
FENCE_KEYRING = "/etc/ceph/hakit-lab-fence.keyring"
DEVICE = "fence-ceph"  # hakit.snippets.cephfencing.CEPH_FENCE_DEVICE
CAPS = ("mon", 'allow r, allow command "osd blocklist"', "osd", "allow r")


def keyring_file(state_dir: Path) -> Path:
    """The fence keyring as the nodes' /etc overlay holds it."""
    return image.etc_dir(state_dir) / "ceph" / Path(FENCE_KEYRING).name


def create_user(cluster: CephCluster, state_dir: Path) -> None:
    """The fence user, its keyring written into the file the nodes already see."""
    made = cluster.dir / f"client.{FENCE_USER}.keyring"
    cluster.run(["ceph", "auth", "get-or-create", f"client.{FENCE_USER}", *CAPS,
                 "-o", str(made)])
    target = keyring_file(state_dir)
    # Into the same inode: a node's overlay shows the file made (empty) before it booted.
    with open(target, "wb") as out:
        out.write(made.read_bytes())


def snippet_args(layout: LabLayout) -> list[str]:
    """``hakit-snippet fencing`` options adding the Ceph level for every node."""
    args = []
    for n in layout.nodes:
        args += ["--ceph", f"{n.name}={n.address.ip}"]
    return [*args, "--ceph-fence-user", FENCE_USER, "--ceph-fence-keyring", FENCE_KEYRING,
            "--ceph-fence-conf", stack.CEPH_CONF]


def entry(node: LabNode) -> str:
    """The blocklist entry that fences ``node`` (hakit.fence.nodemap.host_entity)."""
    return f"{node.address.ip}:0/0"


def blocklist(cluster: CephCluster) -> set[str]:
    """Every address on the OSD blocklist, as the monitors list it."""
    out = cluster.run(["ceph", "osd", "blocklist", "ls", "--format", "json"]).stdout
    return {e.address for e in ceph.parse_blocklist(out)}


def is_fenced(cluster: CephCluster, node: LabNode) -> bool:
    return entry(node) in blocklist(cluster)
