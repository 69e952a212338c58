"""ocf:hakit:rbd against the agent contract (incl. ocf-tester) on the real test cluster."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.harness.ceph import CephEnv
from tests.harness.contract import AgentContract
from tests.harness.ocf import AGENTS


class TestRbdContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return AGENTS / "rbd"

    @pytest.fixture
    def golden_name(self) -> str:
        return "rbd.xml"

    @pytest.fixture
    def good_params(self, rbd_env: CephEnv, image: str) -> Mapping[str, str]:
        return rbd_env.params(image)

    @pytest.fixture
    def bad_params(self, rbd_env: CephEnv, image: str) -> list[tuple[Mapping[str, str], str]]:
        good = rbd_env.params(image)
        return [
            ({k: v for k, v in good.items() if k != "pool"}, "pool"),
            ({k: v for k, v in good.items() if k != "image"}, "image"),
            ({**good, "pool": "bad pool"}, "pool"),
            ({**good, "image": "a/b"}, "image"),
            ({**good, "device_type": "iscsi"}, "device_type"),
            ({**good, "break_lock": "sometimes"}, "break_lock"),
            ({**good, "blocklist_expire": "5"}, "blocklist_expire"),
            ({**good, "keyring": "relative.keyring"}, "keyring"),
            ({**good, "secret_file": "/etc/ceph/secret"}, "secret_file"),
            ({**good, "snap": "s1"}, "snap"),
            ({**good, "map_options": "queue_depth=128"}, "map_options"),
            ({**good, "map_options": "a b;c", "device_type": "krbd"}, "map_options"),
            ({**good, "read_only": "maybe"}, "read_only"),
            ({**good, "mon_host": "x;rm -rf /"}, "mon_host"),
        ]
