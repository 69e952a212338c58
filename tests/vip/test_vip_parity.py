"""Behavioural parity with ocf:heartbeat:IPaddr2 (Debian's resource-agents), same scenarios.

Each scenario runs both agents inside the LAN's namespaces with ``ip netns exec``.  Where
they differ, the assertion records which way (hakit refuses a duplicate address that
IPaddr2 happily adds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vip.conftest import (
    IPADDR2,
    VIP4,
    VIP6,
    VIP_AGENT,
    Lan,
    addresses_of,
    has_address,
    mac_of,
    neighbour_mac,
    ping,
    run_in,
    wait_for,
)

pytestmark = pytest.mark.skipif(not IPADDR2.exists(), reason="resource-agents not installed")
AGENTS = [pytest.param(VIP_AGENT, id="hakit-vip"), pytest.param(IPADDR2, id="IPaddr2")]
FAMILIES = [pytest.param((VIP4, "24"), id="ipv4"), pytest.param((VIP6, "64"), id="ipv6")]


def _params(vip: str, prefix: str) -> dict[str, str]:
    return {"ip": vip, "cidr_netmask": prefix, "nic": "eth0"}


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("family", FAMILIES)
def test_both_move_the_client(lan: Lan, agent: Path, family: tuple[str, str]) -> None:
    vip, prefix = family
    params = _params(vip, prefix)
    try:
        assert run_in(lan["a"], agent, "start", params).rc == 0
        assert ping(lan["client"], vip)
        assert neighbour_mac(lan["client"], vip) == mac_of(lan["a"])
        assert run_in(lan["a"], agent, "stop", params).rc == 0
        assert run_in(lan["b"], agent, "start", params).rc == 0
        assert wait_for(lambda: neighbour_mac(lan["client"], vip) == mac_of(lan["b"]), 3.0)
        assert run_in(lan["b"], agent, "monitor", params, interval_ms=10000).rc == 0
    finally:
        run_in(lan["a"], agent, "stop", params)
        run_in(lan["b"], agent, "stop", params)


@pytest.mark.parametrize("family", FAMILIES)
def test_conflict_hakit_refuses_ipaddr2_adds(lan: Lan, family: tuple[str, str]) -> None:
    vip, prefix = family
    params = _params(vip, prefix)
    lan["third"].ip("addr", "add", f"{vip}/{prefix}", "dev", "eth0", "nodad")
    ours = run_in(lan["a"], VIP_AGENT, "start", params)
    assert ours.rc == 1 and mac_of(lan["third"]) in ours.reason
    assert not has_address(lan["a"], vip)

    theirs = run_in(lan["b"], IPADDR2, "start", params)
    try:
        if family[0] == VIP4:
            # IPaddr2 does no IPv4 conflict detection: it adds a duplicate address and
            # starts announcing it, stealing traffic from the host that holds it.
            assert theirs.rc == 0
            assert has_address(lan["b"], vip)
        else:
            # IPaddr2 adds the address and waits for DAD; it fails, without naming who
            # holds the address.
            assert theirs.rc != 0
            assert mac_of(lan["third"]) not in theirs.stderr
    finally:
        run_in(lan["b"], IPADDR2, "stop", params)


@pytest.mark.parametrize("agent", AGENTS)
def test_both_stop_idempotently_and_probe_not_running(lan: Lan, agent: Path) -> None:
    params = _params(VIP4, "24")
    assert run_in(lan["a"], agent, "stop", params).rc == 0
    assert run_in(lan["a"], agent, "monitor", params, interval_ms=0).rc == 7


@pytest.mark.parametrize("agent", AGENTS)
def test_monitor_with_the_link_down(lan: Lan, agent: Path) -> None:
    params = _params(VIP4, "24")
    assert run_in(lan["a"], agent, "start", params).rc == 0
    lan["a"].ip("link", "set", "eth0", "down")
    try:
        result = run_in(lan["a"], agent, "monitor", params, interval_ms=10000)
    finally:
        lan["a"].ip("link", "set", "eth0", "up")
        run_in(lan["a"], agent, "stop", params)
    if agent == VIP_AGENT:
        assert result.rc == 1 and "down" in result.reason  # Pacemaker moves the VIP
    else:
        assert result.rc == 0  # IPaddr2 keeps reporting a VIP nobody can reach


@pytest.mark.parametrize("agent", AGENTS)
def test_monitor_of_a_dadfailed_ipv6_address(lan: Lan, agent: Path) -> None:
    lan["third"].ip("addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
    lan["a"].ip("addr", "add", f"{VIP6}/64", "dev", "eth0")
    params = _params(VIP6, "64")
    assert wait_for(lambda: any(a.get("dadfailed") for a in addresses_of(lan["a"])
                                if a.get("local") == VIP6))
    try:
        result = run_in(lan["a"], agent, "monitor", params, interval_ms=10000)
    finally:
        lan["a"].ip("addr", "del", f"{VIP6}/64", "dev", "eth0", check=False)
    if agent == VIP_AGENT:
        assert result.rc == 1 and "duplicate-address detection" in result.reason
    else:
        assert result.rc == 0  # IPaddr2 reports an address the kernel will not use as running
