"""``down`` removes everything, after a good ``up`` (through the CLI) and after a failed one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hakit.errors import ActionTimeout, GenericError
from lab import checkout
from lab.cluster import Lab
from lab.network import netns_exists
from lab.progress import Progress
from tests.lab.conftest import FORM_BOUND, lab_processes, leftovers, need_root, new_layout

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True,
                          check=False, text=True, timeout=FORM_BOUND + 30,
                          env={**os.environ, "PYTHONPATH": checkout.pythonpath()})


def test_cli_up_then_down_leaves_nothing(tmp_path: Path) -> None:
    need_root()
    layout = new_layout(tmp_path)
    opts = ["--name", layout.name, "--state-dir", str(layout.state_dir)]
    seen = set()
    try:
        up = cli(*opts, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "cluster formed" in up.stdout and "quorum: yes" in up.stdout
        assert up.stdout.startswith("[")  # progress lines with elapsed time
        seen = lab_processes(layout)
        assert len(seen) >= 3 * 9  # per node: holder, corosync, pacemakerd + 6 children
        again = cli(*opts, "up")
        assert again.returncode == 1 and "already exists" in again.stderr
    finally:
        down = cli(*opts, "down")
    assert down.returncode == 0, down.stderr
    assert leftovers(layout, seen) == []
    assert cli(*opts, "down").returncode == 0  # idempotent


def test_down_after_a_failed_up_leaves_nothing(tmp_path: Path) -> None:
    need_root()
    layout = new_layout(tmp_path)
    lab = Lab(layout, Progress())
    seen = set()
    try:
        with pytest.raises(ActionTimeout, match="cluster to form"):
            lab.up(form_timeout=0.3)  # fails once every daemon is already running
        seen = lab_processes(layout)
        assert seen
    finally:
        lab.down()
    assert leftovers(layout, seen) == []
    lab.down()


def test_down_of_a_lab_that_never_existed_is_fine(tmp_path: Path) -> None:
    need_root()
    layout = new_layout(tmp_path)
    Lab(layout).down()
    assert leftovers(layout, set()) == []


def test_up_refuses_a_state_directory_that_is_not_its_own(tmp_path: Path) -> None:
    need_root()
    layout = new_layout(tmp_path)
    layout.state_dir.mkdir()
    precious = layout.state_dir / "precious"
    precious.write_text("keep me")
    with pytest.raises(GenericError, match="not empty"):
        Lab(layout).up()
    Lab(layout).down()
    assert precious.read_text() == "keep me"
    assert not any(netns_exists(n.netns) for n in layout.nodes)


def test_commands_on_a_lab_that_is_down_fail_cleanly(tmp_path: Path) -> None:
    need_root()
    lab = Lab(new_layout(tmp_path))
    with pytest.raises(GenericError, match="off"):
        lab.run_on("n1", ["true"])
    res = cli("--state-dir", str(tmp_path / "none"), "crash", "n7")
    assert res.returncode == 1 and "no node 'n7'" in res.stderr
    assert "Traceback" not in res.stderr
