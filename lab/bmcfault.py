"""A node's BMC failing with it, and being repaired: the fault fence_hakit_ceph is for.

A machine that loses all power takes its BMC with it: nothing answers at the BMC's address
any more, not even ARP.  ``fail`` reproduces that in the lab: the simulator (ipmi_sim) is
killed by the PID in its pidfile and its address leaves the hub bridge, so fence_hakit's
requests go unanswered until its login timeout, as they would on a real dead BMC (a
killed process alone would draw ICMP port-unreachable answers, a faster failure than any
real dead BMC gives).  ``repair`` brings both back; the node itself stays as it was (power
it on with ``Lab.boot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakit.deadline import Deadline
from hakit.errors import GenericError
from lab import bmc, procs
from lab.services import start_bmc

if TYPE_CHECKING:
    from lab.cluster import Lab

#: Bound for killing a simulator.
KILL_TIMEOUT = 10.0


def fail(lab: Lab, node: str) -> None:
    """Make ``node``'s BMC unreachable: simulator killed, address removed."""
    lay = lab.layout
    sim = bmc.read_bmcs(lay.state_dir).get(node)
    if sim is None:
        raise GenericError(f"node {node} has no BMC in lab '{lay.name}'")
    with lab.progress.step(f"BMC of {node} dead: ipmi_sim killed, {sim.address.ip} gone"):
        proc = procs.read_pidfile(sim.pidfile)
        if proc is not None and procs.is_alive(proc):
            procs.kill_all([proc], Deadline(KILL_TIMEOUT), f"killing the BMC of {node}")
        sim.pidfile.unlink(missing_ok=True)
        lab.runner.run(["ip", "-n", lay.hub_netns, "addr", "del", str(sim.address),
                        "dev", "br0"], Deadline(KILL_TIMEOUT), check=False)


def repair(lab: Lab, node: str) -> None:
    """Start ``node``'s BMC again on its address (the node's power is not touched)."""
    start_bmc(lab, lab.layout.node(node))


def is_dead(lab: Lab, node: str) -> bool:
    """Whether ``node``'s BMC simulator is not running."""
    sim = bmc.read_bmcs(lab.layout.state_dir).get(node)
    if sim is None:
        return True
    proc = procs.read_pidfile(sim.pidfile)
    return proc is None or not procs.is_alive(proc)

