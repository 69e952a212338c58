"""A node's Ceph blocklist entries seen as a power device: OFF means cut off from Ceph.

"Off" is in effect when every address of the node is on the blocklist the monitors have
committed *and* every OSD that is up has an OSD map at least as new (an OSD with an older
map still serves the node); that is what ``get_power`` checks, so the generic driver's
verification polling ("Verifiable operation", fence-agent API) waits for exactly that.
OSDs answer the epoch question (``tell osd.N status``) only to a user with osd caps
'allow *'; a fence user without them (the recommended caps) is told so once in the log and
verification rests on the committed map, which the monitors push to every OSD on commit.
"""

from __future__ import annotations

import logging

from hakit.deadline import Deadline
from hakit.errors import ArgsError, UnimplementedError
from hakit.fence.device import PowerState
from hakit.fence.errors import StateUnchanged
from hakit.fence.nodemap import host_entity
from hakit.os.ceph import Cluster


class BlocklistDevice:
    """The blocklist entries (``IP:0/0``) of one node's Ceph public-network addresses."""

    def __init__(self, cluster: Cluster, node: str, addresses: tuple[str, ...],
                 expire: int, log: logging.Logger) -> None:
        self._cluster = cluster
        self._node = node
        self._entries = tuple(host_entity(a) for a in addresses)
        self._expire = expire
        self._log = log
        self._ask_osds = True  # False once an OSD refused: not asked again this run

    def _present(self) -> list[str]:
        listed = {entry.address for entry in self._cluster.blocklist()}
        return [e for e in self._entries if e in listed]

    def get_power(self, deadline: Deadline) -> PowerState:
        """OFF only when every entry is listed and every up OSD has the map holding it."""
        del deadline  # the cluster client is bounded by the action's deadline
        present = self._present()
        if len(present) < len(self._entries):
            if present:
                missing = sorted(set(self._entries) - set(present))
                self._log.warning("node %s is only partly blocklisted (missing %s)",
                                  self._node, ", ".join(missing))
            return PowerState.ON
        if not self._ask_osds:
            return PowerState.OFF
        epoch, up = self._cluster.osdmap_epoch()
        try:
            lagging = [osd for osd in up if self._cluster.osd_newest_map(osd) < epoch]
        except ArgsError as exc:
            self._log.info("not checking the OSDs' map epochs: %s; the blocklist is "
                           "committed at epoch %d", exc.reason, epoch)
            self._ask_osds = False
            return PowerState.OFF
        if lagging:
            self._log.debug("blocklisted at epoch %d, not yet known to osd.%s", epoch,
                            ", osd.".join(map(str, lagging)))
            return PowerState.ON
        return PowerState.OFF

    def request_power(self, state: PowerState, deadline: Deadline) -> None:
        """OFF: add every entry (idempotent). ON: remove exactly this node's entries and
        read the blocklist back (removal has no OSD-side lag to wait for)."""
        del deadline
        if state is PowerState.OFF:
            self._log.info("blocklisting %s (node %s)", ", ".join(self._entries), self._node)
            self._cluster.blocklist_add_all(self._entries, self._expire)
            return
        present = self._present()
        if present:
            self._log.info("removing %s (node %s) from the blocklist", ", ".join(present),
                           self._node)
            self._cluster.blocklist_remove_all(present)
        left = self._present()
        if left:
            raise StateUnchanged(f"node {self._node} is still blocklisted as "
                                 f"{', '.join(left)} after removing its entries")

    def request_cycle(self, deadline: Deadline) -> None:
        del deadline
        raise UnimplementedError("the Ceph blocklist has no power cycle; use off")
