"""A node lost together with its BMC: fenced at level 2, the Ceph blocklist, then let back.

For a lab brought up with ``LabServices(ceph_fencing=True)`` (``lab.cephfence``):
``crash`` kills the node's BMC and then the node, times the failover like the BMC demo
(``Demo.crash_and_recover``) and names the level that fenced it: the BMC cannot have, so
the node's address must be on the Ceph blocklist.  ``rejoin`` is the repair: the BMC
back, the node booted; Pacemaker unfences it (fence_hakit_ceph ``on``, run on the node)
before it may run the stack again, which removes its blocklist entry.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError
from lab import bmc, bmcfault, cephfence
from lab.ceph import CephCluster
from lab.cluster import Lab
from lab.demo import REJOIN_TIMEOUT, Demo, Failover
from lab.status import ClusterState

LEVEL_BMC = "level 1, its BMC (fence_hakit)"
LEVEL_CEPH = "level 2, the Ceph blocklist (fence_hakit_ceph)"
UNFENCE_TIMEOUT = 60.0
#: A power-cycled node's loss: corosync's token timeout, then both fencing levels.
FENCE_SETTLE_TIMEOUT = 120.0


def _ceph(demo: Demo) -> CephCluster:
    services = demo.services
    if services is None or services.ceph is None or not services.ceph_fencing:
        raise GenericError("the lab has no Ceph fencing level (LabServices(ceph_fencing=True))")
    return services.ceph


def crash(demo: Demo, victim: str, also: Optional[Callable[[str], object]] = None,
          what: str = "crash (BMC dead)") -> Failover:
    """Kill ``victim``'s BMC, then break the node (``also``, default a crash), and time
    the failover until the page is served elsewhere; ``level`` says who fenced it."""
    lab = demo.lab
    ceph = _ceph(demo)
    wall0 = time.time()

    def breaker(node: str) -> None:
        bmcfault.fail(lab, node)
        (also or lab.crash)(node)

    result = demo.crash_and_recover(victim, breaker, what, rejoin=False)
    if _powered_off_by_bmc(lab, victim, wall0):
        result.level = LEVEL_BMC
    elif cephfence.is_fenced(ceph, lab.layout.node(victim)):
        result.level = LEVEL_CEPH
    else:
        result.level = "unknown: neither its BMC nor the Ceph blocklist"
    lab.progress.note(f"{victim} was fenced at {result.level}")
    return result


def rejoin(demo: Demo, result: Failover, *, repair_bmc: bool = True) -> None:
    """Repair the BMC (unless ``repair_bmc`` is False: the node is powered on by hand
    while its BMC stays dead), boot the node and wait until it is online and unfenced
    (its blocklist entry gone); ``rejoined`` and ``unfenced`` count from the boot.

    Unfencing runs every level's ``on``: with the BMC still dead, fence_hakit's fails
    first (after its login timeout, twice) and Pacemaker goes on to fence_hakit_ceph's.
    """
    lab = demo.lab
    ceph = _ceph(demo)
    victim = result.victim
    node = lab.layout.node(victim)
    if repair_bmc:
        bmcfault.repair(lab, victim)
    booted_by_bmc = False
    if lab.power_states().get(victim) != "off":
        # A frozen node that resumed: its repair is a power cycle.
        booted_by_bmc = _power_off_and_settle(lab, victim)
    t0 = time.monotonic()
    if not booted_by_bmc:
        lab.boot(victim)
    with lab.progress.step(f"{victim} back online"):
        lab.wait_for(lambda st: any(n.name == victim and n.online for n in st.nodes),
                     REJOIN_TIMEOUT, f"waiting for {victim} to rejoin")
    result.rejoined = time.monotonic() - t0

    def unfenced() -> Optional[bool]:
        return True if not cephfence.is_fenced(ceph, node) else None

    with lab.progress.step(f"{victim} unfenced: {cephfence.entry(node)} off the blocklist"):
        Deadline(UNFENCE_TIMEOUT).poll(unfenced, f"waiting for {victim} to be unfenced",
                                       0.2, 1.0)
    result.unfenced = time.monotonic() - t0


def _power_off_and_settle(lab: Lab, victim: str) -> bool:
    """Power ``victim`` off and wait until a survivor sees it offline and clean: fenced,
    if its loss had to be.  Returns whether its BMC fenced it (and so boots it itself).

    Booting it at once would race that fencing: the survivors notice the loss only after
    corosync's token timeout, and a fencing that then lands at level 2 (its BMC slower
    than fence_hakit's timeout) tells the freshly booted node it was fenced, so its
    Pacemaker stops and the node is never unfenced.
    """
    survivor = next(n.name for n in lab.layout.nodes if n.name != victim)
    wall = time.time()
    lab.crash(victim)

    def settled(st: ClusterState) -> bool:
        return any(n.name == victim and not n.online and not n.unclean for n in st.nodes)

    with lab.progress.step(f"{victim} seen offline and clean by {survivor}"):
        lab.wait_for(settled, FENCE_SETTLE_TIMEOUT,
                     f"waiting for {survivor} to see {victim} lost and fenced", via=survivor)
    return _powered_off_by_bmc(lab, victim, wall)


def _powered_off_by_bmc(lab: Lab, node: str, since: float) -> bool:
    """Whether ``node``'s BMC has powered it off since ``since`` (wall-clock time)."""
    sim = bmc.read_bmcs(lab.layout.state_dir).get(node)
    return sim is not None and any(e.what == "off" and e.time >= since for e in sim.history())


def freeze(lab: Lab, node: str) -> None:
    """A hung machine: every process stopped (``Lab.hang``) and its NIC silent.

    A frozen kernel answers nothing, not even ARP; the lab's hang stops only processes,
    so the node's kernel would go on answering for the VIP it held, and the VIP's start
    elsewhere would (rightly) refuse the address.  Fenced through its BMC, the power-off
    unplugs it; fenced through Ceph, nothing does, so its port leaves the bridge here.
    """
    lab.hang(node)
    lab.partition(node)


def thaw(lab: Lab, node: str) -> None:
    """The hung machine wakes up: its NIC speaks again and every process carries on."""
    lab.heal(node)
    lab.resume(node)


def crash_and_rejoin(demo: Demo, victim: str) -> Failover:
    """The demo's ``--bmc-dead`` failover: ``crash``, then ``rejoin``."""
    result = crash(demo, victim)
    rejoin(demo, result)
    return result
