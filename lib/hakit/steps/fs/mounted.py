"""Which mounts on the directory are this resource's, and whether the top one is as
configured (monitor depth 0, and start's last word)."""

from __future__ import annotations

import os

from hakit.errors import ArgsError, GenericError, NotRunningError
from hakit.os import blockdev, mountinfo

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.os.blockdev import DeviceSpec
    from hakit.steps.fs.config import FsConfig


def mount_point(cfg: FsConfig) -> str:
    """``directory`` with symlinks resolved, as the kernel shows it in mountinfo."""
    return os.path.realpath(cfg.directory)


def matches_spec(spec: DeviceSpec, major: int, minor: int) -> Optional[bool]:
    """Whether device MAJ:MIN is the one ``spec`` names; None when that cannot be told
    (the device node or its filesystem is unreadable)."""
    path = spec.value if spec.kind == "path" else f"/dev/disk/by-{spec.kind.lower()}/{spec.value}"
    try:
        found = blockdev.stat_device(path)
    except ArgsError:  # not a block device (any more): cannot tell
        found = None
    if found is not None:
        return found.rdev == os.makedev(major, minor)
    if spec.kind == "path":
        return None
    node = blockdev.node_for(major, minor)
    if node is None:
        return None
    try:
        sb = blockdev.read_any_superblock(node)
    except GenericError:
        return None
    return (sb.uuid if spec.kind == "UUID" else sb.label) == spec.value


def our_mounts(cfg: FsConfig,
               entries: list[mountinfo.MountEntry]) -> list[mountinfo.MountEntry]:
    """The mounts on ``directory`` that are this resource's, bottom first."""
    ours = []
    for entry in mountinfo.mounted_at(entries, mount_point(cfg)):
        same = matches_spec(cfg.device, entry.major, entry.minor)
        # When the device can no longer be identified (its node is gone), a mount of the
        # configured type on the directory is taken as ours, so stop still unmounts it.
        if same or (same is None and entry.fstype == cfg.fstype):
            ours.append(entry)
    return ours


def check_mount(cfg: FsConfig) -> mountinfo.MountEntry:
    """Depth 0: the right device is mounted, visibly, on the directory, rw/ro as configured."""
    directory = mount_point(cfg)
    spec = cfg.device
    entries = mountinfo.read()
    here = mountinfo.mounted_at(entries, directory)
    if not here:
        raise NotRunningError(f"{directory} is not mounted")
    top = here[-1]
    same = matches_spec(spec, top.major, top.minor)
    if same is None:
        raise GenericError(f"{directory} is mounted from {top.source} "
                           f"({top.major}:{top.minor}) but {spec} cannot be found to compare")
    if not same:
        if any(matches_spec(spec, e.major, e.minor) for e in here[:-1]):
            raise GenericError(f"{spec} on {directory} is hidden by another mount of "
                               f"{top.source}")
        raise GenericError(f"{directory} has {top.source} ({top.major}:{top.minor}) "
                           f"mounted, not {spec}")
    if top.fstype != cfg.fstype:
        raise GenericError(f"{directory} is mounted as {top.fstype}, not {cfg.fstype}")
    want_ro = cfg.options.read_only
    if top.read_only and not want_ro:
        raise GenericError(f"{directory} is mounted read-only (a filesystem error with "
                           "errors=remount-ro?)")
    if want_ro and not top.read_only:
        raise GenericError(f"{directory} is mounted read-write but configured 'ro'")
    return top
