"""hakit.redfish against a real (emulated) BMC over HTTPS."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from hakit.deadline import Deadline
from hakit.errors import ConfigError
from hakit.fence.redfish import (
    Endpoint,
    RedfishAuthError,
    RedfishTLSError,
    RedfishUnreachable,
    connect,
)
from tests.harness.redfish_sim import RedfishSimulator, free_port

LOG = logging.Logger("test")


def _endpoint(bmc: RedfishSimulator, **overrides: object) -> Endpoint:
    fields: dict[str, object] = {"host": "127.0.0.1", "port": bmc.port,
                                 "username": bmc.username, "password": bmc.password,
                                 "verify": str(bmc.cert)}
    fields.update(overrides)
    return Endpoint(**fields)  # type: ignore[arg-type]


def test_discovery_and_choice_by_id_uuid_and_name(bmc: RedfishSimulator) -> None:
    with connect(_endpoint(bmc), Deadline(20), LOG) as client:
        systems = client.systems()
        assert {s.name for s in systems} == {"node1", "node2"}
        node2 = next(s for s in systems if s.name == "node2")
        assert client.choose_system("node2") == node2
        assert client.choose_system(node2.uuid) == node2
        assert client.choose_system(node2.id) == node2
        assert client.power_state(node2) == "Off"


def test_ambiguous_choice_lists_the_systems(bmc: RedfishSimulator) -> None:
    with connect(_endpoint(bmc), Deadline(20), LOG) as client:
        with pytest.raises(ConfigError, match="node1.*node2|node2.*node1"):
            client.choose_system(None)
        with pytest.raises(ConfigError, match="matches 0 systems"):
            client.choose_system("node9")


def test_wrong_password_is_an_authentication_error(bmc: RedfishSimulator) -> None:
    with pytest.raises(RedfishAuthError, match="authentication failed.*401"):
        with connect(_endpoint(bmc, password="wrong"), Deadline(10), LOG):
            pass


def test_certificate_is_verified_by_default(bmc: RedfishSimulator) -> None:
    with pytest.raises(RedfishTLSError, match="certificate verify failed"):
        with connect(_endpoint(bmc, verify=True), Deadline(10), LOG):
            pass


def test_fingerprint_pin_accepts_exactly_that_certificate(bmc: RedfishSimulator) -> None:
    pin = ":".join(bmc.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    with connect(_endpoint(bmc, verify=True, fingerprint=pin), Deadline(10), LOG) as client:
        assert client.systems()
    with pytest.raises(RedfishTLSError, match="pinned fingerprint"):
        with connect(_endpoint(bmc, fingerprint="ab" * 32), Deadline(10), LOG):
            pass


def test_insecure_opt_out(bmc: RedfishSimulator) -> None:
    with connect(_endpoint(bmc, verify=False), Deadline(10), LOG) as client:
        assert client.systems()


def test_unreachable_port_fails_within_the_deadline() -> None:
    ep = Endpoint("127.0.0.1", free_port(), "u", "p", verify=False)
    started = time.monotonic()
    with pytest.raises(RedfishUnreachable):
        with connect(ep, Deadline(3), LOG):
            pass
    assert time.monotonic() - started < 5


def test_reset_rejects_a_type_the_bmc_does_not_allow(bmc: RedfishSimulator) -> None:
    with connect(_endpoint(bmc), Deadline(10), LOG) as client:
        node1 = client.choose_system("node1")
        with pytest.raises(Exception, match="does not allow ResetType Explode"):
            client.reset(node1, "Explode")


def test_silent_bmc_times_out_within_the_deadline() -> None:
    # A port that accepts TCP but never speaks: the TLS handshake hangs until our timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        ep = Endpoint("127.0.0.1", silent.getsockname()[1], "u", "p", verify=False,
                      request_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(RedfishUnreachable, match="did not answer|unreachable"):
            with connect(ep, Deadline(5), LOG):
                pass
        assert time.monotonic() - started < 3
