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

import json
import os
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.errors import GenericError
from hakit.lab import procs
from hakit.runner import SYSTEM_PATH

IPMI_SIM = "/usr/bin/ipmi_sim"
IPMI_PORT = 623
USERNAME = "hakit"

#: ipmi_sim runs it as ``PROG STATE_DIR 0x20 get power`` or ``... set power 0|1``.  Stdlib
#: only, isolated: it starts per request.  ``off`` runs to completion before the BMC answers;
#: ``on`` is started in its own session and not waited for.
CHASSIS_CONTROL = r'''#!/usr/bin/python3 -I
import json, os, subprocess, sys, time
state, args = sys.argv[1], sys.argv[3:]
op, params = (args[0], args[1:]) if args else ("", [])
def path(name):
    return os.path.join(state, name)
def power():
    try:
        with open(path("power")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1
with open(path("config")) as f:
    cfg = json.load(f)
if op == "get":
    for p in params:
        print("%s:%s" % (p, power() if p == "power" else "default"))
elif op == "set":
    for name, value in zip(params[::2], params[1::2]):
        want = 1 if value == "1" else 0
        if name != "power" or want == power():
            continue
        with open(path("history"), "a") as f:
            f.write("%.3f %s requested\n" % (time.time(), "on" if want else "off"))
        env = dict(cfg["env"])
        if want == 0:
            with open(path("power-off.out"), "ab") as out:
                subprocess.run(cfg["off"], env=env, stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT, timeout=60, check=False)
        else:
            with open(path("power-on.out"), "ab") as out:
                subprocess.Popen(cfg["on"], env=env, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        with open(path("power.tmp"), "w") as f:
            f.write(str(want))
        os.replace(path("power.tmp"), path("power"))
        with open(path("history"), "a") as f:
            f.write("%.3f %s\n" % (time.time(), "on" if want else "off"))
'''


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

    def start(self, hub_netns: str, password: str, *, off: list[str], on: list[str],
              env: dict[str, str], deadline: Deadline) -> procs.Proc:
        """Write the simulator's files and start it detached in ``hub_netns``."""
        d = self.workdir
        (d / "persist").mkdir(parents=True, exist_ok=True)
        program = d / "chassis_control"
        program.write_text(CHASSIS_CONTROL)
        program.chmod(0o755)
        (d / "power").write_text("1")
        (d / "config").write_text(json.dumps({"off": off, "on": on, "env": env}))
        lan = d / "lan.conf"
        lan.write_text(f'''name "hakit-lab"
set_working_mc 0x20
  startlan 1
    addr {self.address.ip} {IPMI_PORT}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{program} {d} 0x20"
  user 2 true "{USERNAME}" "{password}" admin 10 md5
''')
        lan.chmod(0o600)  # holds the password
        (d / "sim.emu").write_text("mc_setbmc 0x20\n"
                                   "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
                                   "mc_enable 0x20\n")
        argv = ["/usr/bin/ip", "netns", "exec", hub_netns, IPMI_SIM, "-c", str(lan),
                "-f", str(d / "sim.emu"), "-s", str(d / "persist"), "-n"]
        proc = procs.spawn_detached(argv, d / "ipmi_sim.out", {"PATH": SYSTEM_PATH})
        procs.write_pidfile(self.pidfile, proc)

        def listening() -> Optional[bool]:
            if not procs.is_alive(proc):
                raise GenericError(f"ipmi_sim exited; see {d / 'ipmi_sim.out'}")
            return True if self._listening(proc.pid) else None

        deadline.within(10).poll(listening, f"waiting for the BMC on {self.address.ip}",
                                 0.02, 0.1)
        return proc

    @staticmethod
    def _listening(pid: int) -> bool:
        want = f":{IPMI_PORT:04X}"
        try:
            lines = Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]
        except OSError:
            return False
        return any(line.split()[1].endswith(want) for line in lines)

    def history(self) -> list[PowerEvent]:
        """The BMC's power log, oldest first."""
        try:
            text = (self.workdir / "history").read_text()
        except OSError:
            return []
        events = []
        for line in text.splitlines():
            stamp, _, what = line.partition(" ")
            events.append(PowerEvent(float(stamp), what))
        return events

    @property
    def power(self) -> bool:
        """Whether the BMC reports the machine as on."""
        try:
            return (self.workdir / "power").read_text().strip() != "0"
        except OSError:
            return False


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
