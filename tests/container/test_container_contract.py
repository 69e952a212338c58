"""ocf:hakit:container against the agent contract (RNG, golden metadata, ocf-tester)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.container.conftest import AGENT, Stack
from tests.harness.contract import AgentContract


class TestContainerContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return AGENT

    @pytest.fixture
    def golden_name(self) -> str:
        return "container.xml"

    @pytest.fixture
    def good_params(self, stack: Stack) -> Mapping[str, str]:
        # Every layer, the VIP in its test namespace included.
        return stack.params()

    @pytest.fixture
    def bad_params(self) -> list[tuple[Mapping[str, str], str]]:
        base = {"name": "ct", "pool": "rbd"}
        return [
            ({"pool": "rbd"}, "name"),
            ({"name": "ct"}, "pool"),
            ({**base, "name": "bad name!"}, "name"),
            ({**base, "pool": "a/b"}, "pool"),
            ({**base, "image": "bad image"}, "image"),
            ({**base, "namespace": "n s"}, "namespace"),
            ({**base, "cephconf": "ceph.conf"}, "cephconf"),
            ({**base, "keyring": "relative"}, "keyring"),
            ({**base, "device_type": "floppy"}, "device_type"),
            ({**base, "break_lock": "sometimes"}, "break_lock"),
            ({**base, "fsck": "maybe"}, "fsck"),
            ({**base, "mount_options": "remount"}, "mount_options"),
            ({**base, "lxcpath": "var/lib/lxc"}, "lxcpath"),
            ({**base, "health_command": "curl 'unbalanced"}, "health_command"),
            ({**base, "ip": "198.18.0.300"}, "ip"),
            ({**base, "ip": "127.0.0.1"}, "ip"),
            ({**base, "ip": "198.18.0.10", "cidr_netmask": "40"}, "cidr_netmask"),
            ({**base, "ip": "fd00::10", "cidr_netmask": "255.255.255.0"}, "cidr_netmask"),
            ({**base, "ip": "198.18.0.10", "nic": "way-too-long-interface"}, "nic"),
            ({**base, "cidr_netmask": "24"}, "cidr_netmask"),
            ({**base, "device_type": "fuse", "cephconf": "/etc/my ceph.conf"}, "cephconf"),
        ]
