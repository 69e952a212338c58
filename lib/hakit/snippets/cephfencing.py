"""Fencing through the Ceph blocklist in the snippets: fence_hakit_ceph after the BMCs.

Levels per node: 1 IPMI, (2 Redfish,) then the Ceph blocklist; without BMCs, the Ceph
blocklist alone.  The resources the Ceph level protects carry ``requires=unfencing`` (the
stack snippet's ``--requires-unfencing``), so a node let back in after being cut off is
unfenced, and re-maps its images, before it runs them again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hakit.snippets.model import Config, FencingLevel, Item, Op, Primitive, Property
from hakit.snippets.stacks import IPAddress, fencing

#: The Ceph fence device: one for every node (it fences by the node map, so it may run
#: anywhere; Pacemaker never runs a fencing action on its target).
CEPH_FENCE_DEVICE = "fence-ceph"
# The Ceph fence device's monitor reads the blocklist from the monitors.
CEPH_FENCE_OPS = (Op("monitor", "60s", "60s"),)
# meta provides=unfencing: Pacemaker unfences a node (fence_hakit_ceph on, run there) before
# any resource that requires unfencing starts on it (Pacemaker Explained, "Unfencing").
CEPH_FENCE_META = (("provides", "unfencing"),)
#: Meta attribute of the resources the Ceph level protects: they start only on an unfenced
#: node, so a node let back after a fence re-maps its images instead of resuming them.
REQUIRES_UNFENCING = (("requires", "unfencing"),)
#: A BMC device followed by the Ceph level is tried once, not Pacemaker's default twice
#: (pcmk_reboot_retries/pcmk_off_retries=2): a BMC that did not answer within its login
#: timeout has usually lost power with its node, and the level after it is the retry.
#: Measured in the lab: 2 x 5.6 s of level 1 before level 2 with the default, 5.6 s with 1.
#: Its start and monitor are tried once too: a transition that starts a device whose BMC
#: is dead (it moved) runs the fencing only after that start has failed.
BMC_RETRIES = (("pcmk_reboot_retries", "1"), ("pcmk_off_retries", "1"),
               ("pcmk_monitor_retries", "1"))
#: ... and BMC devices stay where they run (Pacemaker's default stickiness is 0): in the
#: lab, a node that came back drew a dead BMC's device over to it in the transition that
#: fenced the next node, whose fencing then waited 25 s for that device's failed starts.
BMC_STICKINESS = (("resource-stickiness", "100"),)


@dataclass(frozen=True)
class CephFencing:
    """fence_hakit_ceph's settings for the fencing snippet."""

    nodes: tuple[tuple[str, tuple[IPAddress, ...]], ...]  # each node's Ceph public addresses
    user: str = "fence"  # cephx id with mon 'allow r, allow command "osd blocklist"'
    cephconf: str = "/etc/ceph/ceph.conf"
    keyring: str = "/etc/ceph/ceph.client.fence.keyring"

    def node_map(self) -> str:
        return ";".join(f"{node}:{','.join(str(a) for a in addrs)}"
                        for node, addrs in self.nodes)


def ceph_fence_device(ceph: CephFencing) -> Primitive:
    """The one fence_hakit_ceph device, providing unfencing."""
    return Primitive(
        CEPH_FENCE_DEVICE, "stonith:fence_hakit_ceph",
        (("node_addresses", ceph.node_map()), ("cephconf", ceph.cephconf),
         ("user", ceph.user), ("keyring", ceph.keyring),
         ("pcmk_host_list", ",".join(node for node, _ in ceph.nodes))),
        CEPH_FENCE_OPS, meta=CEPH_FENCE_META,
        comment="cuts a node off from Ceph (OSD blocklist) when its BMC cannot fence it")


def _tried_once(item: Item) -> Item:
    """A BMC device with BMC_RETRIES and BMC_STICKINESS added; anything else unchanged."""
    if isinstance(item, Primitive) and item.agent.startswith("stonith:"):
        return dataclasses.replace(item, params=item.params + BMC_RETRIES,
                                   meta=item.meta + BMC_STICKINESS)
    return item


def fencing_with_ceph(bmcs: tuple[tuple[str, IPAddress], ...], username: str,
                      password_script: str, redfish: tuple[tuple[str, IPAddress], ...],
                      ceph: CephFencing) -> Config:
    """BMC fencing (if any) with the Ceph blocklist as the last level; Ceph alone without
    BMCs.  Levels per node: 1 IPMI, (2 Redfish,) then Ceph."""
    base = fencing(bmcs, username, password_script, redfish).items if bmcs else ()
    items: list[Item] = [_tried_once(i) for i in base
                         if not isinstance(i, (FencingLevel, Property))]
    items.append(ceph_fence_device(ceph))
    redfish_of = dict(redfish)
    bmc_nodes = {node for node, _ in bmcs}
    if bmc_nodes:
        for node, _ in ceph.nodes:
            levels = [f"fence-{node}"] + ([f"fence-{node}-redfish"] if node in redfish_of
                                          else [])
            for index, device in enumerate([*levels, CEPH_FENCE_DEVICE], start=1):
                items.append(FencingLevel(node, index, (device,)))
    items.append(Property("stonith-enabled", "true"))
    what = "BMC first, then the Ceph blocklist" if bmcs else "the Ceph blocklist alone"
    return Config(f"hakit fencing: {what}", tuple(items), notes=(
        "Resources using Ceph need meta requires=unfencing (the stack snippet's "
        "requires-unfencing option), so a fenced node is unfenced before it runs them "
        "again.",))
