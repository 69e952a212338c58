"""ocf:hakit:fs against the agent contract (incl. ocf-tester) on a real ext4 loop device."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.fs.conftest import FS_AGENT, Ext4
from tests.harness.contract import AgentContract
from tests.harness.ocf import run_agent


class TestFsContract(AgentContract):
    @pytest.fixture
    def agent_path(self) -> Path:
        return FS_AGENT

    @pytest.fixture
    def golden_name(self) -> str:
        return "fs.xml"

    @pytest.fixture
    def good_params(self, ext4: Ext4) -> Mapping[str, str]:
        return {"device": ext4.device(), "directory": ext4.directory()}

    @pytest.fixture
    def bad_params(self, tmp_path: Path) -> list[tuple[Mapping[str, str], str]]:
        d = str(tmp_path)
        dev = "/dev/loop-none"
        return [
            ({}, "device"),
            ({"directory": d}, "device"),
            ({"device": dev}, "directory"),
            ({"device": "loop0", "directory": d}, "device"),
            ({"device": "UUID=", "directory": d}, "device"),
            ({"device": dev, "directory": "relative/dir"}, "directory"),
            ({"device": dev, "directory": "/"}, "directory"),
            ({"device": dev, "directory": d, "fstype": "btrfs"}, "fstype"),
            ({"device": dev, "directory": d, "options": "remount,rw"}, "options"),
            ({"device": dev, "directory": d, "options": "noatime,bad option"}, "options"),
            ({"device": dev, "directory": d, "fsck": "sometimes"}, "fsck"),
            ({"device": dev, "directory": d, "mmp": "perhaps"}, "mmp"),
            ({"device": dev, "directory": d, "force_unmount": "maybe"}, "force_unmount"),
            ({"device": dev, "directory": d, "term_signals": "TERMINATE"}, "term_signals"),
            ({"device": dev, "directory": d, "kill_signals": "KILL,SIGNOPE"}, "kill_signals"),
            ({"device": dev, "directory": d, "signal_delay": "soon"}, "signal_delay"),
            ({"device": dev, "directory": d, "create_directory": "sure"}, "create_directory"),
            ({"device": dev, "directory": d, "device_wait": "-1"}, "device_wait"),
        ]


def test_validate_depth_10_checks_the_host(ext4: Ext4, tmp_path: Path) -> None:
    dev = ext4.device()
    missing = {"device": dev, "directory": str(tmp_path / "absent")}
    assert run_agent(FS_AGENT, "validate-all", missing).rc == 0
    deep = run_agent(FS_AGENT, "validate-all", missing, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 2 and "directory" in deep.reason
    notdev = {"device": str(tmp_path), "directory": ext4.directory()}
    deep = run_agent(FS_AGENT, "validate-all", notdev, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 2 and "not a block device" in deep.reason
    good = {"device": dev, "directory": ext4.directory()}
    assert run_agent(FS_AGENT, "validate-all", good, extra_env={"OCF_CHECK_LEVEL": "10"}).rc == 0
