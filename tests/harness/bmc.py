"""A real IPMI BMC for tests: OpenIPMI's ``ipmi_sim`` with a scripted chassis.

The files and the chassis program are ``lab.ipmisim``'s, the same the lab's BMCs
use; this class starts ipmi_sim on a free UDP port, stops it by PID, and lets tests read
and set the power and make the BMC misbehave:

- ``stuck_on``: power-off requests are acknowledged but the power stays on;
- ``off_delay`` / ``on_delay``: the state changes that many seconds after the request;
- ``hook``: an argv run with ``on`` or ``off`` appended whenever the power changes.

Usable as a context manager; ``stop`` is safe to call more than once.
"""

from __future__ import annotations

import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from lab import ipmisim

IPMI_SIM = ipmisim.IPMI_SIM


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
                 wrap: Sequence[str] = (), hook: Optional[Sequence[str]] = None,
                 satellites: Sequence[int] = ()) -> None:
        """``wrap`` prefixes ipmi_sim's argv (e.g. ``ip netns exec NS``; it must exec, so
        the PID stays ipmi_sim's).  Without ``password``, a random one (16 characters,
        IPMI's limit for this simulator's users) that tests can look for in logs.
        ``satellites``: IPMB addresses of more controllers behind the BMC (blades in a
        chassis), each powering its own machine, reached by bridging (``target``)."""
        self.workdir = Path(workdir)
        self.username = username
        self.password = password or f"hk-{secrets.token_hex(6)}"
        self.host = host
        self.port = port or free_udp_port(host)
        self.state = self.workdir / "chassis"
        self._wrap = list(wrap)
        self._initial_power = power_on
        self._config: dict[str, object] = (
            {"off": [*hook, "off"], "on": [*hook, "on"]} if hook else {})
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self.satellites = {address: self.workdir / f"chassis-0x{address:02x}"
                           for address in satellites}

    # -- lifecycle -------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> IpmiSim:
        argv = ipmisim.prepare(self.workdir, self.state, host=self.host, port=self.port,
                               username=self.username, password=self.password,
                               power_on=self._initial_power, config=self._config,
                               satellites=self.satellites)
        log = open(self.workdir / "ipmi_sim.log", "wb")  # noqa: SIM115 - closed with the child
        try:
            self._proc = subprocess.Popen([*self._wrap, *argv], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        finally:
            log.close()
        end = time.monotonic() + timeout
        while not ipmisim.listening(self._proc.pid, self.port):
            if self._proc.poll() is not None:
                raise RuntimeError(f"ipmi_sim exited {self._proc.returncode}: "
                                   f"{(self.workdir / 'ipmi_sim.log').read_text()[-2000:]}")
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError("ipmi_sim did not open its UDP port")
            time.sleep(0.02)
        return self

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
    @property
    def power(self) -> bool:
        """Whether the machine is powered on (as the BMC will report it)."""
        return ipmisim.power(self.state)

    def set_power(self, on: bool) -> None:
        """Set the machine's power directly, as if someone pressed its button."""
        ipmisim.save(self.state, "power", 1 if on else 0)
        pending = self.state / "pending"
        if pending.exists():
            pending.unlink()

    def behave(self, *, stuck_on: bool = False, off_delay: float = 0.0,
               on_delay: float = 0.0) -> None:
        """Make the BMC misbehave (or behave again, with no arguments)."""
        self._config.update(stuck_on=stuck_on, off_delay=off_delay, on_delay=on_delay)
        ipmisim.save(self.state, "config", self._config)

    def history(self) -> list[tuple[float, bool]]:
        """Every power change so far: (unix time, powered on)."""
        return [(t, what == "on") for t, what in ipmisim.history(self.state)
                if what in ("on", "off")]

    def calls(self) -> list[str]:
        """The chassis requests ipmi_sim made, e.g. ``get power``, ``set power 0``."""
        path = self.state / "calls"
        if not path.exists():
            return []
        return [line.split(" ", 1)[1] for line in path.read_text().splitlines()]

    def satellite_power(self, address: int) -> bool:
        """Whether the machine behind the controller at IPMB ``address`` is powered on."""
        return ipmisim.power(self.satellites[address])

    def satellite_calls(self, address: int) -> list[str]:
        """The chassis requests the controller at ``address`` received."""
        path = self.satellites[address] / "calls"
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
