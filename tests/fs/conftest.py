"""Fixtures for ocf:hakit:fs: real ext4 on loop devices, unmounted and detached afterwards."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakit.os import mountinfo
from tests.harness.loopdev import LoopPool
from tests.harness.ocf import AGENTS, LIB

FS_AGENT = AGENTS / "fs"
MNT_DETACH = 2


def mkfs(device: str, *extra: str) -> None:
    subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", *extra, device], check=True,
                   capture_output=True, timeout=60)


def unmount_under(top: Path) -> None:
    """Unmount everything at or below ``top``, deepest first (test cleanup only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    prefix = str(top) + "/"
    for _ in range(3):
        mine = [e for e in mountinfo.read() if e.mount_point.startswith(prefix)]
        if not mine:
            return
        for entry in reversed(mine):
            if libc.umount2(os.fsencode(entry.mount_point), 0) != 0:
                libc.umount2(os.fsencode(entry.mount_point), MNT_DETACH)


class Ext4:
    """Loop devices with ext4, mount points, and processes to clean up, for one test."""

    def __init__(self, pool: LoopPool, tmp: Path) -> None:
        self.pool = pool
        self.tmp = tmp
        self.procs: list[subprocess.Popen[str]] = []

    def device(self, *mkfs_args: str, size_mb: int = 32) -> str:
        dev = self.pool.create(size_mb=size_mb, name="ext4")
        mkfs(dev, *mkfs_args)
        return dev

    def directory(self, name: str = "mnt") -> str:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def spawn(self, argv: list[str], cwd: str = "/") -> subprocess.Popen[str]:
        """Start a helper process that prints 'ready' once set up; killed by PID at the end."""
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(LIB)})
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"helper {argv} said {line!r}"
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        unmount_under(self.tmp)


@pytest.fixture
def ext4(loop_pool: LoopPool, tmp_path: Path) -> Iterator[Ext4]:
    helper = Ext4(loop_pool, tmp_path)
    try:
        yield helper
    finally:
        helper.cleanup()  # before loop_pool's teardown detaches the devices
