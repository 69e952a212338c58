"""ocf:hakit:fs — check and mount an ext4 or XFS filesystem on a block device; stop always
unmounts.

start waits (bounded) for the device, reads its superblock directly, refuses a filesystem
another node holds (MMP, ext4), runs e2fsck when the superblock says it was not cleanly
unmounted or has errors (XFS: see ``_xfs_check``), and mounts with mount(2).  stop unmounts
submounts first; when the mount is busy it signals only the processes that really hold it
(found through /proc by mount id), TERM then KILL, within the action's deadline.
"""

from __future__ import annotations

import errno
import os
import time

from hakit.errors import (
    ActionTimeout,
    ArgsError,
    ConfigError,
    ExitCode,
    GenericError,
    NotInstalledError,
    NotRunningError,
    ParamError,
)
from hakit.formats.ext4sb import Superblock
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import (
    AbsolutePath,
    Boolean,
    Duration,
    ListOf,
    Param,
    ParamType,
    Select,
    Signal,
    Values,
)
from hakit.os import blockdev, mountinfo, mounting
from hakit.os.blockdev import Device, DeviceSpec
from hakit.os.mounting import MountOptions

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import signal
    from typing import Optional

#: The file monitor depth 20 writes, fsyncs and reads back, at the top of the mount.
STATUS_FILE = ".hakit-fs-status"


class DeviceSpecType(ParamType[DeviceSpec]):
    """A device path, ``UUID=...`` or ``LABEL=...``."""

    def parse(self, raw: str) -> DeviceSpec:
        return blockdev.parse_spec(raw.strip())


class MountOptionsType(ParamType[MountOptions]):
    """mount(8)-style comma-separated options."""

    def parse(self, raw: str) -> MountOptions:
        return mounting.parse_options(raw)

    def hint(self) -> str:
        return "Comma-separated, as in fstab (ro, noatime, errors=remount-ro, ...)."


DEVICE = Param("device", DeviceSpecType(), "Block device",
               "The block device holding the filesystem: a path such as /dev/hakit/POOL/IMAGE "
               "(symlinks are followed; devices are compared by device number), UUID=... or "
               "LABEL=... (looked up in /dev/disk/by-uuid or by-label, else with blkid).",
               required=True, unique_group="device")
DIRECTORY = Param("directory", AbsolutePath(), "Mount point",
                  "The directory to mount the filesystem on.", required=True,
                  unique_group="directory")
FSTYPE = Param("fstype", Select("ext4", "ext3", "ext2", "xfs"), "Filesystem type",
               "The filesystem type to mount as.", default="ext4")
OPTIONS = Param("options", MountOptionsType(), "Mount options",
                "Mount options. 'ro' mounts read-only (then monitor expects read-only); "
                "remount, bind and move are refused.", default="")
FSCK = Param("fsck", Select("auto", "force", "never"), "When to check the filesystem",
             "ext2/3/4 - auto: e2fsck -p before mounting when the superblock says the "
             "filesystem was not cleanly unmounted or has errors; force: always e2fsck -f -p; "
             "never: do not check. A check that leaves errors fails start; a damaged "
             "filesystem is never mounted. XFS - auto and never: mount, which replays the "
             "log after a crash (XFS has no check at mount time); force: replay the log with "
             "a read-only mount, then xfs_repair -n, and mount only when it finds nothing. "
             "XFS is never repaired automatically: run xfs_repair by hand.",
             default="auto", reloadable=True)
MMP = Param("mmp", Boolean(), "Require multi-mount protection",
            "ext4 only: require the mmp feature (tune2fs -O mmp) and refuse to mount a filesystem "
            "that another node, or another mount namespace on this node, has mounted.",
            default="false", reloadable=True)
FORCE_UNMOUNT = Param("force_unmount", Select("safe", "true", "false"),
                      "Signal processes that keep the mount busy",
                      "safe: signal only processes holding this very mount (open files, "
                      "cwd, root, memory mappings, matched by mount id through /proc); true: "
                      "also those holding the same filesystem through any other mount; "
                      "false: never signal, keep retrying the unmount until the timeout.",
                      default="safe", reloadable=True)
