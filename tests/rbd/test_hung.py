"""Hung storage on the host: rbd-fuse stopped with SIGSTOP leaves the loop device over its
image file hanging for real (I/O on it waits in the kernel).  Every action of ocf:hakit:rbd
and ocf:hakit:fs on it must still answer within CRM_meta_timeout, with a failure and a
reason, so that Pacemaker can recover or fence instead of waiting forever.

(The same with krbd and its cluster cut off runs in a kernel guest: tests/kernel.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from tests.harness.ceph import CephEnv
from tests.harness.ocf import AGENTS, Result, run_agent

TIMEOUT_MS = 6000
SLACK_S = 1.0  # the guard answers from the process start; this is scheduling noise


def _fuse_pid(env: CephEnv, image: str) -> int:
    return int(Path(f"/run/hakit/rbd/{env.pool}@@{image}/rbd-fuse.pid").read_text())


class Hung:
    """An image mapped with rbd-fuse and mounted by ocf:hakit:fs, then frozen."""

    def __init__(self, env: CephEnv, image: str, directory: Path) -> None:
        self.rbd = env.params(image)
        self.fs = {"device": f"/dev/hakit/{env.pool}/{image}", "directory": str(directory),
                   "create_directory": "true"}
        self.pid = 0

    def timed(self, agent: str, action: str, **kwargs: object) -> tuple[Result, float]:
        params = self.rbd if agent == "rbd" else self.fs
        started = time.monotonic()
        result = run_agent(AGENTS / agent, action, params, timeout_ms=TIMEOUT_MS,
                           **kwargs)  # type: ignore[arg-type]
        return result, time.monotonic() - started


@pytest.fixture
def hung(rbd_env: CephEnv, image: str, tmp_path: Path) -> Iterator[Hung]:
    frozen = Hung(rbd_env, image, tmp_path / "mnt")
    assert run_agent(AGENTS / "rbd", "start", frozen.rbd).rc == 0
    try:
        subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", frozen.fs["device"]], check=True,
                       timeout=60)
        assert run_agent(AGENTS / "fs", "start", frozen.fs).rc == 0
        (tmp_path / "mnt" / "data").write_text("dirty, not yet written back\n")
        frozen.pid = _fuse_pid(rbd_env, image)
        os.kill(frozen.pid, signal.SIGSTOP)
        yield frozen
    finally:
        if frozen.pid:
            os.kill(frozen.pid, signal.SIGCONT)  # the stuck I/O (and its children) complete
        for _ in range(3):
            if run_agent(AGENTS / "fs", "stop", frozen.fs, timeout_ms=60000).rc == 0:
                break
        assert run_agent(AGENTS / "rbd", "stop", frozen.rbd, timeout_ms=60000).rc == 0


CASES = [
    # agent, action, interval_ms, OCF_CHECK_LEVEL, right exit codes on a hung device
    ("fs", "monitor", 10000, "0", (0,)),  # depth 0 reads only the mount table
    ("fs", "monitor", 0, "0", (0,)),  # a probe
    ("rbd", "monitor", 0, "0", (0, 1)),  # a probe reads the device too (page cache: 0)
    # start of what already runs checks the mount table / the mapping: in time either way
    ("fs", "start", None, "0", (0, 1)),
    ("rbd", "start", None, "0", (0, 1)),
    ("rbd", "monitor", 60000, "10", (0, 1)),  # the lock check, then the device read
    # Depth 10 reads the superblock with O_DIRECT, but the loop device reads its backing
    # file through the page cache, which may still hold it: either answer is right in time.
    ("fs", "monitor", 60000, "10", (0, 1)),
    ("fs", "monitor", 60000, "20", (1,)),
    ("rbd", "monitor", 10000, "0", (1,)),
    ("fs", "stop", None, "0", (1,)),
    # (rbd stop is not run here: with the filesystem still mounted on the loop device it
    # would stop rbd-fuse to force the unmap; Pacemaker fences after the failed fs stop.)
]


def _check_timely(what: str, result: Result, took: float) -> None:
    print(f"{what}: rc {result.rc} in {took:.1f} s: {result.reason}")  # for docs/agents
    assert took < TIMEOUT_MS / 1000 + SLACK_S, (what, took, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, what
    if result.rc != 0:
        assert result.reason, (what, result.stderr)


@pytest.fixture
def hung_unmounted(rbd_env: CephEnv, image: str, tmp_path: Path) -> Iterator[Hung]:
    """The image mapped with rbd-fuse and formatted, nothing mounted, rbd-fuse frozen while
    a reader waits on the loop device (so the device's next I/O blocks for certain)."""
    frozen = Hung(rbd_env, image, tmp_path / "mnt")
    assert run_agent(AGENTS / "rbd", "start", frozen.rbd).rc == 0
    reader: Optional[subprocess.Popen[bytes]] = None
    try:
        subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", frozen.fs["device"]], check=True,
                       timeout=60)
        frozen.pid = _fuse_pid(rbd_env, image)
        os.kill(frozen.pid, signal.SIGSTOP)
        # A direct read past what mkfs wrote: it cannot come from any cache.
        reader = subprocess.Popen(["/usr/bin/dd", f"if={frozen.fs['device']}", "of=/dev/null",
                                   "bs=4096", "count=1", "skip=60000", "iflag=direct"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield frozen
    finally:
        if frozen.pid:
            try:
                os.kill(frozen.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass  # the action under test stopped it (rbd stop forces the unmap so)
        if reader is not None:
            reader.wait(timeout=60)
        for _ in range(3):
            if run_agent(AGENTS / "fs", "stop", frozen.fs, timeout_ms=60000).rc == 0:
                break
        assert run_agent(AGENTS / "rbd", "stop", frozen.rbd, timeout_ms=60000).rc == 0


def test_start_of_a_filesystem_on_a_hung_device_answers_within_its_timeout(
        hung_unmounted: Hung) -> None:
    """fs start reads the superblock, maybe runs e2fsck, mounts: all wait on the device."""
    result, took = hung_unmounted.timed("fs", "start")
    _check_timely("fs start", result, took)
    # (0 only if every block start reads was still cached: then it is mounted, and the
    # fixture's stop unmounts it once the device answers again)
    assert result.rc in (0, 1), result.stderr


def test_stop_of_a_hung_mapping_answers_within_its_timeout(hung_unmounted: Hung) -> None:
    """rbd stop detaches the loop device (busy with the stuck reader) and unmounts rbd-fuse,
    stopping it by PID when it does not let go: in time, 0 or a failure with a reason."""
    result, took = hung_unmounted.timed("rbd", "stop")
    _check_timely("rbd stop", result, took)
    assert result.rc in (0, 1), result.stderr


def test_every_action_answers_within_its_timeout(hung: Hung) -> None:
    for agent, action, interval, level, expected in CASES:
        result, took = hung.timed(agent, action, interval_ms=interval,
                                  extra_env={"OCF_CHECK_LEVEL": level})
        what = f"{agent} {action} depth {level}" + (" (probe)" if interval == 0 else "")
        print(f"{what}: rc {result.rc} in {took:.1f} s: {result.reason}")  # for docs/agents
        assert took < TIMEOUT_MS / 1000 + SLACK_S, (what, took, result.stderr)
        assert result.rc in expected, (what, result.rc, result.stderr)
        if result.rc != 0:
            assert result.reason, (what, result.stderr)
