"""A node crash timed finely, for the failover benchmark (the planned move is
``Demo.planned_move``).

Like ``Demo.crash_and_recover``, measured from the crash: when the survivors see the node
offline, when its BMC powered it off (the BMC's own power log), when the fencer reports the
fencing done (``stonith_admin --history``: its ``completed`` stamp has whole seconds only,
so the time is when the poll first sees the success), when every stack resource runs
elsewhere and when the page answers through the VIP again (the hub's page watcher).  Then
Pacemaker's own exec-time of each member's start (the ``lrm_rsc_op`` entries of the CIB
status), which breaks the stack's start down without reading any log.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, HakitError
from hakit.lab import bmc
from hakit.lab.demo import FAILOVER_TIMEOUT, STACK_TIMEOUT, Demo, stack_state
from hakit.lab.pagewatch import outage


@dataclass
class CrashTimes:
    """Seconds from the crash to each milestone (None: not observed)."""

    victim: str
    detected: Optional[float] = None
    bmc_off: Optional[float] = None
    fenced: Optional[float] = None
    started: Optional[float] = None
    served: Optional[float] = None
    new_node: Optional[str] = None
    #: Pacemaker's exec-time of each stack resource's start on the new node, in seconds
    starts: dict[str, float] = field(default_factory=dict)


def parse_start_times(cib_status_xml: str, node: str,
                      resources: Sequence[str]) -> dict[str, float]:
    """Seconds of each resource's last successful start on ``node`` (pure).

    ``cibadmin --query --scope status``: each node_state's lrm_resource keeps its last
    non-recurring operation as ``lrm_rsc_op`` with ``operation``, ``rc-code`` and
    ``exec-time`` (milliseconds).
    """
    try:
        root = ET.fromstring(cib_status_xml)  # noqa: S314 - a local Pacemaker tool's output
    except ET.ParseError:
        return {}
    found: dict[str, float] = {}
    for state in root.iter("node_state"):
        if state.get("uname") != node:
            continue
        for rsc in state.iter("lrm_resource"):
            rid = rsc.get("id", "")
            if rid not in resources:
                continue
            for op in rsc.iter("lrm_rsc_op"):
                if (op.get("operation") == "start" and op.get("rc-code") == "0"
                        and op.get("op-status", "0") == "0"):
                    try:
                        found[rid] = int(op.get("exec-time", "")) / 1000.0
                    except ValueError:
                        continue
    return found


def crash_timed(demo: Demo, victim: str, timeout: float = FAILOVER_TIMEOUT) -> CrashTimes:
    """Crash ``victim`` (every process killed) and time the recovery of ``demo``'s stack."""
    lab = demo.lab
    times = CrashTimes(victim)
    survivor = next(n.name for n in lab.layout.nodes if n.name != victim)
    sim = bmc.read_bmcs(lab.layout.state_dir).get(victim)
    watch = demo.page_watch()
    watch.wait_up(STACK_TIMEOUT)
    wall0, t0 = time.time(), time.monotonic()
    lab.crash(victim)
    deadline = Deadline(timeout)
    while times.served is None:
        if deadline.expired():
            raise ActionTimeout(f"the page was not served again within {timeout:g}s of "
                                f"the crash of {victim}")
        if times.bmc_off is None and sim is not None:
            offs = [e.time for e in sim.history() if e.what == "off" and e.time >= wall0]
            if offs:
                times.bmc_off = offs[0] - wall0
        if times.started is None:
            _poll_cluster(demo, survivor, times, t0)
        if times.fenced is None and times.detected is not None and _fenced(demo, survivor,
                                                                            victim):
            times.fenced = time.monotonic() - t0
        back = outage(watch.events(), t0)
        if times.started is not None and back is not None:
            times.served = back[1] - t0  # the hub's watcher's first answer
    if times.new_node is not None:
        res = lab.run_on(survivor, ["cibadmin", "--query", "--scope", "status"], check=False)
        if res.ok:
            times.starts = parse_start_times(res.stdout, times.new_node, demo.resources)
    return times


def _poll_cluster(demo: Demo, survivor: str, times: CrashTimes, t0: float) -> None:
    """One crm_mon from ``survivor``: is the victim seen offline, the stack started?"""
    try:
        state = demo.lab.status(via=survivor)
    except HakitError:
        return
    if times.detected is None and any(n.name == times.victim and not n.online
                                      for n in state.nodes):
        times.detected = time.monotonic() - t0
    where = stack_state(state, demo.names, demo.resources)
    if where is not None and where != times.victim:
        times.started, times.new_node = time.monotonic() - t0, where


def _fenced(demo: Demo, via: str, victim: str) -> bool:
    """Whether the fencer's history has a successful fencing of ``victim``."""
    events = demo.fencer_history(via, victim)
    return any(e.get("status") == "success" for e in events)

