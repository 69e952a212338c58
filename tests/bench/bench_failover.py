"""Failover side by side: the hakit group, the hakit composite and the ClusterLabs agents.

Each run builds one fresh lab per configuration (``lab.configs``: same image, VIP,
Ceph and BMCs; only the agents and fence devices differ), in turn, so that load drifts
hit all three alike.  In each lab: deploy, fetch the page, a planned move (page polled
from the hub), on the first run every monitor measured on the running stack, then a
crash of the stack's node timed to detection, BMC power-off, the fencer's completion,
stack started and page served; Pacemaker's exec-time of each member's start comes from
the CIB status.  Every lab is taken down in ``finally``.

``HAKIT_BENCH_FAILOVER_RUNS`` (default 3) runs; ``HAKIT_BENCH_FAILOVER_MONITOR_RUNS``
(default 20) repetitions of each monitor; ``HAKIT_BENCH_FAILOVER_CONFIGS`` (default all:
group,composite,anchors).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.os.runner import SYSTEM_PATH
from lab import node
from lab.cluster import Lab
from lab.configs import CONFIGURATIONS, StackConfig
from lab.demo import Demo, Failover
from lab.failover import crash_timed
from lab.layout import make_layout
from lab.monitors import (
    MonitorOp,
    execd_environment,
    monitor_argv,
    monitor_env,
    parse_monitors,
)
from lab.progress import Progress
from lab.services import LabServices
from tests.bench.common import Stats, cgroup_release_kept, measure

RUNS = int(os.environ.get("HAKIT_BENCH_FAILOVER_RUNS", "3"))
MONITOR_RUNS = int(os.environ.get("HAKIT_BENCH_FAILOVER_MONITOR_RUNS", "20"))
WANTED = [k for k in os.environ.get("HAKIT_BENCH_FAILOVER_CONFIGS", "").split(",") if k]
STACKS = 100
INTERVAL_S = 10.0
#: Targets from issue 10.
CRASH_TARGET_S = 10.0
MOVE_TARGET_S = 3.0
RATIO_TARGET = 0.5


@dataclass
class Run:
    config: str
    move_gap: float
    crash: Failover
    load: tuple[float, float]  # 1-minute load average at the start and the end of the run
    monitors: list[tuple[MonitorOp, Stats]] = field(default_factory=list)


# -- one lab -----------------------------------------------------------------------------------

def _monitors(lab: Lab, demo: Demo, where: str) -> list[tuple[MonitorOp, Stats]]:
    """Every recurring monitor of the stack, run on ``where`` as execd runs it."""
    lay_node = lab.layout.node(where)
    resources = lab.run_on(where, ["cibadmin", "--query", "--scope", "resources"]).stdout
    ops = parse_monitors(resources, demo.resources)
    base = execd_environment(lab.runner, Deadline(10), lay_node.netns)
    if not base:
        raise RuntimeError(f"no pacemaker-execd found on {where}")
    base.setdefault("PATH", SYSTEM_PATH)
    holder = node.holder_of(lay_node)
    if holder is None:
        raise RuntimeError(f"{where} is off")
    return [(op, measure(op.label, monitor_argv(holder, op), monitor_env(op, base, where),
                         runs=MONITOR_RUNS)) for op in ops]


def one_run(base: Path, config: StackConfig, index: int, with_monitors: bool) -> Run:
    name = f"f{os.getpid() % 10000}{config.key[0]}{index}"
    lab = Lab(make_layout(name, base / name), Progress(sys.stderr),
              LabServices(config.fencing_text))
    demo = Demo(lab, config)
    load0 = os.getloadavg()[0]
    sys.stderr.write(f"== {config.label}, run {index + 1} (lab {name})\n")
    try:
        lab.up()
        first = demo.deploy()
        demo.wait_page()
        where, gap = demo.planned_move(first)
        monitors = _monitors(lab, demo, where) if with_monitors else []
        crash = crash_timed(demo, where)
    finally:
        lab.down()
    return Run(config.key, gap, crash, (load0, os.getloadavg()[0]), monitors)


# -- the report --------------------------------------------------------------------------------

def _stat(values: Sequence[Optional[float]]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    return f"{statistics.median(got):.2f} ({min(got):.2f}-{max(got):.2f})"


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def _diff(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a - b if a is not None and b is not None else None


def _rows(runs: dict[str, list[Run]], configs: Sequence[StackConfig]) -> list[tuple[str,
                                                                                  list[str]]]:
    def col(fn: object) -> list[str]:
        return [_stat([fn(r) for r in runs[c.key]]) for c in configs]  # type: ignore[operator]

    rows = [
        ("planned move: page unavailable", col(lambda r: r.move_gap)),
        ("crash -> survivors see the node offline (detection)", col(lambda r: r.crash.detected)),
        ("crash -> BMC reports power off", col(lambda r: r.crash.fenced)),
        ("crash -> fencer reports the fencing done", col(lambda r: r.crash.fencer_done)),
        ("crash -> every stack resource started", col(lambda r: r.crash.started)),
        ("crash -> page served through the VIP", col(lambda r: r.crash.served)),
        ("fencing: detection -> BMC off", col(lambda r: _diff(r.crash.fenced,
                                                               r.crash.detected))),
        ("fencing: detection -> fencer done", col(lambda r: _diff(r.crash.fencer_done,
                                                                   r.crash.detected))),
        ("fencing: BMC off -> fencer done (power on, verify, report)",
         col(lambda r: _diff(r.crash.fencer_done, r.crash.fenced))),
        ("stack: fencer done -> every resource started (wall)",
         col(lambda r: _diff(r.crash.started, r.crash.fencer_done))),
        ("stack: sum of the starts' exec-time (Pacemaker)",
         col(lambda r: sum(r.crash.starts.values()) if r.crash.starts else None)),
    ]
    for part in ("rbd", "fs", "lxc", "vip"):
        rows.append((f"  exec-time of the {part} member's start",
                     col(lambda r, p=part: next((v for k, v in r.crash.starts.items()
                                                 if k.endswith(f"-{p}")), None))))
    rows.append(("  exec-time of the composite's start",
                 col(lambda r: next((v for k, v in r.crash.starts.items()
                                     if k.endswith("-stack")), None))))
    return rows


def _ratio(num: Optional[float], den: Optional[float]) -> str:
    if num is None or not den:
        return "-"
    return f"{num / den:.2f}x"


def _failover_section(runs: dict[str, list[Run]], configs: Sequence[StackConfig]) -> list[str]:
    head = "| seconds, median (min-max) | " + " | ".join(c.label for c in configs) + " |"
    lines = [head, "|---|" + "---|" * len(configs)]
    for label, cells in _rows(runs, configs):
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    med = {c.key: {
        "stack_exec": _median([sum(r.crash.starts.values()) if r.crash.starts else None
                               for r in runs[c.key]]),
        "stack_wall": _median([_diff(r.crash.started, r.crash.fencer_done) for r in runs[c.key]]),
        "fence": _median([_diff(r.crash.fencer_done, r.crash.detected) for r in runs[c.key]]),
        "bmc": _median([_diff(r.crash.fenced, r.crash.detected) for r in runs[c.key]]),
        "served": _median([r.crash.served for r in runs[c.key]]),
        "move": _median([r.move_gap for r in runs[c.key]]),
    } for c in configs}
    if "anchors" in med:
        theirs = med["anchors"]
        for c in configs:
            if c.key == "anchors":
                continue
            ours = med[c.key]
            lines.append(
                f"- {c.key} / ClusterLabs: stack start "
                f"{_ratio(ours['stack_exec'], theirs['stack_exec'])}"
                f" (exec-time sum; wall from fencer done: "
                f"{_ratio(ours['stack_wall'], theirs['stack_wall'])}), fencing "
                f"{_ratio(ours['fence'], theirs['fence'])} (detection -> fencer done; "
                f"to BMC off: {_ratio(ours['bmc'], theirs['bmc'])}); target at most "
                f"{RATIO_TARGET:g}x each")
    for c in configs:
        m = med[c.key]
        served, move = m["served"], m["move"]
        lines.append(
            f"- {c.key}: crash -> page served {served:.2f} s "
            f"({'met' if served is not None and served <= CRASH_TARGET_S else 'missed'}: "
            f"target <= {CRASH_TARGET_S:g} s); planned move {move:.2f} s "
            f"({'met' if move is not None and move < MOVE_TARGET_S else 'missed'}: target "
            f"< {MOVE_TARGET_S:g} s)" if served is not None and move is not None
            else f"- {c.key}: incomplete")
    return lines


def _per_second(stats: Stats, interval_ms: float) -> float:
    """CPU ms per second for STACKS stacks running this monitor every ``interval_ms``."""
    return STACKS * stats.cpu_ms / (interval_ms / 1000.0)


def _monitor_section(runs: dict[str, list[Run]], configs: Sequence[StackConfig]) -> list[str]:
    lines = ["| configuration | monitor (resource) | interval | runs | wall ms (median) | "
             "CPU ms (median) |", "|---|---|---|---|---|---|"]
    totals: dict[str, tuple[float, float]] = {}
    for c in configs:
        measured = next((r.monitors for r in runs[c.key] if r.monitors), [])
        at10 = configured = 0.0
        for op, stats in measured:
            lines.append(f"| {c.key} | {op.label} ({op.resource}) | {op.interval_ms / 1000:g} s "
                         f"| {stats.runs} | {stats.wall_ms:.1f} | {stats.cpu_ms:.1f} |")
            if op.depth in (None, "0"):
                at10 += _per_second(stats, INTERVAL_S * 1000)
            configured += _per_second(stats, op.interval_ms)
        totals[c.key] = (at10, configured)
    lines += ["", f"CPU ms per second for {STACKS} such stacks (of one CPU: /10 %):", "",
              "| configuration | every agent's depth-0 monitor at 10 s | every monitor at "
              "its configured interval |", "|---|---|---|"]
    for c in configs:
        at10, configured = totals[c.key]
        lines.append(f"| {c.label} | {at10:.0f} | {configured:.0f} |")
    if "anchors" in totals and totals["anchors"][0]:
        lines.append("")
        theirs = totals["anchors"]
        for c in configs:
            if c.key != "anchors":
                ours = totals[c.key]
                lines.append(f"- {c.key} / ClusterLabs: {ours[0] / theirs[0]:.2f}x at 10 s, "
                             f"{ours[1] / theirs[1]:.2f}x at the configured intervals")
    return lines


def main() -> str:
    configs = [c for c in CONFIGURATIONS if not WANTED or c.key in WANTED]
    runs: dict[str, list[Run]] = {c.key: [] for c in configs}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hakit-bench-failover-") as tmp, \
            cgroup_release_kept():
        for index in range(RUNS):
            for config in configs:
                runs[config.key].append(one_run(Path(tmp), config, index, index == 0))
    loads = [x for rs in runs.values() for r in rs for x in r.load]
    lines = [
        "## Failover side by side (bench_failover)", "",
        f"{RUNS} runs of each configuration, one fresh lab each (interleaved), "
        f"{(time.monotonic() - began) / 60:.1f} min in all; 1-minute load average during "
        f"the runs {min(loads):.1f}-{max(loads):.1f}. Times from the crash (every process "
        "of the node killed) or from the move command; the fencer's completion is when "
        "`stonith_admin --history` is first seen reporting it (polled with crm_mon, about "
        "every 0.1-0.2 s); exec-times are Pacemaker's own (`lrm_rsc_op`).", "",
        *_failover_section(runs, configs), "",
        "### Monitor cost at scale", "",
        f"Every recurring monitor of each configuration, run {MONITOR_RUNS} times on the "
        "running stack inside its node with the parameters, op meta and environment "
        "Pacemaker gives it (CPU: the agent and all its children). Measured per monitor "
        f"and scaled to {STACKS} stacks, not {STACKS} real stacks.", "",
        *_monitor_section(runs, configs), ""]
    return "\n".join(lines)
