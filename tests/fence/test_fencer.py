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
from tests.fence.fencer import ENV, Fencer
from tests.harness.bmc import IpmiSim
from tests.harness.installed import StagedInstall
from tests.harness.netns import NetnsPool

PCS = "/usr/sbin/pcs"


@pytest.fixture
def fenced_sim(netns_pool: NetnsPool, tmp_path: Path,
               staged_install: StagedInstall) -> Iterator[tuple[Fencer, IpmiSim, Path]]:
    """A fencer and a BMC in one namespace, and a password script for the device."""
    ns = netns_pool.create()
    sim = IpmiSim(tmp_path / "bmc", wrap=ns.exec_argv([]), port=623)
    sim.start()
    script = tmp_path / "bmc-password"
    script.write_text(f"#!/bin/sh\necho '{sim.password}'\n")
    script.chmod(0o700)
    fencer = None
    try:
        fencer = Fencer(ns, tmp_path, staged_install)
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


def test_pcs_describes_the_agent(staged_install: StagedInstall) -> None:
    result = staged_install.run([PCS, "stonith", "describe", "fence_hakit"])
    assert result.returncode == 0, result.stderr
    for name in ("ip", "username", "password_script", "lanplus", "cipher", "power_timeout"):
        assert f"  {name}:" in result.stdout, name


@pytest.mark.parametrize("options", [
    ["ip=198.18.0.5", "username=admin", "password_script=/usr/local/sbin/bmc-pw",
     "pcmk_host_list=node1"],
    ["ipaddr=198.18.0.5", "login=admin", "passwd=secret", "lanplus=1", "power_wait=4",
     "pcmk_host_list=node1"],  # a fence_ipmilan configuration, names unchanged
])
def test_pcs_creates_a_device(staged_install: StagedInstall, tmp_path: Path,
                              options: list[str]) -> None:
    cib = tmp_path / "cib.xml"
    empty = subprocess.run(["/usr/sbin/cibadmin", "--empty"], capture_output=True, text=True,
                           env=ENV, timeout=30, check=True)
    cib.write_text(empty.stdout)
    result = staged_install.run([PCS, "-f", str(cib), "stonith", "create", "fence-node1",
                                 "fence_hakit", *options])
    assert result.returncode == 0, result.stderr
    assert 'type="fence_hakit"' in cib.read_text()
