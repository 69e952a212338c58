"""fence_hakit vs fence_ipmilan on the same ipmi_sim BMC: time to a verified off and to a
completed reboot, each run starting from a powered-on machine."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.bench.common import Stats, run_once, table
from tests.harness.bmc import IpmiSim
from tests.harness.ocf import AGENTS, LIB

RUNS = 10
FENCE_IPMILAN = "/usr/sbin/fence_ipmilan"


def _measure(label: str, argv: Sequence[str], env: dict[str, str], sim: IpmiSim,
             runs: int = RUNS) -> Stats:
    walls, cpus = [], []
    for _ in range(runs):
        sim.behave()
        sim.set_power(True)
        wall, cpu = run_once(argv, env)
        if sim.power is not (argv[-1] == "reboot"):
            raise RuntimeError(f"{label}: machine in the wrong state after the run")
        walls.append(wall)
        cpus.append(cpu)
    return Stats(label, runs, statistics.median(walls) * 1000, statistics.median(cpus) * 1000)


def main() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        sim = IpmiSim(Path(tmp) / "bmc").start()
        try:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
                   "BMC_PASSWORD": sim.password, "PYTHONWARNINGS": "ignore"}
            where = ["-a", sim.host, "-u", str(sim.port), "-l", sim.username, "-P",
                     "-C", "3"]
            ours = [str(AGENTS / "fence_hakit"), *where, "--password-env", "BMC_PASSWORD"]
            # fence_ipmilan can only take the password on its argv (or a script).
            theirs = [FENCE_IPMILAN, *where, "-p", sim.password]
            rows = []
            for action in ("off", "reboot"):
                rows.append(_measure(f"fence_hakit {action}", [*ours, "-o", action], env, sim))
                rows.append(_measure(f"fence_ipmilan {action}", [*theirs, "-o", action], env,
                                     sim))
                rows.append(_measure(f"fence_ipmilan {action}, power_wait=0",
                                     [*theirs, "--power-wait=0", "-o", action], env, sim))
        finally:
            sim.stop()
    lines = ["## fence (fence_hakit vs fence_ipmilan)", "",
             "Same ipmi_sim BMC on 127.0.0.1 (RMCP+, cipher suite 3 for both), machine on "
             "before each run; wall time until the agent exits having verified the state.",
             "fence_ipmilan waits power_wait (default 2 s) after each request before "
             "polling; fence_hakit polls at once (power_wait default 0).", "",
             table(rows), ""]
    by = {r.label: r for r in rows}
    for action in ("off", "reboot"):
        mine, theirs_row = by[f"fence_hakit {action}"], by[f"fence_ipmilan {action}"]
        lines.append(f"- {action}: fence_hakit / fence_ipmilan = "
                     f"{mine.wall_ms / theirs_row.wall_ms:.2f}x wall, "
                     f"{mine.cpu_ms / theirs_row.cpu_ms:.2f}x CPU")
    return "\n".join(lines) + "\n"
