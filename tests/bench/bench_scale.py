"""Failover at scale, timed, and monitor CPU with many real stacks (the lab, ``lab.scale``).

Scenarios, each on a fresh lab (taken down in ``finally``), in this order:

- ``defaults``: N containers with Pacemaker's default options; crash the node with the
  most containers; time detection, fencing and every container's page back;
- ``recommended``: the same with ``hakit-snippet cluster``'s options; first the CPU of
  every node is measured for a few minutes with the N stacks running (``lab.cpuuse``:
  the agents' CPU is pacemaker-execd's reaped children's);
- ``group``: N containers as the group of primitives, monitor CPU only;
- ``hakit10``, ``group10`` and ``anchors``: 10 containers as ocf:hakit:container, as
  hakit's group, and as the ClusterLabs agents' group (hakit rbd, Filesystem, lxc,
  IPaddr2), monitor CPU only;
- ``single``: one container at corosync's default timings, crashed;
- ``fast``: one container with the fast corosync profile (token 1000 ms, consensus
  1200 ms), crashed.

The markdown goes to stdout and replaces the "Failover at scale" section of BENCHMARKS.md;
the timeline plot of the ``recommended`` crash is written to docs/img/scale-failover.png
(python3-matplotlib) and every figure to build/bench-scale.json.

Environment: ``HAKIT_BENCH_SCALE_COUNT`` (default 70), ``HAKIT_BENCH_SCALE_SCENARIOS``
(default ``defaults,recommended,group,single,fast``), ``HAKIT_BENCH_SCALE_MONITOR_S``
(default 180), ``HAKIT_BENCH_SCALE_WRITE`` (default 1: update BENCHMARKS.md and the plot).
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from lab import cpuuse, scale, scalefail, startlog
from lab.cluster import Lab
from lab.layout import make_layout
from lab.progress import Progress
from lab.scaledeploy import (
    CRASH_POWER_ON_DELAY,
    FAST_TOTEM,
    Deployed,
    ScaleLab,
    services_for,
)
from tests.bench.common import cgroup_release_kept

COUNT = int(os.environ.get("HAKIT_BENCH_SCALE_COUNT", "70"))
SCENARIOS = [s for s in os.environ.get("HAKIT_BENCH_SCALE_SCENARIOS",
                                       "defaults,recommended,group,single,fast").split(",")
             if s]
MONITOR_S = float(os.environ.get("HAKIT_BENCH_SCALE_MONITOR_S", "180"))
MONITOR_ONLY = ("group", "hakit10", "group10", "anchors")
WRITE = os.environ.get("HAKIT_BENCH_SCALE_WRITE", "1") == "1"
ROOT = Path(__file__).resolve().parents[2]
PLOT = ROOT / "docs" / "img" / "scale-failover.png"
RESULTS = ROOT / "build" / "bench-scale.json"
SECTION = "## Failover at scale (bench_scale)"
#: Goals from issue 20, seconds from the crash.
LAST_OF_MANY_S = 20.0
ONE_S = 9.5
ONE_FAST_S = 4.0


@dataclass
class Outcome:
    scenario: str
    count: int
    shape: str
    deployed: Optional[Deployed] = None
    failover: Optional[scalefail.ScaleFailover] = None
    cpu_s: float = 0.0
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    error: str = ""


def run_scenario(base: Path, scenario: str) -> Outcome:
    count = {"single": 1, "fast": 1, "hakit10": 10, "group10": 10,
             "anchors": 10}.get(scenario, COUNT)
    shape = {"group": "group", "group10": "group", "anchors": "anchors"}.get(scenario,
                                                                           "composite")
    name = f"s{secrets.token_hex(2)}"
    lab = Lab(make_layout(name, base / name), Progress(sys.stderr),
              services_for(count, power_on_delay=CRASH_POWER_ON_DELAY),
              totem=FAST_TOTEM if scenario == "fast" else None)
    # The lab's name is random, so cached images would never be found again: build them
    # in the scenario's own directory, which goes with it.
    scaled = ScaleLab(lab, scale.Scale(count, shape), base / f"{name}-images",
                      recommended=scenario != "defaults")
    out = Outcome(scenario, count, shape)
    load0 = os.getloadavg()[0]
    sys.stderr.write(f"== {scenario}: {count} containers ({shape}), lab {name}\n")
    try:
        lab.up()
        out.deployed = scaled.deploy()
        if scenario in MONITOR_ONLY or scenario == "recommended":
            time.sleep(30)  # the starts' first monitors done
            out.cpu_s, out.cpu = cpuuse.measure(lab, MONITOR_S)
        if scenario not in MONITOR_ONLY:
            out.failover = scalefail.crash_timed(scaled)
            for line in scalefail.report(out.failover):
                sys.stderr.write(line + "\n")
    except Exception as exc:  # one scenario failing must not hide the others
        out.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        sys.stderr.write(f"   {scenario} failed: {out.error}\n")
    finally:
        lab.down()
    out.load = (load0, os.getloadavg()[0])
    return out


# -- the report --------------------------------------------------------------------------------

def _s(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def _met(value: Optional[float], goal: float) -> str:
    if value is None:
        return "not measured"
    return f"{'met' if value <= goal else 'missed'} (goal <= {goal:g} s)"


def failover_rows(outcomes: Sequence[Outcome]) -> list[str]:
    crashed = [o for o in outcomes if o.failover is not None]
    if not crashed:
        return ["No crash completed."]
    head = "| seconds from the crash | " + " | ".join(
        f"{o.scenario} ({o.count})" for o in crashed) + " |"
    lines = [head, "|---|" + "---|" * len(crashed)]

    def row(label: str, fn: object) -> None:
        cells = []
        for o in crashed:
            try:
                cells.append(fn(o.failover))  # type: ignore[operator]
            except (ValueError, IndexError, statistics.StatisticsError):
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("containers on the crashed node", lambda f: str(len(f.containers)))
    row("survivors see it offline (detection)", lambda f: _s(f.detected))
    row("its BMC powered it off", lambda f: _s(f.fenced))
    row("the fencer reports it fenced", lambda f: _s(f.fencer_done))
    row("first start requested", lambda f: _s(min(s.requested for s in f.starts)))
    row("last start requested", lambda f: _s(max(s.requested for s in f.starts)))
    row("start operation, median run", lambda f: _s(statistics.median(
        [s.took for s in f.starts if s.took is not None])))
    row("start operation, longest run", lambda f: _s(max(
        s.took for s in f.starts if s.took is not None)))
    row("most starts running at once", lambda f: str(startlog.concurrency(f.starts)))
    row("**first page back**", lambda f: _s(f.first_median_last()[0]))
    row("**median page back**", lambda f: _s(f.first_median_last()[1]))
    row("**last page back**", lambda f: _s(f.first_median_last()[2]))
    row("peak 1-min load average (whole machine)", lambda f: f"{f.load.load1:.1f}")
    row("peak runnable tasks (whole machine)", lambda f: str(f.load.running))
    return lines


def goal_lines(outcomes: Sequence[Outcome]) -> list[str]:
    by = {o.scenario: o for o in outcomes if o.failover is not None and o.failover.served}
    lines = []
    rec = by.get("recommended")
    if rec is not None and rec.failover is not None:
        last = rec.failover.first_median_last()[2]
        lines.append(f"- last of the crashed node's {len(rec.failover.containers)} containers "
                     f"back {last:.2f} s after the crash: {_met(last, LAST_OF_MANY_S)}")
    for key, goal, what in (("single", ONE_S, "one container, default corosync timings"),
                            ("fast", ONE_FAST_S, "one container, fast corosync profile")):
        one = by.get(key)
        if one is not None and one.failover is not None:
            first = one.failover.first_median_last()[0]
            lines.append(f"- {what}: back {first:.2f} s after the crash: {_met(first, goal)}")
    return lines


def cpu_rows(outcomes: Sequence[Outcome]) -> list[str]:
    measured = [o for o in outcomes if o.cpu]
    if not measured:
        return ["No monitor CPU measured."]
    lines = ["| stacks | node | containers | agents (monitors) | rbd-fuse | Pacemaker + "
             "corosync | containers' own | whole node |", "|---|---|---|---|---|---|---|---|"]
    for o in measured:
        where = o.deployed.where if o.deployed is not None else {}
        for node, progs in sorted(o.cpu.items()):
            def pct(seconds: float, span: float = o.cpu_s) -> str:
                return f"{100 * seconds / span:.1f}%"
            agents = progs.get(cpuuse.AGENTS, 0.0)
            daemons = sum(v for k, v in progs.items()
                          if k.startswith(("pacemaker", "corosync")))
            fuse = progs.get("rbd-fuse", 0.0)
            own = sum(v for k, v in progs.items() if k in ("httpd", "lab-init", "lxc-start"))
            total = sum(v for k, v in progs.items() if k != cpuuse.AGENTS) + agents
            here = sum(1 for w in where.values() if w == node)
            lines.append(f"| {o.count} {o.shape} | {node} | {here} | {pct(agents)} | "
                         f"{pct(fuse)} | {pct(daemons)} | {pct(own)} | {pct(total)} |")
    return lines


def plot(outcome: Outcome, path: Path) -> Optional[str]:
    """The crash's timeline as a PNG; None when matplotlib is missing."""
    try:  # python3-matplotlib (TEST_DEBS); only the report needs it
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return None
    f = outcome.failover
    if f is None or not f.served:
        return None
    names = sorted(f.containers, key=lambda c: f.served.get(c, 1e9))
    starts = {s.resource: s for s in f.starts}
    fig, ax = plt.subplots(figsize=(10, 0.22 * len(names) + 2.2))
    for y, name in enumerate(names):
        rsc = next((r for r in starts if r.startswith(name + "-")), None)
        if rsc is not None and starts[rsc].finished is not None:
            s = starts[rsc]
            ax.barh(y, (s.finished or 0) - s.requested, left=s.requested, height=0.6,
                    color="#8fb3d9", label="start operation" if y == 0 else None)
        if name in f.served:
            ax.plot(f.served[name], y, "o", color="#1f5f99", markersize=4,
                    label="page back" if y == 0 else None)
    for at, what, style in ((f.detected, "detected", "--"), (f.fenced, "BMC off", ":"),
                            (f.fencer_done, "fencer done", "-.")):
        if at is not None:
            ax.axvline(at, linestyle=style, color="#aa3333", linewidth=1)
            ax.text(at, len(names) - 0.3, f" {what}", fontsize=8, color="#aa3333",
                    verticalalignment="bottom")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([n.split("-")[-1] for n in names], fontsize=7)
    ax.set_xlabel("seconds from the crash")
    ax.set_title(f"Crash of {f.victim}: its {len(names)} containers back on the survivors "
                 f"({outcome.count} containers, {outcome.shape})", fontsize=10)
    ax.set_xlim(left=0)
    ax.set_ylim(-0.7, len(names) + 0.6)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.relative_to(ROOT))


