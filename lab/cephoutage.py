"""Ceph unreachable from every node for a while, and back: a storage network outage.

The lab's Ceph daemons run in the hub namespace on the hub's address, which the nodes
reach over the hub bridge (``lab.ceph``, ``lab.services``).  ``cut`` drops, in the hub,
every packet that arrives on the bridge for a Ceph port or leaves on it from one: the
nodes' clients (rbd-fuse, the agents, the fence agent) hear nothing, as behind a failed
storage switch, while corosync between the nodes, the BMCs and the hub's HTTP clients go
on as before.  Dropped, not refused: a real outage answers nothing, and TCP connections
open across it carry on once ``restore`` removes the rules (the daemons themselves talk
to each other on the hub's own address, never over the bridge, so the cluster stays
healthy).  The rules live in the hub namespace: the lab's teardown removes them with it.

Ceph here speaks msgr2 only: the monitor on its port, the OSD and the manager on ports
from Ceph's bind range (``ms_bind_port_min`` to ``ms_bind_port_max``, defaults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakit.deadline import Deadline
from lab.layout import BRIDGE

if TYPE_CHECKING:
    from lab.ceph import CephCluster
    from lab.cluster import Lab

TABLE = "hakit_lab_ceph_outage"
#: Ceph's defaults for ms_bind_port_min and ms_bind_port_max (the lab does not set them).
DAEMON_PORTS = "6800-7300"
NFT_TIMEOUT = 10.0


def ruleset(mon_port: int) -> str:
    """The nft script that cuts the bridge off the Ceph daemons (pure)."""
    ports = f"{{ {mon_port}, {DAEMON_PORTS} }}"
    return (f"table inet {TABLE} {{\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f'    iifname "{BRIDGE}" tcp dport {ports} drop\n'
            "  }\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f'    oifname "{BRIDGE}" tcp sport {ports} drop\n'
            "  }\n"
            "}\n")


def cut(lab: Lab, ceph: CephCluster) -> None:
    """Ceph unreachable from every node until ``restore``."""
    with lab.progress.step(f"Ceph outage: ports {ceph.mon_port} and {DAEMON_PORTS} of "
                           f"{ceph.address} cut off the bridge"):
        lab.runner.run(["ip", "netns", "exec", lab.layout.hub_netns, "nft", "-f", "-"],
                       Deadline(NFT_TIMEOUT), stdin=ruleset(ceph.mon_port))


def restore(lab: Lab) -> None:
    """Ceph reachable again (idempotent: nothing to do when there is no cut)."""
    if not is_cut(lab):
        return
    with lab.progress.step("Ceph outage over: the bridge reaches Ceph again"):
        lab.runner.run(["ip", "netns", "exec", lab.layout.hub_netns, "nft", "delete",
                        "table", "inet", TABLE], Deadline(NFT_TIMEOUT))


def is_cut(lab: Lab) -> bool:
    res = lab.runner.run(["ip", "netns", "exec", lab.layout.hub_netns, "nft", "list",
                          "table", "inet", TABLE], Deadline(NFT_TIMEOUT), check=False)
    return res.ok
