"""fence_hakit through the real fencer (pacemaker-fenced --stand-alone) and through pcs.

The fencer, stonith_admin and the BMC simulator all run inside a throwaway network
namespace: the fencer's IPC socket is an abstract one, private to that namespace, so the
test cannot meet (or disturb) any other fencer on this machine.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fence.conftest import CmdlineWatcher
from tests.harness.bmc import IpmiSim
from tests.harness.netns import Netns, NetnsPool

FENCED = "/usr/lib/pacemaker/pacemaker-fenced"
STONITH_ADMIN = "/usr/sbin/stonith_admin"
PCS = "/usr/sbin/pcs"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}


class Fencer:
    """pacemaker-fenced in stand-alone mode inside ``ns``, stopped by PID."""

    def __init__(self, ns: Netns, workdir: Path) -> None:
        self.ns = ns
        self.log = workdir / "fenced.log"
        self._proc = subprocess.Popen(
            ns.exec_argv([FENCED, "--stand-alone", "-l", str(self.log)]),
            env={**ENV, "PCMK_logfile": str(self.log)}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + 15
        while self.admin("--list-registered", check=False).returncode != 0:
            if self._proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("pacemaker-fenced did not start")
            time.sleep(0.1)

    def admin(self, *args: str, check: bool = True,
              timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ns.exec_argv([STONITH_ADMIN, *args]), capture_output=True,
                              text=True, env=ENV, timeout=timeout, check=check)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)


@pytest.fixture
def fenced_sim(netns_pool: NetnsPool, tmp_path: Path,
               installed_agent: Path) -> Iterator[tuple[Fencer, IpmiSim, Path]]:
    """A fencer and a BMC in one namespace, and a password script for the device."""
    del installed_agent
    ns = netns_pool.create()
    sim = IpmiSim(tmp_path / "bmc", wrap=ns.exec_argv([]), port=623)
    sim.start()
    script = tmp_path / "bmc-password"
    script.write_text(f"#!/bin/sh\necho '{sim.password}'\n")
    script.chmod(0o700)
    fencer = None
    try:
        fencer = Fencer(ns, tmp_path)
        yield fencer, sim, script
    finally:
        if fencer is not None:
            fencer.stop()
        sim.stop()


def _register(fencer: Fencer, sim: IpmiSim, script: Path, **extra: str) -> None:
    options = {"ip": sim.host, "ipport": str(sim.port), "username": sim.username,
               "password_script": str(script), "lanplus": "1", "pcmk_host_list": "node1",
               **extra}
    argv = ["--register", "bmc1", "--agent", "fence_hakit"]
    for key, value in options.items():
        argv += ["--option", f"{key}={value}"]
    fencer.admin(*argv)


def test_fencer_reports_success_only_when_node_is_off(
        fenced_sim: tuple[Fencer, IpmiSim, Path]) -> None:
    fencer, sim, script = fenced_sim
    _register(fencer, sim, script)
    with CmdlineWatcher(sim.password) as watcher:
        result = fencer.admin("--fence", "node1", "--timeout", "60", check=False)
    assert result.returncode == 0, result.stderr
    assert sim.power is False
    assert watcher.leaks == set()
    started = time.time()
    result = fencer.admin("--reboot", "node1", "--timeout", "60", check=False)
    assert result.returncode == 0, result.stderr
    assert sim.power is True
    assert [on for t, on in sim.history() if t >= started] == [True]  # was off: only on


def test_fencer_reports_failure_when_bmc_keeps_node_on(
        fenced_sim: tuple[Fencer, IpmiSim, Path]) -> None:
    fencer, sim, script = fenced_sim
    sim.behave(stuck_on=True)
    _register(fencer, sim, script, power_timeout="1", pcmk_off_retries="1")
    result = fencer.admin("--fence", "node1", "--timeout", "60", check=False)
    assert result.returncode != 0
    assert sim.power is True
    assert "still reported power on" in fencer.log.read_text()


def test_pcs_describes_the_agent(installed_agent: Path) -> None:
    del installed_agent
    result = subprocess.run([PCS, "stonith", "describe", "fence_hakit"], capture_output=True,
                            text=True, env=ENV, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for name in ("ip", "username", "password_script", "lanplus", "cipher", "power_timeout"):
        assert f"  {name}:" in result.stdout, name


@pytest.mark.parametrize("options", [
    ["ip=198.18.0.5", "username=admin", "password_script=/usr/local/sbin/bmc-pw",
     "pcmk_host_list=node1"],
    ["ipaddr=198.18.0.5", "login=admin", "passwd=secret", "lanplus=1", "power_wait=4",
     "pcmk_host_list=node1"],  # a fence_ipmilan configuration, names unchanged
])
def test_pcs_creates_a_device(installed_agent: Path, tmp_path: Path,
                              options: list[str]) -> None:
    del installed_agent
    cib = tmp_path / "cib.xml"
    empty = subprocess.run(["/usr/sbin/cibadmin", "--empty"], capture_output=True, text=True,
                           env=ENV, timeout=30, check=True)
    cib.write_text(empty.stdout)
    result = subprocess.run([PCS, "-f", str(cib), "stonith", "create", "fence-node1",
                             "fence_hakit", *options], capture_output=True, text=True,
                            env=ENV, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert 'type="fence_hakit"' in cib.read_text()
