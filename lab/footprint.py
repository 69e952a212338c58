"""What a lab's processes cost: count and memory (PSS) by program, per node and in the hub.

PSS (proportional set size, ``/proc/PID/smaps_rollup``) shares each shared page among the
processes that map it, so summing it over many rbd-fuse or agent processes does not count
their common libraries once per process, as RSS would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hakit.deadline import Deadline
from lab import network

if TYPE_CHECKING:
    from lab.cluster import Lab


@dataclass
class Usage:
    """Processes of one program and their summed PSS in KiB."""

    count: int = 0
    pss_kib: int = 0


@dataclass
class Footprint:
    """Per namespace (node name, or "hub"): program -> Usage."""

    by_place: dict[str, dict[str, Usage]] = field(default_factory=dict)

    def total(self, place: str = "") -> Usage:
        """Everything (or one place)."""
        out = Usage()
        for where, progs in self.by_place.items():
            if place and where != place:
                continue
            for use in progs.values():
                out.count += use.count
                out.pss_kib += use.pss_kib
        return out

    def program(self, name: str, places: Sequence[str] = ()) -> Usage:
        """One program summed over ``places`` (default: every place)."""
        out = Usage()
        for where, progs in self.by_place.items():
            if places and where not in places:
                continue
            use = progs.get(name)
            if use is not None:
                out.count += use.count
                out.pss_kib += use.pss_kib
        return out


def parse_pss(smaps_rollup: str) -> int:
    """The ``Pss:`` line of /proc/PID/smaps_rollup, in KiB (0 if absent; pure)."""
    for line in smaps_rollup.splitlines():
        if line.startswith("Pss:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1])
    return 0


def process_usage(pids: Sequence[int]) -> dict[str, Usage]:
    """program (``comm``) -> Usage over ``pids``; processes that vanish are skipped."""
    found: dict[str, Usage] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
            with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as smaps:
                pss = parse_pss(smaps.read())
        except OSError:
            continue
        use = found.setdefault(name, Usage())
        use.count += 1
        use.pss_kib += pss
    return found


def measure(lab: Lab) -> Footprint:
    """Every process in each node's network namespace and in the hub (Ceph, BMCs)."""
    places: Mapping[str, str] = {**{n.name: n.netns for n in lab.layout.nodes},
                                 "hub": lab.layout.hub_netns}
    out = Footprint()
    for place, netns in places.items():
        if not network.netns_exists(netns):
            continue
        out.by_place[place] = process_usage(network.netns_pids(lab.runner, Deadline(30), netns))
    return out


def per_container(before: Footprint, after: Footprint,
                  count: int) -> dict[str, tuple[float, float]]:
    """What ``count`` containers added, per program: (processes, MiB of PSS) per container;
    programs that changed by less than 1 MiB and no process are left out (pure)."""
    names = {p for progs in after.by_place.values() for p in progs}
    out = {}
    for name in sorted(names):
        a, b = after.program(name), before.program(name)
        if a.count != b.count or abs(a.pss_kib - b.pss_kib) > 1024:
            out[name] = ((a.count - b.count) / count, (a.pss_kib - b.pss_kib) / 1024 / count)
    return out
