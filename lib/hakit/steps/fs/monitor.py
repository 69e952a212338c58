"""ocf:hakit:fs's monitor: depth 0 the mount table, 10 a direct read of the device, 20 a
write, fsync and read-back of a status file."""

from __future__ import annotations

import os
import time

from hakit.errors import GenericError
from hakit.os import blockdev
from hakit.steps.fs.mounted import check_mount, mount_point

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.os.mountinfo import MountEntry
    from hakit.steps.fs.config import FsConfig

#: The file monitor depth 20 writes, fsyncs and reads back, at the top of the mount.
STATUS_FILE = ".hakit-fs-status"


def _device_node(entry: MountEntry) -> str:
    node = blockdev.node_for(entry.major, entry.minor)
    if node is None:
        raise GenericError(f"no device node for {entry.major}:{entry.minor} mounted on "
                           f"{entry.mount_point}")
    return node


def check_reads(entry: MountEntry) -> None:
    """Depth 10: the device answers a direct read and its superblock records no errors
    (XFS records none: an XFS that met an error shuts down, and statvfs then fails)."""
    if entry.fstype == "xfs":
        blockdev.read_xfs_superblock(_device_node(entry))
        try:
            os.statvfs(entry.mount_point)
        except OSError as exc:
            raise GenericError(f"the XFS filesystem on {entry.source} does not answer "
                               f"({exc.strerror}): shut down after an error? stop it and "
                               "run xfs_repair") from exc
        return
    sb = blockdev.read_superblock(_device_node(entry))
    if sb.has_errors:
        raise GenericError(f"the filesystem on {entry.source} has recorded errors "
                           f"({sb.error_count}); stop it and run e2fsck")
    os.statvfs(entry.mount_point)


def check_writes(cfg: FsConfig, instance: str) -> None:
    """Depth 20: write a status file, fsync it, and read it back from the device."""
    path = os.path.join(mount_point(cfg), STATUS_FILE)
    token = f"{instance} {time.time():.3f} {os.urandom(8).hex()}\n".encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, token)
            os.fsync(fd)
        finally:
            os.close(fd)
        back = blockdev.read_direct(path, 0, len(token)) if len(token) <= 4096 else b""
    except OSError as exc:
        raise GenericError(f"cannot write {path}: {exc.strerror}") from exc
    if back != token:
        raise GenericError(f"{path} read back differs from what was written")


def monitor(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    """The checks of ``ctx.check_level`` and every lower depth."""
    entry = check_mount(cfg)
    if ctx.check_level >= 10:
        check_reads(entry)
    if ctx.check_level >= 20:
        if cfg.options.read_only:
            ctx.log.debug("read-only mount: depth 20 write check skipped")
        else:
            check_writes(cfg, ctx.instance)
    return None
