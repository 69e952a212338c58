"""ocf:hakit:vip against the agent contract (incl. ocf-tester), for an IPv4 and an IPv6 VIP.

The agent runs from the host namespace and enters the test's namespace through its
``network_namespace`` parameter, so ocf-tester drives the real agent end to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.harness.contract import AgentContract
from tests.harness.netns import Netns
from tests.vip.conftest import VIP_AGENT


class VipContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return VIP_AGENT

    @pytest.fixture
    def golden_name(self) -> str:
        return "vip.xml"

    @pytest.fixture
    def bad_params(self) -> list[tuple[Mapping[str, str], str]]:
        return [
            ({}, "ip"),
            ({"ip": "198.18.1.300"}, "ip"),
            ({"ip": "not-an-ip"}, "ip"),
            ({"ip": "224.0.0.1"}, "ip"),
            ({"ip": "0.0.0.0"}, "ip"),  # noqa: S104
            ({"ip": "fe80::1"}, "ip"),
            ({"ip": "198.18.1.10", "cidr_netmask": "33"}, "cidr_netmask"),
            ({"ip": "198.18.1.10", "cidr_netmask": "255.0.255.0"}, "cidr_netmask"),
            ({"ip": "fd00::10", "cidr_netmask": "255.255.255.0"}, "cidr_netmask"),
            ({"ip": "fd00::10", "cidr_netmask": "129"}, "cidr_netmask"),
            ({"ip": "198.18.1.10", "nic": "eth0/evil"}, "nic"),
            ({"ip": "198.18.1.10", "nic": "a-very-long-interface-name"}, "nic"),
            ({"ip": "198.18.1.10", "nic": ".."}, "nic"),
            ({"ip": "198.18.1.10", "arp_count": "-1"}, "arp_count"),
            ({"ip": "198.18.1.10", "arp_count": "many"}, "arp_count"),
            ({"ip": "198.18.1.10", "arp_interval": "0"}, "arp_interval"),
            ({"ip": "198.18.1.10", "arp_count_refresh": "1000"}, "arp_count_refresh"),
            ({"ip": "198.18.1.10", "dad": "perhaps"}, "dad"),
            ({"ip": "198.18.1.10", "dad_timeout": "soon"}, "dad_timeout"),
            ({"ip": "198.18.1.10", "preferred_lft": "-5"}, "preferred_lft"),
            ({"ip": "198.18.1.10", "noprefixroute": "2"}, "noprefixroute"),
            ({"ip": "198.18.1.10", "check_link": "maybe"}, "check_link"),
            ({"ip": "fd00::10", "label": "web"}, "label"),
            ({"ip": "198.18.1.10", "nic": "eth0123456", "label": "toolong"}, "label"),
            ({"ip": "198.18.1.10", "network_namespace": "../../etc"}, "network_namespace"),
        ]


class TestVipContractIPv4(VipContract):
    @pytest.fixture
    def good_params(self, lone_host: Netns) -> Mapping[str, str]:
        return {"ip": "198.18.1.10", "cidr_netmask": "24", "nic": "eth0",
                "network_namespace": lone_host.name}


class TestVipContractIPv6(VipContract):
    @pytest.fixture
    def good_params(self, lone_host: Netns) -> Mapping[str, str]:
        return {"ip": "fd00:19::10", "cidr_netmask": "64", "nic": "eth0",
                "network_namespace": lone_host.name}
