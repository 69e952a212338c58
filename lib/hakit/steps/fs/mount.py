"""ocf:hakit:fs's start: wait for the device, check it (``check``) and mount it with
mount(2); idempotent when the right filesystem is already mounted."""

from __future__ import annotations

import errno
import os

from hakit.errors import ArgsError, GenericError
from hakit.os import blockdev, mountinfo, mounting
from hakit.steps.fs import check
from hakit.steps.fs.mounted import check_mount, mount_point, our_mounts

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.formats.ext4sb import Superblock
    from hakit.ocf.agent import Context
    from hakit.os.blockdev import Device
    from hakit.steps.fs.config import FsConfig


def _mount(cfg: FsConfig, device: Device, sb: Optional[Superblock]) -> None:
    """mount(2), explaining an MMP refusal by the node that holds the filesystem (``sb``
    is None for XFS)."""
    try:
        mounting.mount(device.path, mount_point(cfg), cfg.fstype, cfg.options)
    except mounting.MountFailed as exc:
        # XFS's EFSCORRUPTED is EUCLEAN; EFSBADCRC is EBADMSG.
        if sb is None and exc.errno in (errno.EUCLEAN, errno.EBADMSG):
            raise GenericError(f"mount {device.path} (xfs) failed: the filesystem is "
                               "corrupt or its log cannot be replayed; not mounting: run "
                               "xfs_repair by hand (-L only after a mount has failed: it "
                               "discards the log)") from exc
        if exc.errno == errno.EBUSY and sb is not None and sb.has_mmp:
            mmp = blockdev.read_mmp(device.path, sb)
            if mmp.in_use or mmp.fsck_running:
                raise GenericError(f"{device.path} is in use on node {mmp.nodename} (device "
                                   f"{mmp.bdevname}): its MMP block is being updated; "
                                   "refusing to mount") from exc
        raise


def start(cfg: FsConfig, ctx: Context) -> Optional[ExitCode]:
    """Mount the filesystem, checked per ``cfg.fsck``; refuse a directory holding another
    mount and a device mounted elsewhere."""
    directory = mount_point(cfg)
    spec = cfg.device
    entries = mountinfo.read()
    here = mountinfo.mounted_at(entries, directory)
    if here and our_mounts(cfg, here[-1:]):
        check_mount(cfg)
        ctx.log.info("%s already mounted on %s", spec, directory)
        return None
    if here:
        raise GenericError(f"{directory} already has {here[-1].source} mounted on it")
    device = blockdev.wait_for(spec, ctx.runner, ctx.deadline, cfg.device_wait)
    elsewhere = [e.mount_point for e in entries if e.dev == (device.major, device.minor)]
    if elsewhere:
        raise GenericError(f"{device.path} is already mounted on {elsewhere[0]}")
    sb = check.superblock(cfg, device)
    if cfg.mmp and sb is not None:
        check.refuse_if_mmp_busy(device, sb, ctx.log)
    elif blockdev.kernel_has_mounted(device):
        ctx.log.warning("%s is also mounted in another mount namespace of this node",
                        device.path)
    if not os.path.isdir(directory):
        if not cfg.create_directory:
            raise ArgsError(f"parameter 'directory': {directory} does not exist")
        os.makedirs(directory, mode=0o755, exist_ok=True)
        directory = mount_point(cfg)
    if sb is None:
        check.xfs_check(cfg, ctx, device)
    else:
        check.fsck(cfg, ctx, device, sb)
    ctx.log.info("mounting %s on %s", device.path, directory)
    _mount(cfg, device, sb)
    check_mount(cfg)
    return None
