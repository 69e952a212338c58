"""fence_hakit_redfish through the real fencer, and side by side with Debian's fence_redfish."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fence.conftest import WRONG_PASSWORD, fence_env, run_fence
from tests.fence.fencer import Fencer
from tests.harness.installed import StagedInstall
from tests.harness.netns import NetnsPool
from tests.harness.redfish_sim import FakeSystem, RedfishSimulator
from tests.redfish.test_fence_redfish import AGENT, SLOW, params

FENCE_REDFISH = Path("/usr/sbin/fence_redfish")


@pytest.fixture
def fenced_bmc(netns_pool: NetnsPool, tmp_path: Path,
               staged_install: StagedInstall) -> Iterator[tuple[Fencer, RedfishSimulator]]:
    """A fencer and a Redfish BMC (one system, on) inside one throwaway namespace."""
    ns = netns_pool.create()
    sim = RedfishSimulator(tmp_path / "bmc", [FakeSystem("node1", str(uuid.uuid4()), "On")],
                           wrap=ns.exec_argv([]))
    sim.start()
    fencer = None
    try:
        fencer = Fencer(ns, tmp_path, staged_install)
        yield fencer, sim
    finally:
        if fencer is not None:
            fencer.stop()
        sim.stop()


def test_fencer_fences_through_redfish(fenced_bmc: tuple[Fencer, RedfishSimulator]) -> None:
    fencer, sim = fenced_bmc
    options = {**params(sim), **SLOW, "pcmk_host_list": "node1"}
    argv = ["--register", "bmc1", "--agent", "fence_hakit_redfish"]
    for key, value in options.items():
        argv += ["--option", f"{key}={value}"]
    fencer.admin(*argv)
    result = fencer.admin("--fence", "node1", "--timeout", "90", check=False)
    assert result.returncode == 0, result.stderr + fencer.log.read_text()[-2000:]
    # The BMC lives in the namespace: ask it there, through the agent's status action.
    stdin = "".join(f"{k}={v}\n" for k, v in {**params(sim), "action": "status"}.items())
    status = subprocess.run(fencer.ns.exec_argv([str(AGENT)]), input=stdin, text=True,
                            capture_output=True, env=fence_env(), timeout=60, check=False)
    assert status.returncode == 2, status.stderr  # 2: reachable and off


@pytest.fixture
def two_systems(tmp_path: Path) -> Iterator[RedfishSimulator]:
    sim = RedfishSimulator(tmp_path / "bmc", [FakeSystem("node1", str(uuid.uuid4()), "On"),
                                              FakeSystem("node2", str(uuid.uuid4()), "Off")])
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def _debian(sim: RedfishSimulator, **extra: str) -> dict[str, str]:
    # fence_redfish has no CA option: a self-signed BMC can only be reached insecurely.
    return {"ip": "127.0.0.1", "ipport": str(sim.port), "username": sim.username,
            "password": sim.password, "ssl_insecure": "1", **extra}


@pytest.fixture
def fence_redfish() -> Path:
    if not FENCE_REDFISH.exists():
        pytest.skip("fence_redfish (fence-agents) is not installed")
    return FENCE_REDFISH


def test_parity_on_status(two_systems: RedfishSimulator, fence_redfish: Path) -> None:
    ours = run_fence(AGENT, {**params(two_systems), "action": "status", "plug": "node1"})
    theirs = run_fence(fence_redfish, {**_debian(two_systems), "action": "status",
                                       "plug": "node1"})
    assert ours.rc == 0
    assert theirs.rc in (0, 2)


def test_fence_redfish_ignores_plug_on_a_two_system_bmc(two_systems: RedfishSimulator,
                                                        fence_redfish: Path) -> None:
    # node1 is on, node2 is off. fence_redfish fences the last system in the collection,
    # whatever plug says, so it gives the same answer for both; hakit answers for each.
    theirs = {plug: run_fence(fence_redfish, {**_debian(two_systems), "action": "status",
                                              "plug": plug}).rc for plug in ("node1", "node2")}
    ours = {plug: run_fence(AGENT, {**params(two_systems), "action": "status",
                                    "plug": plug}).rc for plug in ("node1", "node2")}
    assert theirs["node1"] == theirs["node2"]
    assert ours == {"node1": 0, "node2": 2}
    unnamed = run_fence(AGENT, {**params(two_systems), "action": "status"})
    assert unnamed.rc == 1
    assert "set 'plug'" in unnamed.out


def test_wrong_password(two_systems: RedfishSimulator, fence_redfish: Path) -> None:
    theirs = run_fence(fence_redfish, {**_debian(two_systems, password=WRONG_PASSWORD),
                                       "action": "status", "plug": "node1"})
    ours = run_fence(AGENT, {**params(two_systems, password=WRONG_PASSWORD),
                             "action": "status", "plug": "node1"})
    assert theirs.rc != 0
    assert "authentication" not in theirs.out.lower()  # fence_redfish never says why
    assert ours.rc == 1
    assert "authentication failed" in ours.out
