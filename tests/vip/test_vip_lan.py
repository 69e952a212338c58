"""ocf:hakit:vip on a LAN of namespaces: clients follow a moving VIP, conflicts are refused."""

from __future__ import annotations

import pytest

from tests.vip.conftest import (
    VIP4,
    VIP6,
    VIP_AGENT,
    Lan,
    addresses_of,
    has_address,
    mac_of,
    neighbour_mac,
    owned_addresses,
    ping,
    run_in,
    wait_for,
)

FAMILIES = [pytest.param((VIP4, "24"), id="ipv4"), pytest.param((VIP6, "64"), id="ipv6")]


def _params(vip: str, prefix: str) -> dict[str, str]:
    return {"ip": vip, "cidr_netmask": prefix, "nic": "eth0"}


@pytest.mark.parametrize("family", FAMILIES)
def test_client_follows_the_vip_from_a_to_b(lan: Lan, family: tuple[str, str]) -> None:
    vip, prefix = family
    params = _params(vip, prefix)
    start_a = run_in(lan["a"], VIP_AGENT, "start", params)
    assert start_a.rc == 0, start_a.stderr
    assert ping(lan["client"], vip)
    assert neighbour_mac(lan["client"], vip) == mac_of(lan["a"])

    assert run_in(lan["a"], VIP_AGENT, "stop", params).rc == 0
    assert not has_address(lan["a"], vip)
    start_b = run_in(lan["b"], VIP_AGENT, "start", params)
    assert start_b.rc == 0, start_b.stderr
    # No traffic from the client: only B's announcements can have changed its entry,
    # long before the entry (reachable for ~30 s, then stale) would have expired.
    assert wait_for(lambda: neighbour_mac(lan["client"], vip) == mac_of(lan["b"]), 3.0)
    assert ping(lan["client"], vip)
    assert run_in(lan["b"], VIP_AGENT, "monitor", params, interval_ms=10000).rc == 0
    assert run_in(lan["a"], VIP_AGENT, "monitor", params, interval_ms=0).rc == 7


@pytest.mark.parametrize("family", FAMILIES)
def test_start_refuses_an_address_another_host_holds(lan: Lan, family: tuple[str, str]) -> None:
    vip, prefix = family
    lan["third"].ip("addr", "add", f"{vip}/{prefix}", "dev", "eth0", "nodad")
    before = owned_addresses(lan["a"])
    result = run_in(lan["a"], VIP_AGENT, "start", _params(vip, prefix))
    assert result.rc == 1
    assert mac_of(lan["third"]) in result.reason
    assert "already in use" in result.reason
    assert owned_addresses(lan["a"]) == before  # nothing configured, nothing left behind
    assert run_in(lan["a"], VIP_AGENT, "monitor", _params(vip, prefix), interval_ms=0).rc == 7


def test_start_without_dad_does_not_probe(lan: Lan) -> None:
    # dad=false is the escape hatch (and IPaddr2's behaviour): the address is added anyway.
    lan["third"].ip("addr", "add", f"{VIP4}/24", "dev", "eth0")
    params = {**_params(VIP4, "24"), "dad": "false"}
    assert run_in(lan["a"], VIP_AGENT, "start", params).rc == 0
    assert has_address(lan["a"], VIP4)
    assert run_in(lan["a"], VIP_AGENT, "stop", params).rc == 0


def test_ipv6_dadfailed_address_fails_monitor(lan: Lan) -> None:
    # An address that failed the kernel's DAD outside the agent's control (added by hand
    # while the other host held it) is not "running".
    lan["third"].ip("addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
    lan["a"].ip("addr", "add", f"{VIP6}/64", "dev", "eth0")
    params = _params(VIP6, "64")
    assert wait_for(lambda: any(a.get("dadfailed") for a in addresses_of(lan["a"])
                                if a.get("local") == VIP6))
    result = run_in(lan["a"], VIP_AGENT, "monitor", params, interval_ms=10000)
    assert result.rc == 1
    assert "duplicate-address detection" in result.reason
    assert run_in(lan["a"], VIP_AGENT, "stop", params).rc == 0
    assert not has_address(lan["a"], VIP6)
