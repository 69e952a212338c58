"""fence_hakit_redfish: the options that choose the BMC are honoured, never ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fence.conftest import run_fence
from tests.harness.ocf import AGENTS
from tests.harness.redfish_faults import FaultyBmc

AGENT = AGENTS / "fence_hakit_redfish"
NOWHERE = "192.0.2.1"  # TEST-NET-1: nothing answers


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultyBmc]:
    with FaultyBmc(tmp_path / "bmc") as bmc:
        yield bmc


def test_port_as_ip_fences_the_bmc_named_by_the_plug(faulty: FaultyBmc) -> None:
    params = faulty.fence_params(action="off", ip=NOWHERE, port_as_ip="1", plug="127.0.0.1",
                                 login_timeout="2")
    result = run_fence(AGENT, params)
    assert result.rc == 0, result.out
    assert faulty.power["1"] == "Off"


def test_ip_with_a_port_is_fence_redfishs_older_spelling(faulty: FaultyBmc) -> None:
    params = faulty.fence_params(action="off", ip=f"127.0.0.1:{faulty.port}", ipport="1")
    result = run_fence(AGENT, params)
    assert result.rc == 0, result.out
    assert faulty.power["1"] == "Off"


def test_port_as_ip_with_host_and_port_in_the_plug(faulty: FaultyBmc) -> None:
    params = faulty.fence_params(action="status", port_as_ip="1",
                                 plug=f"127.0.0.1:{faulty.port}", ipport="1")
    assert run_fence(AGENT, params).rc == 0


@pytest.mark.parametrize(("params", "name"), [
    ({"ip": "bmc:99999"}, "ip"),
    ({"ip": ":443"}, "ip"),
    ({"port_as_ip": "1"}, "plug"),
    ({"port_as_ip": "1", "plug": "not a host"}, "plug"),
    ({"port_as_ip": "1", "plug": "bmc:0"}, "plug"),
])
def test_bad_addresses_are_named(params: dict[str, str], name: str) -> None:
    result = run_fence(AGENT, {"action": "validate-all", **params})
    assert result.rc == 1 and f"parameter '{name}'" in result.stderr, result.out


def test_an_ipv6_address_is_not_taken_for_host_and_port() -> None:
    result = run_fence(AGENT, {"action": "validate-all", "ip": "fd00::11"})
    assert result.rc == 0, result.out
