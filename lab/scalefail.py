"""Failover at scale, timed: crash the node with the most containers, time every one back.

From the crash (every process of the node killed): when the survivors see it offline, when
its BMC powered it off, when the fencer reports it fenced, when each of its containers runs
elsewhere (crm_mon) and when each one's page answers through its VIP again (a watcher in
the hub, ``lab.multiwatch``).  Meanwhile the machine's load is sampled: the 1-minute
load average and the number of runnable tasks (``procs_running`` in /proc/stat; the nodes
share the kernel, so this is every survivor's load together, plus whatever else runs on
the machine).  Afterwards the nodes' Pacemaker logs give each start's queueing and
execution (``lab.startlog``).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, HakitError
from lab import bmc, multiwatch, procs, startlog
from lab.demo import fenced_since, parse_fence_history

if TYPE_CHECKING:
    from lab.scaledeploy import ScaleLab

FAILOVER_TIMEOUT = 300.0
SAMPLE_INTERVAL = 0.25


@dataclass
class LoadPeak:
    """The machine's load while the containers came back."""

    load1: float = 0.0  # highest 1-minute load average
    running: int = 0  # most runnable tasks at once
    busy: float = 0.0  # highest CPU use over a sample interval, 0-1 of all CPUs


@dataclass
class ScaleFailover:
    """Seconds from the crash to each milestone (None: not observed)."""

    victim: str
    containers: list[str]
    detected: Optional[float] = None
    fenced: Optional[float] = None  # the BMC powered it off
    fencer_done: Optional[float] = None
    started: dict[str, float] = field(default_factory=dict)  # crm_mon: runs elsewhere
    served: dict[str, float] = field(default_factory=dict)  # its page answers again
    where: dict[str, str] = field(default_factory=dict)
    load: LoadPeak = field(default_factory=LoadPeak)
    starts: list[startlog.Start] = field(default_factory=list)

    def back(self) -> list[float]:
        return sorted(self.served.values())

    def first_median_last(self) -> tuple[float, float, float]:
        got = self.back()
        return got[0], statistics.median(got), got[-1]


