"""What a lab's nodes leave in the host's shared kernel state when they die without stopping.

A crashed node's mount namespace vanishes with its processes, taking its rbd-fuse and ext4
mounts along, but two things belong to the whole machine and stay: the loop device that
ocf:hakit:rbd set up over rbd-fuse's image file, and the cgroups LXC made for the container.
``down`` removes both, recognised by names only this lab uses (its pool, its container).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

from hakit.deadline import Deadline
from hakit.os.runner import Runner

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The state directory of ocf:hakit:rbd's fuse mappings (the back file lives below it).
RBD_RUN_ROOT = "/run/hakit/rbd/"
#: How deep below /sys/fs/cgroup to look (hierarchy, then the starter's nesting).
SEARCH_DEPTH = 5


def lab_loop_devices(losetup_json: str, pool: str) -> list[str]:
    """Loop devices whose back file is an rbd-fuse image file of ``pool`` (pure)."""
    if not losetup_json.strip():
        return []
    prefix = f"{RBD_RUN_ROOT}{pool}@"
    found = []
    for dev in json.loads(losetup_json).get("loopdevices", []):
        back = str(dev.get("back-file") or "")
        if back.startswith(prefix):
            found.append(str(dev["name"]))
    return found


def detach_loop_devices(runner: Runner, deadline: Deadline, pool: str) -> list[str]:
    """Detach this lab's loop devices; returns their names."""
    res = runner.run([runner.require("losetup"), "--json", "--list"], deadline, check=False)
    devices = lab_loop_devices(res.stdout, pool) if res.ok else []
    for dev in devices:
        runner.run([runner.require("losetup"), "--detach", dev], deadline, check=False)
    return devices


def is_container_cgroup(name: str, container: str) -> bool:
    """LXC's cgroup names for ``container``: lxc.payload.NAME, lxc.monitor.NAME, and -N."""
    for prefix in ("lxc.payload.", "lxc.monitor."):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if rest == container:
                return True
            head, _, tail = rest.rpartition("-")
            return head == container and tail.isdigit()
    return False


def lab_containers(lab: str, count: int) -> list[str]:
    """The demo's container and the scaled lab's (``lab.scale``) of lab ``lab``."""
    return [f"{lab}-web", *(f"{lab}-c{i:02d}" for i in range(1, count + 1))]


def remove_container_cgroups(container: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """rmdir (deepest first) every empty cgroup LXC made for ``container``, in every hierarchy.

    Only empty cgroups can be removed; one still holding a process stays (and is reported
    by nothing: its processes are not the lab's to kill).
    """
    return remove_cgroups_of([container], root)


def remove_cgroups_of(containers: Sequence[str], root: Path = CGROUP_ROOT) -> list[Path]:
    """``remove_container_cgroups`` for many containers in one walk of the hierarchies."""
    removed: list[Path] = []
    for found in _find(root, containers, SEARCH_DEPTH):
        removed.extend(_rmdir_tree(found))
    return removed


def _find(top: Path, containers: Sequence[str], depth: int) -> list[Path]:
    """Directories named for ``container`` below ``top`` (LXC nests them under the cgroup
    of whoever ran lxc-start, which differs per hierarchy)."""
    found: list[Path] = []
    if depth < 0:
        return found
    try:
        entries = [e for e in top.iterdir() if e.is_dir() and not e.is_symlink()]
    except OSError:
        return found
    for entry in entries:
        if any(is_container_cgroup(entry.name, c) for c in containers):
            found.append(entry)
        elif not entry.name.startswith("lxc."):
            found.extend(_find(entry, containers, depth - 1))
    return found


def _rmdir_tree(path: Path) -> list[Path]:
    removed = []
    with contextlib.suppress(OSError):
        for child in path.iterdir():
            if child.is_dir():
                removed.extend(_rmdir_tree(child))
    with contextlib.suppress(OSError):
        path.rmdir()
        removed.append(path)
    return removed
