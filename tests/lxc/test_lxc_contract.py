"""ocf:hakit:lxc against the agent contract (RNG, golden metadata, ocf-tester, idempotence)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.harness.contract import AgentContract
from tests.lxc.conftest import AGENT, BusyboxContainer


class TestLxcContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return AGENT

    @pytest.fixture
    def golden_name(self) -> str:
        return "lxc.xml"

    @pytest.fixture
    def good_params(self, container: BusyboxContainer) -> Mapping[str, str]:
        # A short clean-shutdown wait keeps ocf-tester's several stops quick.
        return container.params(stop_timeout="5s")

    @pytest.fixture
    def bad_params(self, tmp_path: Path) -> list[tuple[Mapping[str, str], str]]:
        return [
            ({}, "name"),
            ({"name": "bad name!"}, "name"),
            ({"name": "ct", "lxcpath": "relative/dir"}, "lxcpath"),
            ({"name": "ct", "config": "config"}, "config"),
            ({"name": "ct", "log_level": "LOUD"}, "log_level"),
            ({"name": "ct", "stop_timeout": "soon"}, "stop_timeout"),
            ({"name": "ct", "start_timeout": "0"}, "start_timeout"),
            ({"name": "ct", "shutdown_signal": "SIGNOPE"}, "shutdown_signal"),
            ({"name": "ct", "health_command": "curl 'unbalanced"}, "health_command"),
            ({"name": "ct", "wait_for_ip": "ipv5"}, "wait_for_ip"),
            ({"name": "ct", "health_timeout": "0"}, "health_timeout"),
        ]
