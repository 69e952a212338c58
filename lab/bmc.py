"""One simulated BMC per lab node: OpenIPMI's ``ipmi_sim`` in the hub namespace.

Each BMC listens on its own address on the hub bridge (UDP 623, IPMI 2.0 with RMCP+) and
controls one node's power through a small chassis program that ipmi_sim runs per request.
Power-off runs the lab's ``crash`` (every process of the node killed, as pulling the plug)
before the BMC reports the machine off; power-on starts the lab's ``boot --delay`` detached
and reports on at once, so the node comes back several seconds later, after the fencer has
recorded its result (an instant boot would make the node rejoin first and be fenced again).
Every power change is appended to the BMC's ``history`` (the power log tests read).

ipmi_sim runs detached (pidfile ``ipmi_sim.pid``, ``PID STARTTIME``), so it outlives the
command that started it; the lab's ``down`` kills every process in the hub namespace.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError
from hakit.os.runner import SYSTEM_PATH, Runner
from lab import ipmisim, procs

IPMI_PORT = 623
#: How long a simulated BMC waits between power-on and booting the node: an instant
#: power-on lets the fenced node rejoin before the fencer has reported its result, and the
#: node is then fenced for good.
POWER_ON_DELAY = 8.0
USERNAME = "hakit"


def power_commands(state_dir: Path, node: str,
                   delay: float = POWER_ON_DELAY) -> tuple[list[str], list[str]]:
    """The argv a node's BMC simulator runs for power-off and for power-on.

    Power-off is the lab's ``crash`` (every process of the node killed); power-on is its
    ``boot`` after ``delay``, which the simulator starts detached so that its answer to the
    fencer does not wait for the boot.  Run both with ``lab.checkout.child_env()``.
    """
    base = [sys.executable, "-m", "lab", "--state-dir", str(state_dir)]
    return [*base, "crash", node], [*base, "boot", node, "--delay", f"{delay:g}"]


@dataclass(frozen=True)
class PowerEvent:
    """One line of a BMC's power log."""

    time: float  # unix time
    what: str  # "off", "on", "off requested", "on requested"


class LabBmc:
    """The BMC of one node: its files live in ``workdir``; it listens on ``address``:623."""

    def __init__(self, workdir: Path, address: IPv4Interface) -> None:
        self.workdir = workdir
        self.address = address

    @property
    def pidfile(self) -> Path:
        return self.workdir / "ipmi_sim.pid"

    def start(self, runner: Runner, hub_netns: str, password: str, *, off: list[str],
              on: list[str], env: dict[str, str], deadline: Deadline) -> procs.Proc:
        """Write the simulator's files and start it detached in ``hub_netns``."""
        d = self.workdir
        # Power-off completes before the BMC answers; power-on is not waited for.
        argv = ipmisim.prepare(d, d, host=str(self.address.ip), port=IPMI_PORT,
                               username=USERNAME, password=password, power_on=True,
                               config={"off": off, "on": on, "detach_on": True, "env": env})
        proc = procs.spawn_detached(runner, ["/usr/bin/ip", "netns", "exec", hub_netns, *argv],
                                    d / "ipmi_sim.out", {"PATH": SYSTEM_PATH})
        procs.write_pidfile(self.pidfile, proc)

        def listening() -> Optional[bool]:
            if not procs.is_alive(proc):
                raise GenericError(f"ipmi_sim exited; see {d / 'ipmi_sim.out'}")
            return True if ipmisim.listening(proc.pid, IPMI_PORT) else None

        deadline.within(10).poll(listening, f"waiting for the BMC on {self.address.ip}",
                                 0.02, 0.1)
        return proc

    def history(self) -> list[PowerEvent]:
        """The BMC's power log, oldest first."""
        return [PowerEvent(t, what) for t, what in ipmisim.history(self.workdir)]

    @property
    def power(self) -> bool:
        """Whether the BMC reports the machine as on."""
        return ipmisim.power(self.workdir)


def password_script(password: str) -> str:
    """A root-only script printing the BMC password (fence_hakit's password_script)."""
    return f"#!/bin/sh\necho '{password}'\n"


def bmc_dir(state_dir: Path, node: str) -> Path:
    return state_dir / "bmcs" / node


def read_bmcs(state_dir: Path) -> dict[str, LabBmc]:
    """The lab's BMCs, by node name, as recorded under ``state_dir/bmcs``."""
    found = {}
    root = state_dir / "bmcs"
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            addr = sub / "address"
            if addr.exists():
                found[sub.name] = LabBmc(sub, IPv4Interface(addr.read_text().strip()))
    return found


def record_address(bmc: LabBmc) -> None:
    bmc.workdir.mkdir(parents=True, exist_ok=True)
    (bmc.workdir / "address").write_text(str(bmc.address))
    os.chmod(bmc.workdir, 0o700)
