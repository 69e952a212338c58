"""Each start operation's queueing and execution, read from the nodes' Pacemaker logs.

pacemaker-controld logs ``Requesting local execution of start operation for RSC on NODE``
when it hands a start to the executor and ``Result of start operation for RSC on NODE: ok``
when it finishes, with millisecond timestamps.  From a crash, the first says how long the
start waited (detection, fencing, the scheduler, throttling), the difference how long the
agent ran.  The CIB's ``exec-time`` gives only the latter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

_LINE = re.compile(
    r"^(?P<stamp>\w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{3}) \S+ pacemaker-controld .*?"
    r"(?:(?P<req>Requesting local execution of start operation)|"
    r"(?P<res>Result of start operation)) for (?P<rsc>\S+) on (?P<node>\S+?)(?::|\s|$)"
    r"(?:\s*(?P<rc>[^|]*?)\s*(?:\||$))?")


@dataclass(frozen=True)
class Start:
    """One start: seconds from the reference time."""

    resource: str
    node: str
    requested: float
    finished: Optional[float]
    ok: bool

    @property
    def took(self) -> Optional[float]:
        return None if self.finished is None else self.finished - self.requested


def stamp_to_unix(stamp: str, year: int) -> float:
    """``Dec 04 06:07:59.807`` (local time) in ``year`` as unix time (pure but for the
    time zone)."""
    whole, _, frac = stamp.partition(".")
    parsed = time.strptime(f"{year} {whole}", "%Y %b %d %H:%M:%S")
    return time.mktime(parsed) + int(frac or "0") / 1000.0


def parse_starts(lines: Iterable[str], since: float,
                 resources: Optional[set[str]] = None) -> list[Start]:
    """Starts requested at ``since`` (unix time) or later (pure but for the time zone)."""
    year = time.localtime(since).tm_year
    begun: dict[tuple[str, str], float] = {}
    found: list[Start] = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        rsc, node = match.group("rsc"), match.group("node")
        if resources is not None and rsc not in resources:
            continue
        at = stamp_to_unix(match.group("stamp"), year)
        if at < since:
            continue
        if match.group("req"):
            begun[(rsc, node)] = at
        elif (rsc, node) in begun:
            ok = (match.group("rc") or "").strip().startswith("ok")
            found.append(Start(rsc, node, begun.pop((rsc, node)) - since, at - since, ok))
    for (rsc, node), at in begun.items():
        found.append(Start(rsc, node, at - since, None, False))
    return sorted(found, key=lambda s: s.requested)


def starts_since(logs: Sequence[Path], since: float,
                 groups: Sequence[Sequence[str]]) -> list[Start]:
    """Every start of the resources in ``groups`` in the ``logs`` since ``since``."""
    wanted = {r for g in groups for r in g}
    found: list[Start] = []
    for log in logs:
        try:
            with open(log, encoding="utf-8", errors="replace") as handle:
                found += parse_starts(handle, since, wanted)
        except OSError:
            continue
    return sorted(found, key=lambda s: s.requested)


def concurrency(starts: Sequence[Start]) -> int:
    """The most starts running at once (pure)."""
    events = sorted([(s.requested, 1) for s in starts if s.finished is not None]
                    + [(s.finished, -1) for s in starts if s.finished is not None])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak
