"""The seeds' layout: the container's own ext4 filesystem mounted at LXCPATH/NAME.

ocf:hakit:fs would mount it (start fs -> lxc, stop lxc -> fs); until that agent lands, the
test mounts the loop device itself, in the same order.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.harness.loopdev import LoopPool
from tests.harness.ocf import run_agent
from tests.lxc.conftest import AGENT, BASE_CONFIG, LXC_CREATE

from hakit.startmarker import StartMarker

MOUNT = "/usr/bin/mount"
UMOUNT = "/usr/bin/umount"


class SeedDisk:
    """An ext4 loop device for one container, mounted and unmounted on demand."""

    def __init__(self, device: str, lxcpath: Path, name: str) -> None:
        self.device = device
        self.lxcpath = lxcpath
        self.name = name
        self.mountpoint = lxcpath / name

    def mount(self) -> None:
        subprocess.run([MOUNT, "-t", "ext4", self.device, str(self.mountpoint)], check=True,
                       timeout=30)

    def umount(self) -> subprocess.CompletedProcess[str]:
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
    assert seed_disk.umount().returncode == 0

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
    assert seed_disk.umount().returncode == 0
    assert run_agent(AGENT, "monitor", params, interval_ms=0).rc == 7
    assert run_agent(AGENT, "stop", params).rc == 0

    with contextlib.suppress(subprocess.CalledProcessError):
        seed_disk.mount()
        subprocess.run(["/usr/bin/lxc-destroy", "-f", "-P", str(seed_disk.lxcpath), "-n",
                        seed_disk.name], capture_output=True, check=False, timeout=60)
