"""A node crash timed for the failover benchmark (the planned move is ``Demo.planned_move``).

``Demo.crash_and_recover`` measures from the crash: when the survivors see the node
offline, when its BMC powered it off, when the fencer reports the fencing done, when every
stack resource runs elsewhere and when the page answers through the VIP again.  This adds
Pacemaker's own exec-time of each member's start (the ``lrm_rsc_op`` entries of the CIB
status), which breaks the stack's start down without reading any log.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from lab.demo import Demo, Failover


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


def crash_timed(demo: Demo, victim: str) -> Failover:
    """Crash ``victim`` (every process killed) and time the recovery of ``demo``'s stack
    (``Demo.crash_and_recover``, without waiting for the rejoin), then read each start's
    exec-time from the CIB into ``starts``."""
    failover = demo.crash_and_recover(victim, rejoin=False)
    if failover.new_node is not None:
        survivor = next(n.name for n in demo.lab.layout.nodes if n.name != victim)
        res = demo.lab.run_on(survivor, ["cibadmin", "--query", "--scope", "status"],
                              check=False)
        if res.ok:
            failover.starts = parse_start_times(res.stdout, failover.new_node,
                                                demo.resources)
    return failover
