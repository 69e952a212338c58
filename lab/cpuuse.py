"""CPU used on each lab node over a stretch of time, measured, not extrapolated.

Every process in a node's network namespace is read from /proc/PID/stat twice: its own
user+system time, and the time of the children it reaped (``cutime``+``cstime``).  The
resource agents that pacemaker-execd runs are its children and are reaped by it, so
execd's reaped-children time over the stretch is exactly what the agents cost (monitors,
and any start or stop), however short-lived each run was.  The other programs (rbd-fuse,
corosync, the Pacemaker daemons, the containers' own processes) count with their own time.
A process that appeared or ended in between counts only for what it used while seen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hakit.deadline import Deadline
from lab import network

if TYPE_CHECKING:
    from lab.cluster import Lab

EXECD = "pacemaker-execd"
AGENTS = "agents (execd's children)"


@dataclass(frozen=True)
class Sample:
    """pid -> (program, own ticks, reaped children's ticks), and when."""

    at: float
    procs: Mapping[int, tuple[str, int, int]]


def parse_stat(text: str) -> tuple[str, int, int]:
    """(comm, utime+stime, cutime+cstime) from /proc/PID/stat (pure)."""
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def sample(pids: list[int]) -> Sample:
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
                found[pid] = parse_stat(stat.read())
        except (OSError, ValueError, IndexError):
            continue
    return Sample(time.monotonic(), found)


def usage(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds per program between the samples, agents apart (pure but for the clock
    tick)."""
    hz = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid, (comm, own, reaped) in after.procs.items():
        old = before.procs.get(pid)
        own0, reaped0 = (old[1], old[2]) if old is not None and old[0] == comm else (0, 0)
        out[comm] = out.get(comm, 0.0) + (own - own0) / hz
        if comm == EXECD:
            out[AGENTS] = out.get(AGENTS, 0.0) + (reaped - reaped0) / hz
    return out


def node_pids(lab: Lab) -> dict[str, list[int]]:
    return {n.name: network.netns_pids(lab.runner, Deadline(30), n.netns)
            for n in lab.layout.nodes if network.netns_exists(n.netns)}


def measure(lab: Lab, seconds: float) -> tuple[float, dict[str, dict[str, float]]]:
    """(seconds measured, node -> program -> CPU seconds) over ``seconds``.

    Processes are listed again at the end, so that those started in between count too
    (from zero: they are new).
    """
    first = {node: sample(pids) for node, pids in node_pids(lab).items()}
    time.sleep(seconds)
    out = {}
    took = 0.0
    for node, pids in node_pids(lab).items():
        last = sample(pids)
        if node in first:
            out[node] = usage(first[node], last)
            took = max(took, last.at - first[node].at)
    return took, out
