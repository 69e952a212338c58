"""Crash to page with the BMC dead (level 1 fails, level 2 the Ceph blocklist fences) next
to the same crash with the BMC alive, side by side on one lab.

The lab has the fencing snippet's ``--ceph`` set-up (``LabServices(ceph_fencing=True)``):
level 1 fence_hakit against each node's BMC (tried once: ``pcmk_reboot_retries=1``),
level 2 fence_hakit_ceph.  Each run crashes the stack's node twice, alternating which
kind comes first: with its BMC alive (fenced at level 1, powered on again by the BMC) and
with its BMC dead too (``lab.deadbmc``: level 1 times out, level 2 fences; then the
BMC is repaired and the node booted and unfenced).  Each crash is timed from the crash to
detection, the fencer's report and the page served again (``Demo.crash_and_recover``).

``HAKIT_BENCH_CEPH_LEVEL_RUNS`` (default 3) runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from lab import deadbmc
from lab.cluster import Lab
from lab.demo import Demo, Failover, stack_state
from lab.layout import make_layout
from lab.progress import Progress
from lab.services import LabServices

RUNS = int(os.environ.get("HAKIT_BENCH_CEPH_LEVEL_RUNS", "3"))


def _alive(demo: Demo) -> Failover:
    victim = _stack_node(demo)
    return demo.crash_and_recover(victim)


def _dead(demo: Demo) -> Failover:
    victim = _stack_node(demo)
    result = deadbmc.crash(demo, victim)
    deadbmc.rejoin(demo, result)
    return result


def _stack_node(demo: Demo) -> str:
    node = stack_state(demo.lab.status(), demo.names)
    if node is None:
        raise RuntimeError("the stack is not running on one node")
    return node


def _median(values: Sequence[Optional[float]]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    return f"{statistics.median(got):.2f} ({min(got):.2f}-{max(got):.2f})"


def main() -> str:
    alive: list[Failover] = []
    dead: list[Failover] = []
    with tempfile.TemporaryDirectory(prefix="hakit-bench-ceph-") as tmp:
        layout = make_layout("bcl", Path(tmp) / "lab")
        lab = Lab(layout, Progress(sys.stderr), LabServices(ceph_fencing=True))
        try:
            lab.up()
            demo = Demo(lab)
            demo.deploy()
            demo.wait_page()
            for index in range(RUNS):
                order = ((_alive, alive), (_dead, dead))
                for run, into in order if index % 2 == 0 else reversed(order):
                    into.append(run(demo))
                    demo.wait_page()
        finally:
            lab.down()
    levels = sorted({f.level or "?" for f in dead})

    def row(label: str, runs: list[Failover]) -> str:
        return (f"| {label} | {len(runs)} | {_median([f.detected for f in runs])} | "
                f"{_median([f.fencer_done for f in runs])} | "
                f"{_median([f.started for f in runs])} | {_median([f.served for f in runs])} |")

    served_alive = statistics.median([f.served for f in alive if f.served is not None])
    served_dead = statistics.median([f.served for f in dead if f.served is not None])
    return "\n".join([
        "## Crash to page with the BMC dead (fence_hakit_ceph as level 2)", "",
        "One lab, `hakit-snippet fencing --ceph` (level 1 fence_hakit tried once, level 2 "
        "fence_hakit_ceph), the group stack with requires=unfencing. Seconds from the crash, "
        "median (min-max):", "",
        "| crash of the stack's node | runs | survivors see it offline | fencer reports it "
        "fenced | stack started elsewhere | page served again |",
        "|---|---|---|---|---|---|",
        row("BMC alive (level 1, fence_hakit)", alive),
        row("BMC dead too (level 1 times out, level 2 fence_hakit_ceph)", dead),
        "",
        f"- BMC dead / alive, crash to page: {served_dead / served_alive:.2f}x "
        f"(+{served_dead - served_alive:.1f} s: level 1's login timeout, then the blocklist)",
        f"- levels that fenced the dead-BMC crashes: {', '.join(levels)}",
        f"- rejoin after repair (BMC back, node booted) to unfenced: "
        f"{_median([f.unfenced for f in dead])} s from the boot",
        ""])


if __name__ == "__main__":
    print(main())
