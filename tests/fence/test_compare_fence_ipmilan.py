"""The same scenarios against Debian's fence_ipmilan, on the same simulator: parity where it
is right, and the points where fence_hakit is better, kept as tests.

fence_ipmilan gets ``cipher=3``: ipmitool otherwise asks ipmi_sim for its cipher suites,
which ipmi_sim does not answer, and every call then takes about 14 s.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fence.conftest import FENCE_HAKIT, WRONG_PASSWORD, run_fence
from tests.harness.bmc import IpmiSim, free_udp_port

AGENTS = ["fence_hakit", "fence_ipmilan"]


def _agent(name: str, fence_ipmilan: Path) -> Path:
    return FENCE_HAKIT if name == "fence_hakit" else fence_ipmilan


def _params(sim: IpmiSim, **extra: str) -> dict[str, str]:
    return sim.fence_params(cipher="3", **extra)


@pytest.mark.parametrize("name", AGENTS)
def test_status_off_on_reboot_parity(name: str, sim: IpmiSim, fence_ipmilan: Path) -> None:
    agent = _agent(name, fence_ipmilan)
    status = run_fence(agent, _params(sim, action="status"))
    assert (status.rc, status.stdout.strip()) == (0, "Status: ON")
    assert run_fence(agent, _params(sim, action="off")).rc == 0
    assert sim.power is False
    status = run_fence(agent, _params(sim, action="status"))
    assert (status.rc, status.stdout.strip()) == (2, "Status: OFF")
    assert run_fence(agent, _params(sim, action="monitor")).rc == 0
    assert run_fence(agent, _params(sim, action="on")).rc == 0
    assert sim.power is True
    started = time.time()
    assert run_fence(agent, _params(sim, action="reboot")).rc == 0
    assert [on for t, on in sim.history() if t >= started] == [False, True]


@pytest.mark.parametrize("name", AGENTS)
def test_delayed_power_off_parity(name: str, sim: IpmiSim, fence_ipmilan: Path) -> None:
    sim.behave(off_delay=1.5)
    result = run_fence(_agent(name, fence_ipmilan), _params(sim, action="off"))
    assert result.rc == 0 and sim.power is False


@pytest.mark.parametrize("name", AGENTS)
def test_stuck_on_fails_for_both(name: str, sim: IpmiSim, fence_ipmilan: Path) -> None:
    sim.behave(stuck_on=True)
    result = run_fence(_agent(name, fence_ipmilan), _params(sim, action="off",
                                                           power_timeout="2"))
    assert result.rc == 1 and sim.power is True


def test_wrong_password_message(sim: IpmiSim, fence_ipmilan: Path) -> None:
    ours = run_fence(FENCE_HAKIT, _params(sim, action="status", password=WRONG_PASSWORD))
    theirs = run_fence(fence_ipmilan, _params(sim, action="status", password=WRONG_PASSWORD))
    assert ours.rc == theirs.rc == 1
    # fence_ipmilan blames the plug; fence_hakit says the login was refused.
    assert "plug status" in theirs.stderr
    assert "refused the login" in ours.stderr


def test_cycle_success_needs_evidence(sim: IpmiSim, fence_ipmilan: Path) -> None:
    """A BMC that acknowledges a power cycle but never cuts power: fence_ipmilan reports
    the node fenced, fence_hakit reports the failure."""
    sim.behave(stuck_on=True)
    theirs = run_fence(fence_ipmilan, _params(sim, action="reboot", method="cycle"))
    ours = run_fence(FENCE_HAKIT, _params(sim, action="reboot", method="cycle",
                                          power_timeout="1"))
    assert theirs.rc == 0  # a false success: the node never lost power
    assert ours.rc == 1 and "never seen powered off" in ours.stderr
    assert sim.history() == []


def test_password_on_argv(sim: IpmiSim, fence_ipmilan: Path) -> None:
    """fence_ipmilan hands the password to ipmitool -P, where every local user sees it."""
    sim.behave(off_delay=2)  # several ipmitool runs while polling: the scan sees one
    theirs = run_fence(fence_ipmilan, _params(sim, action="off"), watch=sim.password)
    sim.set_power(True)
    ours = run_fence(FENCE_HAKIT, _params(sim, action="off"), watch=sim.password)
    assert theirs.rc == ours.rc == 0
    assert any("ipmitool" in line and "-P" in line for line in theirs.leaked)
    assert ours.leaked == ()


@pytest.mark.slow
def test_unreachable_bmc_honours_the_timeout(fence_ipmilan: Path) -> None:
    params = {"action": "status", "ip": "127.0.0.1", "ipport": str(free_udp_port()),
              "username": "admin", "password": "pw", "cipher": "3", "login_timeout": "2"}
    ours = run_fence(FENCE_HAKIT, params)
    theirs = run_fence(fence_ipmilan, params)
    assert ours.rc == theirs.rc == 1
    assert ours.seconds < 3.5
    assert theirs.seconds > ours.seconds  # ipmitool retries on its own schedule (~20 s)
