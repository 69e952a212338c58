"""The lab cluster: time to form, planned move and node-crash failover of a Dummy resource.

Each run builds a fresh lab (random name, temporary state directory), so nothing is shared
with other runs or other labs; every run is taken down in ``finally``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

from lab.cluster import Lab
from lab.layout import make_layout
from lab.progress import Progress
from lab.status import ClusterState

RUNS = int(os.environ.get("HAKIT_BENCH_LAB_RUNS", "3"))
POLL = 0.05  # crm_mon poll interval while timing a transition
DUMMY = ('<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy">'
         '<operations><op id="dummy-monitor-5s" name="monitor" interval="5s"/></operations>'
         "</primitive>")


def _timed(lab: Lab, began: float, predicate: Callable[[ClusterState], bool], doing: str,
           via: Optional[str] = None) -> tuple[float, ClusterState]:
    state = lab.wait_for(predicate, 60, doing, via=via, interval=POLL)
    return time.monotonic() - began, state


def one_run(base: Path, index: int) -> dict[str, float]:
    lab = Lab(make_layout(f"b{os.getpid() % 10000}x{index}", base / f"lab{index}"), Progress())
    out: dict[str, float] = {}
    try:
        began = time.monotonic()
        lab.up()
        out["up: namespaces to quorate cluster with a DC"] = time.monotonic() - began

        lab.run_on("n1", ["cibadmin", "--create", "-o", "resources", "-X", DUMMY])
        state = lab.wait_for(lambda s: s.where("dummy") is not None, 60, "dummy start",
                             interval=POLL)
        here = state.where("dummy")
        there = next(n.name for n in lab.layout.nodes if n.name != here)
        began = time.monotonic()
        lab.run_on("n1", ["crm_resource", "--move", "-r", "dummy", "-N", there])
        out["planned move (crm_resource --move) until started on the target"], _ = _timed(
            lab, began, lambda s: s.where("dummy") == there, "move")
        lab.run_on("n1", ["crm_resource", "--clear", "-r", "dummy"])

        others = [n.name for n in lab.layout.nodes if n.name != there]
        began = time.monotonic()
        lab.crash(there)
        out["crash: node seen offline (detection)"], _ = _timed(
            lab, began, lambda s: there not in s.online, "detection", via=others[0])
        out["crash: Dummy started on another node"], _ = _timed(
            lab, began, lambda s: s.where("dummy") in others, "recovery", via=others[0])

        began = time.monotonic()
        lab.boot(there)
        out["boot: crashed node back online"], _ = _timed(
            lab, began, lambda s: len(s.online) == 3, "rejoin")
    finally:
        began = time.monotonic()
        lab.down()
        out["down"] = time.monotonic() - began
    return out


def main() -> str:
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="hakit-bench-lab-") as tmp:
        for i in range(RUNS):
            results.append(one_run(Path(tmp), i))
    rows = ["| step | runs | median s | min s | max s |", "|---|---|---|---|---|"]
    for key in results[0]:
        values = [r[key] for r in results]
        rows.append(f"| {key} | {len(values)} | {statistics.median(values):.2f} | "
                    f"{min(values):.2f} | {max(values):.2f} |")
    return ("### The lab cluster, with ocf:pacemaker:Dummy (bench_lab)\n\n"
            "Three-node lab cluster (corosync knet at default timings, dc-deadtime 3s, "
            "stonith disabled), one ocf:pacemaker:Dummy resource; times from the command to "
            f"the state crm_mon reports (polled every {POLL * 1000:.0f} ms).\n\n"
            + "\n".join(rows) + "\n")
