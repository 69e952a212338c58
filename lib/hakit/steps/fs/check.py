"""What start checks before it mounts: the filesystem is of the configured type, no one else
holds it (MMP), and it is clean (e2fsck per ``fsck``; XFS: log replay and xfs_repair -n)."""

from __future__ import annotations

from hakit.errors import ConfigError, GenericError
from hakit.formats.ext4sb import Superblock
from hakit.os import blockdev, mounting
from hakit.steps.fs.mounted import mount_point

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import logging
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.os.blockdev import Device
    from hakit.steps.fs.config import FsConfig


def superblock(cfg: FsConfig, device: Device) -> Optional[Superblock]:
    """The ext superblock (None for XFS), refusing a filesystem of the other kind."""
    fstype = cfg.fstype
    read, other = ((blockdev.read_xfs_superblock, blockdev.read_superblock) if fstype == "xfs"
                   else (blockdev.read_superblock, blockdev.read_xfs_superblock))
    try:
        found = read(device.path)
    except GenericError:
        try:
            kind = other(device.path).fstype
        except GenericError:
            kind = ""
        if kind:
            raise ConfigError(f"parameter 'fstype': the filesystem on {device.path} is "
                              f"{kind}, not {fstype}") from None
        raise
    if isinstance(found, Superblock):
        if fstype != "ext4" and found.fstype == "ext4":
            raise ConfigError(f"parameter 'fstype': the filesystem on {device.path} uses "
                              f"ext4 features, it cannot be mounted as {fstype}")
        return found
    return None


def refuse_if_mmp_busy(device: Device, sb: Superblock, log: logging.Logger) -> None:
    """Refuse what MMP cannot: a second mount on this node (the kernel shares one
    superblock between mount namespaces, so ext4's MMP never objects), or one while
    e2fsck runs.  Another node is refused by ext4 itself at mount time, which watches the
    MMP sequence for 2 * interval + 1 seconds; watching it here too would only add that
    delay to every failover after a crash."""
    if not sb.has_mmp:
        raise ConfigError(f"parameter 'mmp': the filesystem on {device.path} lacks the mmp "
                          "feature (enable it with tune2fs -O mmp while unmounted)")
    if blockdev.kernel_has_mounted(device):
        raise GenericError(f"{device.path} is already mounted on this node outside this "
                           "mount namespace; refusing a second mount (mmp)")
    mmp = blockdev.read_mmp(device.path, sb)
    if mmp.fsck_running:
        raise GenericError(f"e2fsck is running on {device.path} on node {mmp.nodename} "
                           "(MMP); refusing to mount")
    if mmp.in_use:
        log.warning("MMP block of %s was last written by node %s and not marked clean "
                    "(mounted there, or it crashed); ext4 checks whether it is stale",
                    device.path, mmp.nodename)


def fsck(cfg: FsConfig, ctx: Context, device: Device, sb: Superblock) -> None:
    """ext2/3/4: e2fsck -p (-f for fsck=force) when ``cfg.fsck`` says so; a check that leaves
    errors, or a filesystem still not clean after it, is never mounted."""
    policy = cfg.fsck
    if policy == "never":
        if not sb.clean:
            ctx.log.warning("%s was not cleanly unmounted or has errors; fsck=never, "
                            "mounting unchecked", device.path)
        return
    if policy == "auto" and sb.clean:
        return
    if blockdev.kernel_has_mounted(device):
        raise GenericError(f"{device.path} needs e2fsck but is mounted elsewhere on this node")
    argv = ["e2fsck", "-p"] + (["-f"] if policy == "force" else []) + [device.path]
    ctx.log.info("checking %s (%s): %s", device.path,
                 "forced" if policy == "force" else f"state 0x{sb.state:x}, "
                 f"{sb.error_count} errors recorded", " ".join(argv))
    result = ctx.runner.run(argv, ctx.deadline, check=False)
    # e2fsck(8)'s exit status: bits 1 and 2 mean errors corrected, 4 errors left.
    if result.returncode & ~3:
        lines = (result.stdout + result.stderr).strip().splitlines()
        detail = lines[-1] if lines else ""
        raise GenericError(f"e2fsck -p on {device.path} exited {result.returncode}"
                           f"{' (errors left uncorrected)' if result.returncode & 4 else ''}"
                           f": {detail}; not mounting, run e2fsck manually")
    if result.returncode:
        ctx.log.warning("e2fsck corrected errors on %s (exit %d)", device.path,
                        result.returncode)
    after = blockdev.read_superblock(device.path)
    if not after.clean:
        raise GenericError(f"{device.path} is still not clean after e2fsck "
                           f"(state 0x{after.state:x}); not mounting")


def xfs_check(cfg: FsConfig, ctx: Context, device: Device) -> None:
    """XFS's check policy.  auto and never: nothing before the mount, which replays the log
    after a crash (fsck.xfs does nothing, by design).  force: replay the log with a
    read-only mount and unmount (xfs_repair -n ignores a dirty log and reports spurious
    damage; xfs_repair refuses one), then xfs_repair -n; mount only when it finds nothing.
    Never repair: xfs_repair has no safe automatic mode like e2fsck -p (it may move files
    to lost+found, and -L discards the log), so that is left to the admin."""
    if cfg.fsck != "force":
        return
    if blockdev.kernel_has_mounted(device):
        raise GenericError(f"{device.path} needs xfs_repair -n but is mounted elsewhere on "
                           "this node")
    directory = mount_point(cfg)
    ctx.log.info("replaying the XFS log of %s (read-only mount) before checking",
                 device.path)
    replay = ""
    try:
        mounting.mount(device.path, directory, "xfs", mounting.parse_options("ro"))
    except mounting.MountFailed as exc:
        replay = f"the log replay mount failed ({exc.reason.rpartition(': ')[2]}); "
    else:
        mounting.umount(directory)
    ctx.log.info("checking %s: xfs_repair -n", device.path)
    result = ctx.runner.run(["xfs_repair", "-n", device.path], ctx.deadline, check=False)
    if result.returncode or replay:
        lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()
                 if line.strip() and not line.startswith(("Phase", "        -"))]
        detail = f": {lines[-1]}" if lines and result.returncode else ""
        raise GenericError(f"{replay}xfs_repair -n on {device.path} exited "
                           f"{result.returncode}{detail}; not mounting, run xfs_repair by "
                           "hand")
