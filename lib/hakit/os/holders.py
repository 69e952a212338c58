"""Which processes hold a mount: open files, cwd, root and memory mappings, through /proc.

A holder is matched by the mount's identity, never by a path prefix (a path can be reached
through another mount, and another mount can sit at a similar path): each reference is
opened with ``O_PATH`` and its ``mnt_id`` read from ``/proc/self/fdinfo``, which names the
exact mount (proc(5)).  Only references whose ``st_dev`` is the mount's device are opened,
so the scan stays cheap.  For chosen devices, any mount of the same filesystem can count.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Optional

from hakit.formats import procstat

#: /proc/PID/maps: ``start-end perms offset MAJ:MIN inode path`` (hex numbers).
_MAPS_LINE = re.compile(r"([0-9a-f]+)-([0-9a-f]+) \S+ [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+)")


@dataclass(frozen=True)
class Mapping:
    """A file-backed memory mapping."""

    start: int
    end: int
    dev: int  # os.makedev(major, minor) of the mapped file's filesystem
    inode: int

    @property
    def map_files_name(self) -> str:
        return f"{self.start:x}-{self.end:x}"


def parse_maps(text: str) -> list[Mapping]:
    """File-backed mappings of a /proc/PID/maps text (anonymous ones, inode 0, skipped)."""
    found = []
    for line in text.splitlines():
        match = _MAPS_LINE.match(line)
        if match and match.group(5) != "0":
            found.append(Mapping(int(match.group(1), 16), int(match.group(2), 16),
                                 os.makedev(int(match.group(3), 16), int(match.group(4), 16)),
                                 int(match.group(5))))
    return found


@dataclass(frozen=True)
class Holder:
    """A process holding a mount, and how."""

    pid: int
    start_time: int  # from /proc/PID/stat, read before the scan: tells a reused PID apart
    comm: str
    how: tuple[str, ...]  # e.g. ("cwd", "fd 3", "mmap 7f..-7f..")

    def __str__(self) -> str:
        return f"{self.pid} ({self.comm}: {', '.join(self.how)})"


def _mount_id_of(path: str) -> Optional[int]:
    """The mount id of what ``path`` (a /proc magic link) refers to."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("mnt_id:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return None


class _Matcher:
    def __init__(self, mounts: Collection[tuple[int, int]], any_mount_of: Collection[int]):
        self.mount_ids = frozenset(mount_id for _, mount_id in mounts)
        self.devs = frozenset(dev for dev, _ in mounts)
        self.any_mount_of = frozenset(any_mount_of)

    def _matches(self, dev: int, path: str) -> bool:
        if dev in self.any_mount_of:
            return True
        return dev in self.devs and _mount_id_of(path) in self.mount_ids

    def link(self, path: str) -> bool:
        """Whether the /proc magic link ``path`` refers into one of the mounts."""
        try:
            dev = os.stat(path).st_dev
        except OSError:
            return False
        return self._matches(dev, path)

    def mapping(self, pid: int, mapping: Mapping) -> bool:
        return self._matches(mapping.dev,
                             f"/proc/{pid}/map_files/{mapping.map_files_name}")


def _pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def start_time(pid: int) -> Optional[int]:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None once the process is gone."""
    return procstat.starttime(pid)


def _holds(pid: int, match: _Matcher) -> tuple[str, ...]:
    how: list[str] = []
    for name in ("cwd", "root"):
        if match.link(f"/proc/{pid}/{name}"):
            how.append(name)
    with contextlib.suppress(OSError):  # the process may exit while we look
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if match.link(f"/proc/{pid}/fd/{fd}"):
                how.append(f"fd {fd}")
    try:
        with open(f"/proc/{pid}/maps", encoding="ascii", errors="replace") as handle:
            maps = parse_maps(handle.read())
    except OSError:
        maps = []
    seen: set[int] = set()
    for mapping in maps:
        if mapping.inode not in seen and match.mapping(pid, mapping):
            seen.add(mapping.inode)
            how.append(f"mmap {mapping.map_files_name}")
    return tuple(how)


def protected_pids() -> frozenset[int]:
    """Processes never signalled: init, this process and its ancestors (whoever ran us)."""
    pids = {1, os.getpid()}
    pid = os.getpid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        pids.add(pid)
    return frozenset(pids)


def find_holders(mounts: Collection[tuple[int, int]],
                 any_mount_of: Collection[int] = ()) -> list[Holder]:
    """Every process with a reference into the given mounts (``(st_dev, mount id)`` pairs),
    or into any mount at all of the devices in ``any_mount_of``, ordered by PID."""
    match = _Matcher(mounts, any_mount_of)
    found = []
    for pid in sorted(_pids()):
        started = start_time(pid)
        if started is None:
            continue
        how = _holds(pid, match)
        if how:
            found.append(Holder(pid, started, _comm(pid), how))
    return found
