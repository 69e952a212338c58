"""A client in the hub that fetches the page through the VIP over and over, to time outages.

Polling the page between ``crm_mon`` calls would add their latency to every figure; this
watcher runs on its own in the hub namespace (a detached process, removed by ``down``
with everything else in the hub) and writes one line per change, ``<monotonic> up`` or
``<monotonic> down``.  CLOCK_MONOTONIC is shared by every process on the machine, so the
lab compares the lines with its own ``time.monotonic()``.  A ``down`` line carries the
time its failed request began, an ``up`` line the time its page arrived: an outage is
never shorter than it was.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab import procs

#: Each request gets this long; a VIP nobody answers for costs a whole timeout.
REQUEST_TIMEOUT = 0.25
#: Pause between requests while the page is served (none while it is not).
INTERVAL = 0.02

#: The watcher itself: the host's python3 without site packages, stdlib only.
SCRIPT = """\
import sys, time, urllib.request
url, timeout, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
last = None
while True:
    began = time.monotonic()
    try:
        urllib.request.urlopen(url, timeout=timeout).read()
        ok, at = True, time.monotonic()
    except Exception:
        ok, at = False, began
    if ok != last:
        print("%.3f %s" % (at, "up" if ok else "down"), flush=True)
        last = ok
    time.sleep(interval if ok else max(0.0, 0.02 - (time.monotonic() - began)))
"""


def parse(text: str) -> list[tuple[float, bool]]:
    """The watcher's lines as (monotonic time, page served); malformed lines skipped (pure)."""
    events = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("up", "down"):
            continue
        try:
            events.append((float(parts[0]), parts[1] == "up"))
        except ValueError:
            continue
    return events


def outage(events: list[tuple[float, bool]], since: float) -> Optional[tuple[float, float]]:
    """The first outage after ``since`` that has ended: (went down, came back), or None.

    A page that was down already at ``since`` counts from ``since`` (pure).
    """
    down: Optional[float] = None
    state_at_since = None
    for at, up in events:
        if at < since:
            state_at_since = up
            continue
        if down is None:
            if not up:
                down = at
            elif state_at_since is False:
                return since, at
        elif up:
            return down, at
    return None


class PageWatch:
    """The watcher process for one URL, its output in ``output``."""

    def __init__(self, runner: Runner, hub_netns: str, url: str, output: Path) -> None:
        self.runner = runner
        self.hub_netns = hub_netns
        self.url = url
        self.output = output
        self.proc: Optional[procs.Proc] = None

    def start(self) -> PageWatch:
        argv = ["ip", "netns", "exec", self.hub_netns, "/usr/bin/python3", "-I", "-S", "-c",
                SCRIPT, self.url, str(REQUEST_TIMEOUT), str(INTERVAL)]
        self.proc = procs.spawn_detached(self.runner, argv, self.output, dict(os.environ))
        return self

    def events(self) -> list[tuple[float, bool]]:
        try:
            return parse(self.output.read_text())
        except OSError:
            return []

    def wait_outage(self, since: float, timeout: float) -> tuple[float, float]:
        """Wait for an outage after ``since`` to end; (went down, came back)."""
        def ended() -> Optional[tuple[float, float]]:
            return outage(self.events(), since)
        return Deadline(timeout).poll(ended, f"waiting for {self.url} to come back", 0.05,
                                      0.2)

    def wait_up(self, timeout: float) -> float:
        """Wait until the page is served; the time it was."""
        def up() -> Optional[float]:
            events = self.events()
            return events[-1][0] if events and events[-1][1] else None
        return Deadline(timeout).poll(up, f"waiting for {self.url}", 0.05, 0.2)

    def stop(self) -> None:
        if self.proc is not None:
            procs.signal_if_alive(self.proc, signal.SIGKILL)
            self.proc = None  # detached: init reaps it
