"""ocf:hakit:fs on real XFS on loop devices: mount, monitor depths, its check policy.

XFS has no check at mount time: the kernel replays the log when it mounts. fsck=auto and
never just mount (a crashed node's filesystem comes back through log replay); fsck=force
replays the log with a read-only mount, runs xfs_repair -n and mounts only when it finds
nothing; the agent never repairs XFS (docs/agents/fs.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hakit.os import blockdev
from tests.fs.conftest import Ext4, mkfs
from tests.fs.test_fs_agent import agent, mounted

XFS_MB = 320  # mkfs.xfs (xfsprogs 6) refuses filesystems under 300 MB


def xfs_device(ext4: Ext4, *mkfs_args: str) -> str:
    device = ext4.pool.create(size_mb=XFS_MB, name="xfs")
    subprocess.run(["/usr/sbin/mkfs.xfs", "-q", "-f", *mkfs_args, device], check=True,
                   capture_output=True, timeout=120)
    return device


def crash(directory: str) -> None:
    """Leave a dirty log, as a node that died with the filesystem mounted does: write,
    shut the filesystem down without flushing the log, unmount."""
    Path(directory, "data").write_bytes(b"x" * 65536)
    subprocess.run(["/usr/sbin/xfs_io", "-x", "-c", "shutdown -f", directory], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["/usr/bin/umount", directory], check=True, capture_output=True,
                   timeout=30)


def dirty_log(device: str) -> bool:
    out = subprocess.run(["/usr/sbin/xfs_repair", "-n", device], capture_output=True, check=False,
                         text=True, timeout=120)
    return "valuable metadata changes in a log" in out.stdout + out.stderr


def test_xfs_lifecycle_and_monitor_depths(ext4: Ext4) -> None:
    params = {"device": xfs_device(ext4), "directory": ext4.directory(), "fstype": "xfs"}
    start = agent("start", params)
    assert start.rc == 0, start.stderr
    assert mounted(params["directory"])[-1].fstype == "xfs"
    for level in (0, 10, 20):
        result = agent("monitor", params, level)
        assert result.rc == 0, (level, result.stderr)
    assert agent("start", params).rc == 0  # already mounted: success
    assert agent("stop", params).rc == 0
    assert not mounted(params["directory"])
    for level in (0, 10, 20):
        assert agent("monitor", params, level).rc == 7


def test_xfs_is_recognised_by_uuid_and_label(ext4: Ext4) -> None:
    """Mounted by path, the mount is recognised as UUID=/LABEL='s from the XFS superblock
    (without udev's /dev/disk links; blkid, which start uses to find such a device, is
    exercised by the ext4 tests)."""
    device = xfs_device(ext4, "-L", "hakitxfs")
    sb = blockdev.read_xfs_superblock(device)
    assert sb.label == "hakitxfs"
    directory = ext4.directory()
    assert agent("start", {"device": device, "directory": directory, "fstype": "xfs"}).rc == 0
    for spec in (f"UUID={sb.uuid}", "LABEL=hakitxfs"):
        params = {"device": spec, "directory": directory, "fstype": "xfs"}
        monitor = agent("monitor", params, 10)
        assert monitor.rc == 0, monitor.stderr
    stop = agent("stop", {"device": f"UUID={sb.uuid}", "directory": directory,
                          "fstype": "xfs"})
    assert stop.rc == 0, stop.stderr
    assert not mounted(directory)


@pytest.mark.parametrize("fsck", ["auto", "force"])
def test_crashed_xfs_comes_back_through_log_replay(ext4: Ext4, fsck: str) -> None:
    params = {"device": xfs_device(ext4), "directory": ext4.directory(), "fstype": "xfs",
              "fsck": fsck}
    assert agent("start", params).rc == 0
    crash(params["directory"])
    assert dirty_log(params["device"])
    start = agent("start", params)
    assert start.rc == 0, start.stderr
    if fsck == "force":
        assert "replaying the XFS log" in start.stderr
        assert "xfs_repair -n" in start.stderr
    assert Path(params["directory"], "data").exists()
    assert agent("monitor", params, 20).rc == 0
    assert agent("stop", params).rc == 0
    assert not dirty_log(params["device"])


def test_damaged_xfs_is_not_mounted_with_fsck_force(ext4: Ext4) -> None:
    device = xfs_device(ext4)
    # The root directory's inode loses its mode: xfs_repair -n reports it (exit 1).
    subprocess.run(["/usr/sbin/xfs_db", "-x", "-c", "sb 0", "-c", "addr rootino",
                    "-c", "write -d core.mode 0", device], check=True, capture_output=True,
                   timeout=60)
    params = {"device": device, "directory": ext4.directory(), "fstype": "xfs",
              "fsck": "force"}
    result = agent("start", params)
    assert result.rc == 1, result.stderr
    assert "xfs_repair -n" in result.reason and "not mounting" in result.reason
    assert not mounted(params["directory"])


def test_wrong_filesystem_kind_is_a_configuration_error(ext4: Ext4) -> None:
    xfs = xfs_device(ext4)
    ext = ext4.device()
    as_ext4 = agent("start", {"device": xfs, "directory": ext4.directory("a")})
    assert as_ext4.rc == 6 and "is xfs, not ext4" in as_ext4.reason, as_ext4.stderr
    as_xfs = agent("start", {"device": ext, "directory": ext4.directory("b"),
                             "fstype": "xfs"})
    assert as_xfs.rc == 6 and "is ext4, not xfs" in as_xfs.reason, as_xfs.stderr
    assert not mounted(ext4.directory("a")) and not mounted(ext4.directory("b"))


def test_mmp_is_refused_for_xfs(tmp_path: Path) -> None:
    result = agent("validate-all", {"device": "/dev/null", "directory": str(tmp_path),
                                    "fstype": "xfs", "mmp": "true"})
    assert result.rc == 6 and "mmp" in result.reason


def test_ext4_helper_still_makes_ext4(ext4: Ext4) -> None:
    """mkfs in conftest is ext4; XFS devices are made here only."""
    assert mkfs is not None
    assert blockdev.read_superblock(ext4.device()).fstype == "ext4"