def most_loaded(where: dict[str, Optional[str]]) -> str:
    """The node running the most containers (the first such in name order; pure)."""
    counts: dict[str, int] = {}
    for node in where.values():
        if node is not None:
            counts[node] = counts.get(node, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


class _Sampler(threading.Thread):
    """Samples /proc/loadavg and /proc/stat until stopped."""

    def __init__(self) -> None:
        super().__init__(name="lab-load", daemon=True)
        self.peak = LoadPeak()
        self._halt = threading.Event()

    def run(self) -> None:
        last = _cpu_times()
        while not self._halt.wait(SAMPLE_INTERVAL):
            now = _cpu_times()
            total, idle = now[0] - last[0], now[1] - last[1]
            if total > 0:
                self.peak.busy = max(self.peak.busy, 1.0 - idle / total)
            last = now
            self.peak.load1 = max(self.peak.load1, _load1())
            self.peak.running = max(self.peak.running, _procs_running())

    def stop(self) -> LoadPeak:
        self._halt.set()
        self.join(2.0)
        return self.peak


def _cpu_times() -> tuple[int, int]:
    """(all jiffies, idle + iowait jiffies) from /proc/stat's cpu line."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _load1() -> float:
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        return float(loadavg.read().split()[0])


def _procs_running() -> int:
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith("procs_running"):
                return int(line.split()[1])
    return 0


def _watcher(scaled: ScaleLab, urls: Sequence[str], out: Path) -> procs.Proc:
    lay = scaled.lab.layout
    argv = ["ip", "netns", "exec", lay.hub_netns, "/usr/bin/python3", "-I", "-S",
            multiwatch.__file__, str(out), str(FAILOVER_TIMEOUT), *urls]
    return procs.spawn_detached(scaled.lab.runner, argv, out.with_suffix(".err"),
                                {"PATH": "/usr/sbin:/usr/bin"})


def crash_timed(scaled: ScaleLab, victim: Optional[str] = None) -> ScaleFailover:
    """Crash ``victim`` (default: the node with the most containers) and time it all."""
    lab = scaled.lab
    where = scaled.placement(lab.status())
    victim = victim or most_loaded(where)
    mine = [n for n in scaled.names if where.get(n.container) == victim]
    result = ScaleFailover(victim, [n.container for n in mine])
    survivors = [n.name for n in lab.layout.nodes if n.name != victim]
    url_of = {n.url(): n.container for n in mine}
    out = lab.layout.state_dir / f"multiwatch-{int(time.time())}.out"
    sim = bmc.read_bmcs(lab.layout.state_dir).get(victim)
    note = lab.progress.note
    sampler = _Sampler()
    sampler.start()
    wall0, t0 = time.time(), time.monotonic()
    watcher: Optional[procs.Proc] = None
    try:
        lab.crash(victim)
        watcher = _watcher(scaled, list(url_of), out)
        deadline = Deadline(FAILOVER_TIMEOUT)
        while len(result.served) < len(mine) or len(result.started) < len(mine):
            if deadline.expired():
                raise ActionTimeout(f"{len(mine) - len(result.served)} of {len(mine)} "
                                    f"containers not back within {FAILOVER_TIMEOUT:g}s")
            _poll(scaled, result, survivors, wall0=wall0, t0=t0, sim=sim)
            try:
                seen = multiwatch.read_times(out.read_text())
            except OSError:
                seen = {}
            for url, at in seen.items():
                name = url_of.get(url)
                if name is not None and name not in result.served:
                    result.served[name] = at - wall0
                    if len(result.served) in (1, len(mine)):
                        note(f"{'first' if len(result.served) == 1 else 'last'} page back "
                             f"({name}) {result.served[name]:.2f}s after the crash "
                             f"({len(result.served)}/{len(mine)})")
            time.sleep(0.1)
    finally:
        result.load = sampler.stop()
        if watcher is not None:
            procs.kill_all([watcher], Deadline(10), "stopping the page watcher")
    # Every node's log, the victim's too: once fenced and rebooted it may start some of
    # them itself (its log file is on its state directory, which outlives the crash).
    result.starts = startlog.starts_since(
        [n.dir / "log-pacemaker" / "pacemaker.log" for n in lab.layout.nodes],
        wall0, [scaled.resources_of(c) for c in result.containers])
    return result


def _poll(scaled: ScaleLab, result: ScaleFailover, survivors: Sequence[str], *,
          wall0: float, t0: float, sim: Optional[bmc.LabBmc]) -> None:
    lab, note = scaled.lab, scaled.lab.progress.note
    if result.fenced is None and sim is not None:
        offs = [e.time for e in sim.history() if e.what == "off" and e.time >= wall0]
        if offs:
            result.fenced = offs[0] - wall0
            note(f"{result.victim} powered off by its BMC {result.fenced:.2f}s after the crash")
    if len(result.started) < len(result.containers):
        try:
            state = lab.status(via=survivors[0])
        except HakitError:
            return
        now = time.monotonic() - t0
        if result.detected is None and any(n.name == result.victim and not n.online
                                           for n in state.nodes):
            result.detected = now
            note(f"{result.victim} lost: seen offline {now:.2f}s after the crash")
        for name, node in scaled.placement(state).items():
            # On the victim only once it was fenced: a container it ran shows as started
            # there until the loss is noticed; after the fencing, it was started anew (the
            # fenced node rejoined before the container was started elsewhere).
            elsewhere = node is not None and (node != result.victim
                                              or result.fencer_done is not None)
            if name in result.containers and name not in result.started and elsewhere:
                result.started[name], result.where[name] = now, node or "?"
    if result.fencer_done is None and result.detected is not None:
        res = lab.run_on(survivors[0], ["stonith_admin", "--history", result.victim,
                                        "--verbose", "--output-as=xml"], check=False)
        if res.ok and fenced_since(parse_fence_history(res.stdout), wall0):
            result.fencer_done = time.monotonic() - t0
            note(f"the fencer reports {result.victim} fenced {result.fencer_done:.2f}s "
                 "after the crash")


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(result: ScaleFailover) -> list[str]:
    """The failover's summary lines."""
    def sec(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.2f}s"

    lines = [f"crash of {result.victim} with {len(result.containers)} containers "
             "(every process killed), from the crash:",
             f"  detection    {sec(result.detected)}  survivors see {result.victim} offline",
             f"  fencing      {sec(result.fenced)}  its BMC powered it off; the fencer "
             f"reported it at {sec(result.fencer_done)}"]
    if result.served:
        first, median, last = result.first_median_last()
        lines.append(f"  pages back   first {first:.2f}s, median {median:.2f}s, last "
                     f"{last:.2f}s ({len(result.served)}/{len(result.containers)})")
    if result.started:
        got = sorted(result.started.values())
        lines.append(f"  started      first {got[0]:.2f}s, median {statistics.median(got):.2f}s, "
                     f"last {got[-1]:.2f}s (crm_mon, polled)")
    done = [s for s in result.starts if s.took is not None]
    if done:
        took = [s.took for s in done if s.took is not None]
        lines.append(f"  start ops    {len(done)}: requested first {done[0].requested:.2f}s, "
                     f"last {max(s.requested for s in done):.2f}s; each ran median "
                     f"{statistics.median(took):.2f}s, 90% {_pct(took, 0.9):.2f}s, max "
                     f"{max(took):.2f}s; at most {startlog.concurrency(done)} at once")
    per_node: dict[str, int] = {}
    for node in result.where.values():
        per_node[node] = per_node.get(node, 0) + 1
    lines.append("  went to      " + ", ".join(f"{k} {v}" for k, v in sorted(per_node.items())))
    lines.append(f"  machine load peak: 1-min load average {result.load.load1:.1f}, "
                 f"{result.load.running} runnable tasks at once, CPU busy "
                 f"{result.load.busy * 100:.0f}% ({len(os.sched_getaffinity(0))} CPUs "
                 "shared by every node)")
    return lines
