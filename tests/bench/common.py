"""Measuring agents side by side: wall and CPU time of whole agent runs, medians of many."""

from __future__ import annotations

import ctypes
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tests.harness.loopdev import LoopPool


@dataclass(frozen=True)
class Stats:
    """Medians over ``runs`` runs of one command."""

    label: str
    runs: int
    wall_ms: float  # median wall-clock time
    cpu_ms: float  # median user+system CPU of the command and all its children

    def row(self) -> str:
        return f"| {self.label} | {self.runs} | {self.wall_ms:.1f} | {self.cpu_ms:.1f} |"


def run_once(argv: Sequence[str], env: Mapping[str, str], expect: Sequence[int] = (0,),
             timeout: float = 120.0) -> tuple[float, float]:
    """Wall and CPU seconds of one run; CPU counts every descendant the command waited for."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=dict(env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            raise TimeoutError(" ".join(argv))
        time.sleep(0.0005)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        raise RuntimeError(f"{' '.join(argv)} exited {code}, expected {list(expect)}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(label: str, argv: Sequence[str], env: Mapping[str, str], runs: int = 30,
            expect: Sequence[int] = (0,)) -> Stats:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = run_once(argv, env, expect)
        walls.append(wall)
        cpus.append(cpu)
    return Stats(label, runs, statistics.median(walls) * 1000, statistics.median(cpus) * 1000)


def table(rows: Sequence[Stats]) -> str:
    head = "| what | runs | wall ms (median) | CPU ms (median) |\n|---|---|---|---|"
    return "\n".join([head, *(r.row() for r in rows)])


def ratio(ours: Stats, theirs: Stats) -> str:
    return (f"{ours.label} / {theirs.label}: wall {ours.wall_ms / theirs.wall_ms:.2f}x, "
            f"CPU {ours.cpu_ms / theirs.cpu_ms:.2f}x")


def _first_cgroup_v1_release_file() -> Optional[str]:
    """The file heartbeat's lxc agent (cgroup_mounted) writes: notify_on_release of the
    first 'cgroup' mount in /proc/mounts."""
    with open("/proc/mounts", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup":
                return os.path.join(fields[1], "notify_on_release")
    return None


@contextmanager
def cgroup_release_kept() -> Iterator[None]:
    """Put back the host's notify_on_release, which heartbeat's lxc agent sets to 1 on
    start and stop (lab nodes share the host's cgroup mounts)."""
    path = _first_cgroup_v1_release_file()
    saved = Path(path).read_text() if path else None
    try:
        yield
    finally:
        if path and saved is not None:
            Path(path).write_text(saved)


@contextmanager
def ext4_on_loop(name: str) -> Iterator[tuple[str, str]]:
    """(device, mount point): a fresh 64 MiB ext4 on a loop device and an empty directory,
    in a temporary directory; afterwards whatever is mounted there is unmounted (up to
    three stacked mounts a failed run may leave) and the loop device detached."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        pool = LoopPool(Path(tmp))
        directory = os.path.join(tmp, "mnt")
        os.mkdir(directory)
        try:
            device = pool.create(size_mb=64, name=name)
            subprocess.run(["/usr/sbin/mkfs.ext4", "-q", "-F", device], check=True,
                           capture_output=True, timeout=60)
            yield device, directory
        finally:
            libc = ctypes.CDLL(None, use_errno=True)
            for _ in range(3):
                libc.umount2(os.fsencode(directory), 0)
            time.sleep(0.1)
            pool.cleanup()