TERM_SIGNALS = Param("term_signals", ListOf(Signal()), "Polite signals",
                     "Signals sent first to processes holding the mount, each followed by "
                     "signal_delay.", default="TERM", reloadable=True)
KILL_SIGNALS = Param("kill_signals", ListOf(Signal()), "Forceful signals",
                     "Signals sent when the polite ones did not free the mount.",
                     default="KILL", reloadable=True)
SIGNAL_DELAY = Param("signal_delay", Duration(0.05, 60), "Wait after each signal",
                     "How long to wait for holders to exit after each signal.", default="1s",
                     reloadable=True)
CREATE_DIRECTORY = Param("create_directory", Boolean(), "Create the mount point",
                         "Create the directory (and parents, mode 0755) on start when it is "
                         "missing; otherwise a missing directory is an error.",
                         default="false", reloadable=True)
DEVICE_WAIT = Param("device_wait", Duration(0, 3600), "Wait for the device",
                    "How long start waits for the device to appear (never past the start "
                    "timeout).", default="10s", reloadable=True)

PARAMS: tuple[Param[object], ...] = (DEVICE, DIRECTORY, FSTYPE, OPTIONS, FSCK, MMP,
                                     FORCE_UNMOUNT, TERM_SIGNALS, KILL_SIGNALS, SIGNAL_DELAY,
                                     CREATE_DIRECTORY, DEVICE_WAIT)


# --- validation ---------------------------------------------------------------------------

def _validate(values: Values) -> None:
    if values[DIRECTORY] == "/":
        raise ParamError("directory", "must not be /")
    if values[MMP] and values[FSTYPE] == "xfs":
        raise ParamError("mmp", "is an ext4 feature: XFS has no multi-mount protection "
                                "(rely on fencing and the RBD exclusive lock)")
    if values[FORCE_UNMOUNT] != "false" and not (values[TERM_SIGNALS] or values[KILL_SIGNALS]):
        raise ConfigError("force_unmount needs at least one of term_signals, kill_signals")


def _fs_supported(fstype: str) -> bool:
    try:
        with open("/proc/filesystems", encoding="ascii") as handle:
            if fstype in (line.split()[-1] for line in handle if line.strip()):
                return True
    except OSError:
        pass
    # Not registered yet: mount(2) loads the module on demand if it is installed.
    module = "xfs" if fstype == "xfs" else "ext4"
    return os.path.isdir(f"/lib/modules/{os.uname().release}/kernel/fs/{module}")


def _check_environment(ctx: Context) -> None:
    directory = ctx.params[DIRECTORY]
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise ArgsError(f"parameter 'directory': {directory} exists but is not a directory")
    if not os.path.exists(directory) and not ctx.params[CREATE_DIRECTORY]:
        raise ArgsError(f"parameter 'directory': {directory} does not exist "
                        "(create it, or set create_directory=true)")
    spec = ctx.params[DEVICE]
    if spec.kind == "path":
        blockdev.stat_device(spec.value)  # ArgsError when it exists but is not a device
    if not _fs_supported(ctx.params[FSTYPE]):
        raise NotInstalledError(f"parameter 'fstype': this kernel does not support "
                                f"{ctx.params[FSTYPE]}")
    if ctx.params[FSTYPE] == "xfs":
        if ctx.params[FSCK] == "force":
            ctx.runner.require("xfs_repair")
    elif ctx.params[FSCK] != "never":
        ctx.runner.require("e2fsck")


# --- which mount is ours ------------------------------------------------------------------

def _matches_spec(spec: DeviceSpec, major: int, minor: int) -> Optional[bool]:
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


def _mount_point(ctx: Context) -> str:
    """``directory`` with symlinks resolved, as the kernel shows it in mountinfo."""
    return os.path.realpath(ctx.params[DIRECTORY])


def _our_mounts(ctx: Context,
                entries: list[mountinfo.MountEntry]) -> list[mountinfo.MountEntry]:
    """The mounts on ``directory`` that are this resource's, bottom first."""
    spec = ctx.params[DEVICE]
    ours = []
    for entry in mountinfo.mounted_at(entries, _mount_point(ctx)):
        same = _matches_spec(spec, entry.major, entry.minor)
        # When the device can no longer be identified (its node is gone), a mount of the
        # configured type on the directory is taken as ours, so stop still unmounts it.
        if same or (same is None and entry.fstype == ctx.params[FSTYPE]):
            ours.append(entry)
    return ours


