"""ocf:hakit:vip on one host: interface choice, exactly-mine stop, link checks, options."""

from __future__ import annotations

import time

from tests.harness.netns import Netns, NetnsPool
from tests.vip.conftest import (
    VIP4,
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


def _entry(ns: Netns, ip: str, ifname: str = "eth0") -> dict[str, object]:
    return next(a for a in addresses_of(ns, ifname) if a.get("local") == ip)



def test_nic_and_prefix_come_from_the_routing_table(lone_host: Netns) -> None:
    params = {"ip": "198.18.1.20", "cidr_netmask": "255.255.255.0"}
    assert run_in(lone_host, VIP_AGENT, "start", params).rc == 0
    assert _entry(lone_host, "198.18.1.20")["prefixlen"] == 24
    assert run_in(lone_host, VIP_AGENT, "monitor", params, interval_ms=10000).rc == 0
    assert run_in(lone_host, VIP_AGENT, "stop", params).rc == 0
    v6 = {"ip": "fd00:19::20"}
    assert run_in(lone_host, VIP_AGENT, "start", v6).rc == 0
    assert _entry(lone_host, "fd00:19::20")["prefixlen"] == 64
    assert run_in(lone_host, VIP_AGENT, "stop", v6).rc == 0


def test_no_covering_route_is_a_clear_error(lone_host: Netns) -> None:
    result = run_in(lone_host, VIP_AGENT, "start", {"ip": "198.19.7.7"})
    assert result.rc == 2
    assert "parameter 'nic'" in result.reason and "no route covers" in result.reason
    deep = run_in(lone_host, VIP_AGENT, "validate-all", {"ip": "198.19.7.7"},
                  extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 2 and "nic" in deep.reason
    no_prefix = run_in(lone_host, VIP_AGENT, "start", {"ip": "198.19.7.7", "nic": "eth0"})
    assert no_prefix.rc == 2 and "parameter 'cidr_netmask'" in no_prefix.reason
    assert run_in(lone_host, VIP_AGENT, "start",
                  {"ip": "198.19.7.7", "nic": "eth0", "cidr_netmask": "32"}).rc == 0
    assert run_in(lone_host, VIP_AGENT, "stop", {"ip": "198.19.7.7"}).rc == 0
    missing = run_in(lone_host, VIP_AGENT, "start", {"ip": "198.18.1.20", "nic": "eth9"})
    assert missing.rc == 2 and "eth9" in missing.reason


def test_ambiguous_interface_is_a_clear_error(netns_pool: NetnsPool, lone_host: Netns) -> None:
    other = netns_pool.create()
    netns_pool.veth(lone_host, "eth1", other, "eth0")
    lone_host.ip("addr", "add", "198.18.1.200/24", "dev", "eth1")
    result = run_in(lone_host, VIP_AGENT, "start", {"ip": "198.18.1.20"})
    assert result.rc == 2
    assert "several interfaces" in result.reason
    assert "eth0" in result.reason and "eth1" in result.reason
    assert run_in(lone_host, VIP_AGENT, "start", {"ip": "198.18.1.20", "nic": "eth1"}).rc == 0
    assert _entry(lone_host, "198.18.1.20", "eth1")["label"] == "eth1"
    assert run_in(lone_host, VIP_AGENT, "stop", {"ip": "198.18.1.20", "nic": "eth1"}).rc == 0


def test_stop_removes_only_its_own_address(lone_host: Netns) -> None:
    lone_host.ip("addr", "add", "198.18.1.21/32", "dev", "eth0")
    before = owned_addresses(lone_host)
    params = {"ip": "198.18.1.20", "cidr_netmask": "24", "nic": "eth0"}
    assert run_in(lone_host, VIP_AGENT, "start", params).rc == 0
    assert run_in(lone_host, VIP_AGENT, "stop", params).rc == 0
    assert owned_addresses(lone_host) == before
    # The same address with another prefix is someone else's: start refuses, stop keeps it.
    lone_host.ip("addr", "add", "198.18.1.20/32", "dev", "eth0")
    refused = run_in(lone_host, VIP_AGENT, "start", params)
    assert refused.rc == 1 and "not taking it over" in refused.reason
    assert run_in(lone_host, VIP_AGENT, "stop", params).rc == 0
    assert has_address(lone_host, "198.18.1.20")


def test_monitor_fails_when_the_link_goes_down(lone_host: Netns) -> None:
    params = {"ip": "fd00:19::20", "cidr_netmask": "64", "nic": "eth0"}
    assert run_in(lone_host, VIP_AGENT, "start", params).rc == 0
    lone_host.ip("link", "set", "eth0", "down")
    try:
        down = run_in(lone_host, VIP_AGENT, "monitor", params, interval_ms=10000)
        if has_address(lone_host, "fd00:19::20"):  # IPv6 addresses may go with the link
            assert down.rc == 1 and "down" in down.reason
            relaxed = run_in(lone_host, VIP_AGENT, "monitor", {**params, "check_link": "no"},
                             interval_ms=10000)
            assert relaxed.rc == 0
        else:
            assert down.rc == 7
    finally:
        lone_host.ip("link", "set", "eth0", "up")
    params4 = {"ip": "198.18.1.20", "cidr_netmask": "24", "nic": "eth0"}
    assert run_in(lone_host, VIP_AGENT, "start", params4).rc == 0
    lone_host.ip("link", "set", "eth0", "down")
    down4 = run_in(lone_host, VIP_AGENT, "monitor", params4, interval_ms=10000)
    assert down4.rc == 1 and "eth0 is down" in down4.reason
    assert run_in(lone_host, VIP_AGENT, "start", params4).rc == 0  # idempotent, link aside
    assert run_in(lone_host, VIP_AGENT, "stop", params4).rc == 0
    refused = run_in(lone_host, VIP_AGENT, "start", params4)
    assert refused.rc == 1 and "down" in refused.reason
    assert not has_address(lone_host, "198.18.1.20")


def test_label_lifetime_and_noprefixroute(lone_host: Netns) -> None:
    params = {"ip": "198.18.1.20", "cidr_netmask": "24", "nic": "eth0", "label": "web",
              "preferred_lft": "0", "noprefixroute": "true"}
    assert run_in(lone_host, VIP_AGENT, "start", params).rc == 0
    entry = _entry(lone_host, "198.18.1.20")
    assert entry["label"] == "eth0:web"
    assert entry.get("deprecated") is True  # IPv4 shows preferred_lft 0 this way
    assert entry.get("noprefixroute") is True
    assert run_in(lone_host, VIP_AGENT, "stop", params).rc == 0
    v6 = {"ip": "fd00:19::20", "cidr_netmask": "64", "nic": "eth0", "preferred_lft": "30"}
    assert run_in(lone_host, VIP_AGENT, "start", v6).rc == 0
    entry6 = _entry(lone_host, "fd00:19::20")
    assert 0 < int(str(entry6["preferred_life_time"])) <= 30
    assert entry6["valid_life_time"] == 4294967295
    assert run_in(lone_host, VIP_AGENT, "stop", v6).rc == 0


def test_missing_namespace(lone_host: Netns) -> None:
    params = {"ip": "198.18.1.20", "network_namespace": "hkt-does-not-exist"}
    start = run_in(lone_host, VIP_AGENT, "start", params)
    assert start.rc == 2 and "network_namespace" in start.reason
    assert run_in(lone_host, VIP_AGENT, "stop", params).rc == 0
    assert run_in(lone_host, VIP_AGENT, "monitor", params, interval_ms=0).rc == 7


def test_monitor_refresh_reannounces(lan: Lan) -> None:
    params = {"ip": VIP4, "cidr_netmask": "24", "nic": "eth0", "arp_count": "1"}
    assert run_in(lan["a"], VIP_AGENT, "start", params).rc == 0
    assert ping(lan["client"], VIP4)
    lan["client"].ip("neigh", "replace", VIP4, "lladdr", "02:00:00:00:00:01", "dev", "eth0",
                     "nud", "stale")
    quiet = run_in(lan["a"], VIP_AGENT, "monitor", params, interval_ms=10000)
    assert quiet.rc == 0
    assert neighbour_mac(lan["client"], VIP4) == "02:00:00:00:00:01"
    loud = {**params, "arp_count_refresh": "1"}
    assert run_in(lan["a"], VIP_AGENT, "monitor", loud, interval_ms=10000).rc == 0
    assert wait_for(lambda: neighbour_mac(lan["client"], VIP4) == mac_of(lan["a"]), 2.0)


def test_announcement_burst_runs_in_background_and_stops_with_the_address(lan: Lan) -> None:
    # 50 announcements 100 ms apart would take 5 s; start returns after the first, and the
    # background sender gives up once stop has removed the address.
    params = {"ip": VIP4, "cidr_netmask": "24", "nic": "eth0", "arp_count": "50",
              "arp_interval": "100", "dad_timeout": "100ms"}
    began = time.monotonic()
    assert run_in(lan["a"], VIP_AGENT, "start", params).rc == 0
    assert time.monotonic() - began < 4.0
    assert lan["a"].pids(), "a background announcer should be running"
    assert run_in(lan["a"], VIP_AGENT, "stop", params).rc == 0
    assert wait_for(lambda: not lan["a"].pids(), 2.0)


def test_ipv6_dad_that_does_not_finish_in_time_fails_and_cleans_up(lone_host: Netns) -> None:
    lone_host.run("/usr/sbin/sysctl", "-qw", "net.ipv6.neigh.eth0.retrans_time_ms=5000")
    params = {"ip": "fd00:19::20", "cidr_netmask": "64", "nic": "eth0", "dad_timeout": "300ms"}
    result = run_in(lone_host, VIP_AGENT, "start", params)
    assert result.rc == 1
    assert "did not finish within 0.3s" in result.reason
    assert not has_address(lone_host, "fd00:19::20")
