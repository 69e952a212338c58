"""The seeds' layout: the container's own ext4 filesystem mounted at LXCPATH/NAME.

ocf:hakit:fs mounts it (start fs -> lxc, stop lxc -> fs) when that agent is in the tree;
without it the test mounts the loop device itself, in the same order.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.harness.loopdev import LoopPool
from tests.harness.ocf import AGENTS, run_agent
from tests.lxc.conftest import AGENT, BASE_CONFIG, LXC_CREATE

from hakit.steps.lxc.marker import StartMarker

MOUNT = "/usr/bin/mount"
UMOUNT = "/usr/bin/umount"
FS_AGENT = AGENTS / "fs"


class SeedDisk:
    """An ext4 loop device for one container, mounted and unmounted on demand."""

    def __init__(self, device: str, lxcpath: Path, name: str) -> None:
        self.device = device
        self.lxcpath = lxcpath
        self.name = name
        self.mountpoint = lxcpath / name

    @property
    def fs_params(self) -> dict[str, str]:
        return {"device": self.device, "directory": str(self.mountpoint), "fstype": "ext4"}

    def mount(self) -> None:
        """start fs: through ocf:hakit:fs when present, else mount(8)."""
        if FS_AGENT.exists():
            result = run_agent(FS_AGENT, "start", self.fs_params)
            assert result.rc == 0, result.stderr
        else:
            subprocess.run([MOUNT, "-t", "ext4", self.device, str(self.mountpoint)],
                           check=True, timeout=30)

    def release(self) -> bool:
        """stop fs: through ocf:hakit:fs when present, else umount(8); whether it worked."""
        if FS_AGENT.exists():
            return run_agent(FS_AGENT, "stop", self.fs_params).rc == 0 and not self.mounted()
        return self.umount().returncode == 0

    def umount(self) -> subprocess.CompletedProcess[str]:
        """A plain umount(8), which fails on a busy filesystem (never kills anything)."""
        return subprocess.run([UMOUNT, str(self.mountpoint)], capture_output=True, text=True,
                              check=False, timeout=30)

    def mounted(self) -> bool:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            return any(line.split()[4] == str(self.mountpoint) for line in handle)


@pytest.fixture
def seed_disk(loop_pool: LoopPool, tmp_path: Path) -> Iterator[SeedDisk]:
    lxcpath = tmp_path / "lxc"
    name = f"hk-{secrets.token_hex(4)}"
    disk = SeedDisk(loop_pool.create(64, "seed"), lxcpath, name)
    disk.mountpoint.mkdir(parents=True)
    subprocess.run(["/usr/sbin/mkfs.ext4", "-q", disk.device], check=True, timeout=60)
    try:
        yield disk
    finally:
        path = str(lxcpath)
        subprocess.run(["/usr/bin/lxc-stop", "-k", "-P", path, "-n", name],
                       capture_output=True, check=False, timeout=60)
        StartMarker(path, name).remove()
        if FS_AGENT.exists():
            run_agent(FS_AGENT, "stop", disk.fs_params)
        while disk.mounted():
            if disk.umount().returncode != 0:
                subprocess.run([UMOUNT, "-l", str(disk.mountpoint)], check=False, timeout=30)
                break


def test_container_on_its_own_filesystem(seed_disk: SeedDisk, tmp_path: Path) -> None:
    params = {"name": seed_disk.name, "lxcpath": str(seed_disk.lxcpath),
              "log_file": str(tmp_path / "lxc.log")}
    seed_disk.mount()
    base = tmp_path / "base.conf"
    base.write_text(BASE_CONFIG)
    subprocess.run([LXC_CREATE, "-t", "busybox", "-P", str(seed_disk.lxcpath), "-n",
                    seed_disk.name, "-f", str(base)], capture_output=True, check=True,
                   timeout=60)
    assert seed_disk.release()

    # fs not mounted on this node: not runnable here (rc 5), and a probe says stopped.
    unmounted = run_agent(AGENT, "start", params)
    assert unmounted.rc == 5
    assert "mounted" in unmounted.reason
    assert run_agent(AGENT, "monitor", params, interval_ms=0).rc == 7

    # start fs -> lxc
    seed_disk.mount()
    start = run_agent(AGENT, "start", params)
    assert start.rc == 0, start.stderr
    assert run_agent(AGENT, "monitor", params, interval_ms=10000).rc == 0
    busy = seed_disk.umount()
    assert busy.returncode != 0  # the running container holds its filesystem

    # stop lxc -> fs: after stop nothing holds the mount any more
    assert run_agent(AGENT, "stop", params).rc == 0
    assert seed_disk.release()
    assert run_agent(AGENT, "monitor", params, interval_ms=0).rc == 7
    assert run_agent(AGENT, "stop", params).rc == 0

    with contextlib.suppress(subprocess.CalledProcessError):
        seed_disk.mount()
        subprocess.run(["/usr/bin/lxc-destroy", "-f", "-P", str(seed_disk.lxcpath), "-n",
                        seed_disk.name], capture_output=True, check=False, timeout=60)