# --- monitor ------------------------------------------------------------------------------

def _check_mount(ctx: Context) -> mountinfo.MountEntry:
    """Depth 0: the right device is mounted, visibly, on the directory, rw/ro as configured."""
    directory = _mount_point(ctx)
    spec = ctx.params[DEVICE]
    entries = mountinfo.read()
    here = mountinfo.mounted_at(entries, directory)
    if not here:
        raise NotRunningError(f"{directory} is not mounted")
    top = here[-1]
    same = _matches_spec(spec, top.major, top.minor)
    if same is None:
        raise GenericError(f"{directory} is mounted from {top.source} "
                           f"({top.major}:{top.minor}) but {spec} cannot be found to compare")
    if not same:
        if any(_matches_spec(spec, e.major, e.minor) for e in here[:-1]):
            raise GenericError(f"{spec} on {directory} is hidden by another mount of "
                               f"{top.source}")
        raise GenericError(f"{directory} has {top.source} ({top.major}:{top.minor}) "
                           f"mounted, not {spec}")
    if top.fstype != ctx.params[FSTYPE]:
        raise GenericError(f"{directory} is mounted as {top.fstype}, not {ctx.params[FSTYPE]}")
    want_ro = ctx.params[OPTIONS].read_only
    if top.read_only and not want_ro:
        raise GenericError(f"{directory} is mounted read-only (a filesystem error with "
                           "errors=remount-ro?)")
    if want_ro and not top.read_only:
        raise GenericError(f"{directory} is mounted read-write but configured 'ro'")
    return top


def _device_node(entry: mountinfo.MountEntry) -> str:
    node = blockdev.node_for(entry.major, entry.minor)
    if node is None:
        raise GenericError(f"no device node for {entry.major}:{entry.minor} mounted on "
                           f"{entry.mount_point}")
    return node


def _check_reads(entry: mountinfo.MountEntry) -> None:
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


def _check_writes(ctx: Context) -> None:
    """Depth 20: write a status file, fsync it, and read it back from the device."""
    path = os.path.join(_mount_point(ctx), STATUS_FILE)
    token = f"{ctx.instance} {time.time():.3f} {os.urandom(8).hex()}\n".encode()
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


def _monitor(ctx: Context) -> Optional[ExitCode]:
    entry = _check_mount(ctx)
    if ctx.check_level >= 10:
        _check_reads(entry)
    if ctx.check_level >= 20:
        if ctx.params[OPTIONS].read_only:
            ctx.log.debug("read-only mount: depth 20 write check skipped")
        else:
            _check_writes(ctx)
    return None


# --- start --------------------------------------------------------------------------------

def _refuse_if_mmp_busy(ctx: Context, device: Device, sb: Superblock) -> None:
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
        ctx.log.warning("MMP block of %s was last written by node %s and not marked clean "
                        "(mounted there, or it crashed); ext4 checks whether it is stale",
                        device.path, mmp.nodename)


def _mount(ctx: Context, device: Device, sb: Optional[Superblock]) -> None:
    """mount(2), explaining an MMP refusal by the node that holds the filesystem (``sb``
    is None for XFS)."""
    try:
        mounting.mount(device.path, _mount_point(ctx), ctx.params[FSTYPE],
                       ctx.params[OPTIONS])
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


#: e2fsck exit status bits (e2fsck(8)): 1 corrected, 2 corrected (reboot, root fs only).
_FSCK_LEFT_ERRORS = 4


def _fsck(ctx: Context, device: Device, sb: Superblock) -> None:
    policy = ctx.params[FSCK]
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


