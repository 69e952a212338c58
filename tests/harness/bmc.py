"""A real IPMI BMC for tests: OpenIPMI's ``ipmi_sim`` with a scripted chassis.

``IpmiSim`` writes a LAN configuration, an emulator command file and a ``chassis_control``
program into a directory, starts ``ipmi_sim`` on a free UDP port and stops it by PID.  The
chassis program records the machine's power state in a file, so tests (and the lab) can
read and set it, and can make the BMC misbehave:

- ``stuck_on``: power-off requests are acknowledged but the power stays on;
- ``off_delay`` / ``on_delay``: the state changes that many seconds after the request;
- ``hook``: an argv run with ``on`` or ``off`` appended whenever the power changes (the lab
  uses it to stop or start a node's containers).

Usable as a context manager; ``stop`` is safe to call more than once.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

IPMI_SIM = "/usr/bin/ipmi_sim"

#: The chassis_control program ipmi_sim runs as ``PROG STATE_DIR 0x20 get power`` or
#: ``PROG STATE_DIR 0x20 set power 0``.  Stdlib only, no site packages: it runs per request.
CHASSIS_CONTROL = r'''#!/usr/bin/python3 -I
import json, os, subprocess, sys, time
state, args = sys.argv[1], sys.argv[3:]
op, params = (args[0], args[1:]) if args else ("", [])
def path(name):
    return os.path.join(state, name)
def read(name, default):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default
def write(name, value):
    tmp = path(name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path(name))
def change(power, cfg):
    if read("power", 1) == power:
        return
    write("power", power)
    with open(path("history"), "a") as f:
        f.write("%.3f %d\n" % (time.time(), power))
    if cfg.get("hook"):
        subprocess.run(cfg["hook"] + ["on" if power else "off"], timeout=30, check=False)
cfg = read("config", {})
with open(path("calls"), "a") as f:
    f.write("%.3f %s\n" % (time.time(), " ".join(args)))
pending = read("pending", None)
if pending and time.time() >= pending["at"]:
    os.unlink(path("pending"))
    change(pending["power"], cfg)
if op == "get":
    for p in params:
        print("%s:%s" % (p, read("power", 1) if p == "power" else "default"))
elif op == "set":
    for name, value in zip(params[::2], params[1::2]):
        if name != "power":
            continue
        power = 1 if value == "1" else 0
        if power == 0 and cfg.get("stuck_on"):
            continue
        delay = cfg.get("off_delay" if power == 0 else "on_delay", 0)
        if delay:
            write("pending", {"power": power, "at": time.time() + delay})
        else:
            if os.path.exists(path("pending")):
                os.unlink(path("pending"))
            change(power, cfg)
'''


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class IpmiSim:
    """One simulated BMC controlling one machine's power."""

    def __init__(self, workdir: Path, *, username: str = "admin",
                 password: Optional[str] = None, power_on: bool = True,
                 host: str = "127.0.0.1", port: Optional[int] = None,
                 wrap: Sequence[str] = (), hook: Optional[Sequence[str]] = None) -> None:
        """``wrap`` prefixes ipmi_sim's argv (e.g. ``ip netns exec NS``; it must exec, so
        the PID stays ipmi_sim's).  Without ``password``, a random one (16 characters,
        IPMI's limit for this simulator's users) that tests can look for in logs."""
        self.workdir = Path(workdir)
        self.username = username
        self.password = password or f"hk-{secrets.token_hex(6)}"
        self.host = host
        self.port = port or free_udp_port(host)
        self.state = self.workdir / "chassis"
        self._wrap = list(wrap)
        self._initial_power = power_on
        self._config: dict[str, object] = {"hook": list(hook) if hook else None}
        self._proc: Optional[subprocess.Popen[bytes]] = None

    # -- lifecycle -------------------------------------------------------------------
    def _write_files(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.workdir / "persist").mkdir(exist_ok=True)
        program = self.workdir / "chassis_control"
        program.write_text(CHASSIS_CONTROL)
        program.chmod(0o755)
        self._save("power", 1 if self._initial_power else 0)
        self._save("config", self._config)
        (self.workdir / "lan.conf").write_text(f'''name "hakit-sim"
set_working_mc 0x20
  startlan 1
    addr {self.host} {self.port}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{program} {self.state} 0x20"
  user 2 true "{self.username}" "{self.password}" admin 10 md5
''')
        (self.workdir / "sim.emu").write_text(
            "mc_setbmc 0x20\n"
            "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
            "mc_enable 0x20\n")

    def start(self, timeout: float = 10.0) -> IpmiSim:
        self._write_files()
        argv = [*self._wrap, IPMI_SIM, "-c", str(self.workdir / "lan.conf"),
                "-f", str(self.workdir / "sim.emu"), "-s", str(self.workdir / "persist"), "-n"]
        log = open(self.workdir / "ipmi_sim.log", "wb")  # noqa: SIM115 - closed with the child
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        end = time.monotonic() + timeout
        while not self._listening():
            if self._proc.poll() is not None:
                raise RuntimeError(f"ipmi_sim exited {self._proc.returncode}: "
                                   f"{(self.workdir / 'ipmi_sim.log').read_text()[-2000:]}")
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError("ipmi_sim did not open its UDP port")
            time.sleep(0.02)
        return self

    def _listening(self) -> bool:
        assert self._proc is not None
        want = f":{self.port:04X}"
        try:
            lines = Path(f"/proc/{self._proc.pid}/net/udp").read_text().splitlines()[1:]
        except OSError:
            return False
        return any(line.split()[1].endswith(want) for line in lines)

    def stop(self) -> None:
        """Stop ipmi_sim by its PID (TERM, then KILL)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> IpmiSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the machine -----------------------------------------------------------------
    def _save(self, name: str, value: object) -> None:
        tmp = self.state / f"{name}.tmp"
        tmp.write_text(json.dumps(value))
        os.replace(tmp, self.state / name)

    @property
    def power(self) -> bool:
        """Whether the machine is powered on (as the BMC will report it)."""
        return bool(json.loads((self.state / "power").read_text()))

    def set_power(self, on: bool) -> None:
        """Set the machine's power directly, as if someone pressed its button."""
        self._save("power", 1 if on else 0)
        pending = self.state / "pending"
        if pending.exists():
            pending.unlink()

    def behave(self, *, stuck_on: bool = False, off_delay: float = 0.0,
               on_delay: float = 0.0) -> None:
        """Make the BMC misbehave (or behave again, with no arguments)."""
        self._config.update(stuck_on=stuck_on, off_delay=off_delay, on_delay=on_delay)
        self._save("config", self._config)

    def history(self) -> list[tuple[float, bool]]:
        """Every power change so far: (unix time, powered on)."""
        path = self.state / "history"
        if not path.exists():
            return []
        return [(float(t), p == "1") for t, p in
                (line.split() for line in path.read_text().splitlines())]

    def calls(self) -> list[str]:
        """The chassis requests ipmi_sim made, e.g. ``get power``, ``set power 0``."""
        path = self.state / "calls"
        if not path.exists():
            return []
        return [line.split(" ", 1)[1] for line in path.read_text().splitlines()]

    def fence_params(self, **extra: str) -> dict[str, str]:
        """fence_ipmilan-style options reaching this BMC."""
        params = {"ip": self.host, "ipport": str(self.port), "username": self.username,
                  "password": self.password, "lanplus": "1"}
        params.update(extra)
        return params


if __name__ == "__main__":  # python3 -m tests.harness.bmc DIR: run one by hand
    sim = IpmiSim(Path(sys.argv[1])).start()
    print(f"ipmi_sim pid {sim.pid} on {sim.host}:{sim.port}, user {sim.username}, "
          f"password {sim.password}; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()
