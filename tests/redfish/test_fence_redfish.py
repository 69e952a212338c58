"""fence_hakit_redfish against a real (emulated) Redfish BMC, as pacemaker-fenced runs it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fence.conftest import WRONG_PASSWORD, run_fence
from tests.harness.ocf import AGENTS, GOLDEN, SCHEMAS, validate_rng
from tests.harness.redfish_sim import FakeSystem, RedfishSimulator, free_port

AGENT = AGENTS / "fence_hakit_redfish"
#: sushy's fake driver applies a power change after a random 1-11 s.
SLOW = {"power_timeout": "30"}


def params(bmc: RedfishSimulator, **extra: str) -> dict[str, str]:
    base = {"ip": "127.0.0.1", "ipport": str(bmc.port), "username": bmc.username,
            "password": bmc.password, "ssl_ca_file": str(bmc.cert)}
    base.update(extra)
    return base


@pytest.fixture
def one(tmp_path: Path) -> Iterator[RedfishSimulator]:
    """A BMC with one system, powered on."""
    sim = RedfishSimulator(tmp_path / "bmc", [FakeSystem("node1", str(uuid.uuid4()), "On")])
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_metadata_is_valid_and_golden() -> None:
    result = run_fence(AGENT, {}, argv=["-o", "metadata"])
    assert result.rc == 0
    assert validate_rng(result.stdout, SCHEMAS / "fence-agents-metadata.rng") == []
    golden = GOLDEN / "fence_hakit_redfish.xml"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not golden.exists():
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()
    for name in ("systems_uri", "redfish_uri", "ssl_insecure", "ssl_fingerprint", "plug"):
        assert f'name="{name}"' in result.stdout


def test_status_off_on(one: RedfishSimulator) -> None:
    assert run_fence(AGENT, {**params(one), "action": "status"}).rc == 0
    off = run_fence(AGENT, {**params(one), **SLOW, "action": "off"}, watch=one.password)
    assert off.rc == 0, off.out
    assert off.leaked == ()
    assert run_fence(AGENT, {**params(one), "action": "status"}).rc == 2
    on = run_fence(AGENT, {**params(one), **SLOW, "action": "on"})
    assert on.rc == 0, on.out
    assert run_fence(AGENT, {**params(one), "action": "status"}).rc == 0


def test_reboot_is_verified_off_then_on(one: RedfishSimulator) -> None:
    result = run_fence(AGENT, {**params(one), **SLOW, "action": "reboot"})
    assert result.rc == 0, result.out
    assert run_fence(AGENT, {**params(one), "action": "status"}).rc == 0


def test_pacemaker_plug_is_the_node_name_on_a_one_system_bmc(one: RedfishSimulator) -> None:
    # pacemaker-fenced passes the target node's name as plug/port.
    result = run_fence(AGENT, {**params(one), "action": "status", "port": "some-node"})
    assert result.rc == 0, result.out


def test_wrong_password_says_so(one: RedfishSimulator) -> None:
    result = run_fence(AGENT, {**params(one, password=WRONG_PASSWORD), "action": "status"})
    assert result.rc == 1
    assert "authentication failed" in result.out
    assert "Traceback" not in result.out
    assert WRONG_PASSWORD not in result.out


def test_untrusted_certificate_fails_and_pin_passes(one: RedfishSimulator) -> None:
    untrusted = params(one)
    del untrusted["ssl_ca_file"]
    result = run_fence(AGENT, {**untrusted, "action": "status"})
    assert result.rc == 1
    assert "certificate verify failed" in result.out
    pinned = run_fence(AGENT, {**untrusted, "ssl_fingerprint": one.fingerprint,
                               "action": "status"})
    assert pinned.rc == 0, pinned.out
    wrong_pin = run_fence(AGENT, {**untrusted, "ssl_fingerprint": "ab" * 32,
                                  "action": "status"})
    assert wrong_pin.rc == 1
    assert "pinned fingerprint" in wrong_pin.out
    insecure = run_fence(AGENT, {**untrusted, "ssl_insecure": "1", "action": "status"})
    assert insecure.rc == 0, insecure.out


def test_several_systems_are_chosen_by_plug(tmp_path: Path) -> None:
    sim = RedfishSimulator(tmp_path / "bmc", [FakeSystem("node1", str(uuid.uuid4()), "On"),
                                              FakeSystem("node2", str(uuid.uuid4()), "Off")])
    sim.start()
    try:
        assert run_fence(AGENT, {**params(sim), "action": "status", "plug": "node1"}).rc == 0
        assert run_fence(AGENT, {**params(sim), "action": "status", "plug": "node2"}).rc == 2
        unnamed = run_fence(AGENT, {**params(sim), "action": "status"})
        assert unnamed.rc == 1
        assert "node1" in unnamed.out
        assert "node2" in unnamed.out
        wrong = run_fence(AGENT, {**params(sim), "action": "status", "plug": "node7"})
        assert wrong.rc == 1
        assert "matches 0 systems" in wrong.out
    finally:
        sim.stop()


def test_unreachable_bmc_fails_within_login_timeout() -> None:
    result = run_fence(AGENT, {"ip": "127.0.0.1", "ipport": str(free_port()), "username": "u",
                               "password": "bmc-pass-1", "action": "status",
                               "ssl_insecure": "1"})
    assert result.rc == 1
    assert "unreachable" in result.out
    assert result.seconds < 15


@pytest.mark.parametrize(("extra", "name"), [
    ({"ssl_fingerprint": "xyz"}, "ssl_fingerprint"),
    ({"ipport": "99999"}, "ipport"),
    ({"ssl_ca_file": "relative.pem"}, "ssl_ca_file"),
])
def test_bad_options_are_named(extra: dict[str, str], name: str) -> None:
    result = run_fence(AGENT, {"ip": "127.0.0.1", "username": "u", "password": "bmc-pass-1",
                               "action": "validate-all", **extra})
    assert result.rc == 1
    assert name in result.out


def test_insecure_and_pin_contradict() -> None:
    result = run_fence(AGENT, {"ip": "127.0.0.1", "username": "u", "password": "bmc-pass-1",
                               "action": "validate-all", "ssl_insecure": "1",
                               "ssl_fingerprint": "ab" * 32})
    assert result.rc == 1
    assert "contradicts" in result.out