def _xfs_check(ctx: Context, device: Device) -> None:
    """XFS's check policy.  auto and never: nothing before the mount, which replays the log
    after a crash (fsck.xfs does nothing, by design).  force: replay the log with a
    read-only mount and unmount (xfs_repair -n ignores a dirty log and reports spurious
    damage; xfs_repair refuses one), then xfs_repair -n; mount only when it finds nothing.
    Never repair: xfs_repair has no safe automatic mode like e2fsck -p (it may move files
    to lost+found, and -L discards the log), so that is left to the admin."""
    if ctx.params[FSCK] != "force":
        return
    if blockdev.kernel_has_mounted(device):
        raise GenericError(f"{device.path} needs xfs_repair -n but is mounted elsewhere on "
                           "this node")
    directory = _mount_point(ctx)
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


def _superblock(ctx: Context, device: Device) -> Optional[Superblock]:
    """The ext superblock (None for XFS), refusing a filesystem of the other kind."""
    fstype = ctx.params[FSTYPE]
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


def _start(ctx: Context) -> Optional[ExitCode]:
    directory = _mount_point(ctx)
    spec = ctx.params[DEVICE]
    entries = mountinfo.read()
    here = mountinfo.mounted_at(entries, directory)
    if here and _our_mounts(ctx, here[-1:]):
        _check_mount(ctx)
        ctx.log.info("%s already mounted on %s", spec, directory)
        return None
    if here:
        raise GenericError(f"{directory} already has {here[-1].source} mounted on it")
    device = blockdev.wait_for(spec, ctx.runner, ctx.deadline, ctx.params[DEVICE_WAIT])
    elsewhere = [e.mount_point for e in entries if e.dev == (device.major, device.minor)]
    if elsewhere:
        raise GenericError(f"{device.path} is already mounted on {elsewhere[0]}")
    sb = _superblock(ctx, device)
    if ctx.params[MMP] and sb is not None:
        _refuse_if_mmp_busy(ctx, device, sb)
    elif blockdev.kernel_has_mounted(device):
        ctx.log.warning("%s is also mounted in another mount namespace of this node",
                        device.path)
    if not os.path.isdir(directory):
        if not ctx.params[CREATE_DIRECTORY]:
            raise ArgsError(f"parameter 'directory': {directory} does not exist")
        os.makedirs(directory, mode=0o755, exist_ok=True)
        directory = _mount_point(ctx)
    if sb is None:
        _xfs_check(ctx, device)
    else:
        _fsck(ctx, device, sb)
    ctx.log.info("mounting %s on %s", device.path, directory)
    _mount(ctx, device, sb)
    _check_mount(ctx)
    return None


# --- stop ---------------------------------------------------------------------------------

def _tree(ctx: Context) -> list[mountinfo.MountEntry]:
    """Our mounts on the directory and everything mounted below them, parents first."""
    entries = mountinfo.read()
    tree: list[mountinfo.MountEntry] = []
    for ours in _our_mounts(ctx, entries):
        if ours not in tree:
            tree.append(ours)
            tree.extend(e for e in mountinfo.descendants(entries, ours.mount_id)
                        if e not in tree)
    return tree


def _unmount_all(tree: list[mountinfo.MountEntry]) -> list[mountinfo.MountEntry]:
    """Unmount children before parents; return the mounts that were busy."""
    busy = []
    for entry in reversed(tree):
        try:
            mounting.umount(entry.mount_point)
        except mounting.MountBusy:
            busy.append(entry)
    return busy


def _signal_holders(ctx: Context, tree: list[mountinfo.MountEntry],
                    sig: signal.Signals) -> list[str]:
    """Send ``sig`` to every process holding a mount of ``tree``; describe them."""
    from hakit.os import holders  # only stop needs it

    mounts = [(os.makedev(e.major, e.minor), e.mount_id) for e in tree]
    # force_unmount=true also counts references through other mounts of our own
    # filesystem (tree[0]'s device), never of a submount's, which may be a bind of /.
    wider = [mounts[0][0]] if ctx.params[FORCE_UNMOUNT] == "true" else []
    protected = holders.protected_pids()
    named = []
    for holder in holders.find_holders(mounts, wider):
        if holder.pid in protected:
            ctx.log.error("not signalling %s: it is this agent or one of its callers", holder)
            continue
        if holders.start_time(holder.pid) != holder.start_time:
            continue  # it exited (and the PID may already be someone else's)
        named.append(str(holder))
        ctx.log.warning("sending %s to %s", sig.name, holder)
        try:
            os.kill(holder.pid, sig)
        except ProcessLookupError:
            pass
    return named