def section(outcomes: Sequence[Outcome], minutes: float, image: Optional[str]) -> list[str]:
    loads = [x for o in outcomes for x in o.load]
    lines = [SECTION, "",
             f"`make bench ONLY=scale` on {time.strftime('%Y-%m-%d')}: each scenario on a "
             f"fresh lab ({minutes:.0f} min in all; 1-minute load average of the machine "
             f"{min(loads):.1f}-{max(loads):.1f}, 2 CPUs shared with other work). Containers: "
             "ocf:hakit:container each (rbd-fuse + loop, ext4, busybox LXC, VIP), spread "
             "round-robin by `hakit-snippet placement --spread`; `defaults` keeps "
             "Pacemaker's options, the others load `hakit-snippet cluster` "
             "(load-threshold=0%). The crash kills every process of the node running the "
             "most containers; pages are watched from the hub (each tried every 50 ms); "
             "starts are read from the survivors' Pacemaker logs.", ""]
    lines += failover_rows(outcomes)
    lines += ["", *goal_lines(outcomes)]
    if image:
        lines += ["", f"![failover timeline]({image})", "",
                  f"Timeline of the `recommended` crash: [{image}]({image})."]
    lines += ["", "### Monitor CPU with real stacks (bench_scale)", "",
              f"CPU of every process of each node over {MONITOR_S:.0f} s with every container "
              "running at the snippets' monitor intervals, in % of one CPU; the agents' "
              "share is pacemaker-execd's reaped children (every monitor run).", ""]
    lines += cpu_rows(outcomes)
    errors = [f"- {o.scenario}: {o.error}" for o in outcomes if o.error]
    if errors:
        lines += ["", "Failed scenarios:", *errors]
    return lines


def update_benchmarks(lines: Sequence[str], path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace (or append) the section, up to the next level-2 heading."""
    text = path.read_text()
    block = "\n".join(lines).rstrip() + "\n"
    start = text.find(SECTION)
    if start < 0:
        path.write_text(text.rstrip() + "\n\n" + block)
        return
    end = text.find("\n## ", start + len(SECTION))
    path.write_text(text[:start] + block + ("" if end < 0 else text[end:]))


def main() -> str:
    began = time.monotonic()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="hakit-bench-scale-") as tmp, cgroup_release_kept():
        for scenario in SCENARIOS:
            outcomes.append(run_scenario(Path(tmp), scenario))
    rec = next((o for o in outcomes if o.scenario == "recommended"), None)
    image = plot(rec, PLOT) if WRITE and rec is not None else None
    lines = section(outcomes, (time.monotonic() - began) / 60, image)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(o) for o in outcomes], indent=1, default=str))
    if WRITE:
        update_benchmarks(lines)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