def _unmounted_within(ctx: Context, seconds: float) -> bool:
    """Retry the unmount for up to ``seconds`` while signalled holders exit."""
    def attempt() -> Optional[bool]:
        tree = _tree(ctx)
        if tree:
            _unmount_all(tree)
        return True if not _tree(ctx) else None
    try:
        return ctx.deadline.within(seconds).poll(attempt, "unmounting", interval=0.02,
                                                 max_interval=0.2)
    except ActionTimeout:
        return False


def _stop(ctx: Context) -> Optional[ExitCode]:
    directory = _mount_point(ctx)
    tree = _tree(ctx)
    if not tree:
        ctx.log.info("%s is not mounted", directory)
        return None
    ours = Device(tree[0].source, os.makedev(tree[0].major, tree[0].minor))
    force = ctx.params[FORCE_UNMOUNT]
    signals = [*ctx.params[TERM_SIGNALS], *ctx.params[KILL_SIGNALS]] if force != "false" else []
    last = signals[-1] if signals else None
    delay = ctx.params[SIGNAL_DELAY]
    held_by: list[str] = []
    while True:
        _unmount_all(tree)
        tree = _tree(ctx)
        if not tree:
            break
        if ctx.deadline.remaining() <= 0.2:
            if held_by:
                why = f", held by {'; '.join(held_by)}"
            elif force == "false":
                why = " (force_unmount=false)"
            else:
                why = (" and no process to signal holds it (the agent's caller, a loop "
                       "device or swap file on it, an NFS export?)")
            raise GenericError(f"cannot unmount {directory}: still busy{why}")
        # Escalate through the signals; once they are used up keep resending the last one
        # (a holder in uninterruptible I/O dies when the I/O ends) until the deadline,
        # then fail, so that Pacemaker escalates (fencing).
        sig = signals.pop(0) if signals else last
        found = _signal_holders(ctx, tree, sig) if sig is not None else []
        held_by = found or held_by
        if _unmounted_within(ctx, delay if found else min(delay, 0.5)):
            break
        tree = _tree(ctx)
    ctx.log.info("unmounted %s", directory)
    if blockdev.kernel_has_mounted(ours):
        # Another mount of the same filesystem (a bind mount, or a copy in another mount
        # namespace) keeps the device in use; the layer below (rbd unmap) will see it.
        ctx.log.warning("the filesystem of %s is still mounted elsewhere on this node",
                        ours.path)
    return None


def _reload(ctx: Context) -> Optional[ExitCode]:
    """reload-agent: the reloadable values (fsck, mmp, create_directory and device_wait for
    the next start; the unmount's signals and delay for the next stop) are read by the
    action that uses them, so the mount stays; check this host for them now (e2fsck
    installed for fsck, the mount point), as start would."""
    _check_environment(ctx)
    return None


def _touches_device(action: str, check_level: int) -> bool:
    """Everything but the depth-0 monitor (the mount table only) does I/O on the device."""
    return action != "monitor" or check_level >= 10


AGENT = Agent(
    name="fs",
    version="0.1.0",
    shortdesc="ext4 or XFS filesystem on a block device",
    longdesc="Checks (e2fsck per the superblock; XFS: see fsck) and mounts an ext4 or XFS "
             "filesystem on a block device, refusing an ext4 one another node holds when mmp "
             "is set. Monitor depth 0 "
             "checks the mount table, 10 reads from the device, 20 writes, fsyncs and reads "
             "back a status file (" + STATUS_FILE + "). Stop always unmounts, signalling "
             "only the processes that really hold the mount.",
    params=PARAMS,
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=20),
        Action("monitor", 30, interval=60, depth=10),
        Action("monitor", 40, interval=120, depth=20),
    ),
    start=_start,
    stop=_stop,
    monitor=_monitor,
    validate=_validate,
    check_environment=_check_environment,
    reload_agent=_reload,
    exclusive=True,
    device_io=_touches_device,
)
