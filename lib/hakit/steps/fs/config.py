"""ocf:hakit:fs's parameters and its typed configuration record, ``FsConfig``.

The declarations live here rather than in the agent module because the container agent
declares some of the same parameters (``fsck``; ``options`` as ``mount_options``).
"""

from __future__ import annotations

from hakit.errors import ConfigError, ParamError
from hakit.lean import frozen
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
from hakit.os import blockdev, mounting

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import signal

    from hakit.os.blockdev import DeviceSpec
    from hakit.os.mounting import MountOptions


class DeviceSpecType(ParamType["DeviceSpec"]):
    """A device path, ``UUID=...`` or ``LABEL=...``."""

    def parse(self, raw: str) -> DeviceSpec:
        return blockdev.parse_spec(raw.strip())


class MountOptionsType(ParamType["MountOptions"]):
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


@frozen
class Unmount:
    """How stop frees a mount that stays busy (read by stop only: reloadable)."""

    force: str  # force_unmount: "safe" (this mount's holders), "true" (the filesystem's), "false"
    term_signals: tuple[signal.Signals, ...]  # sent first, each followed by ``delay``
    kill_signals: tuple[signal.Signals, ...]  # sent when the polite ones did not free it
    delay: float  # seconds to wait for holders to exit after each signal

    @property
    def signals(self) -> list[signal.Signals]:
        """The signals to send, in order: none when force_unmount=false."""
        return [*self.term_signals, *self.kill_signals] if self.force != "false" else []


@frozen
class FsConfig:
    """One ocf:hakit:fs instance's configuration, parsed and checked once."""

    device: DeviceSpec
    directory: str  # as configured (absolute, not /); ``mounted.mount_point`` resolves it
    fstype: str  # "ext4", "ext3", "ext2" or "xfs"
    options: MountOptions
    fsck: str  # "auto", "force" or "never"
    mmp: bool  # ext4 only (refused with xfs)
    create_directory: bool
    device_wait: float  # seconds start waits for the device, within its deadline
    unmount: Unmount


def from_values(values: Values) -> FsConfig:
    """The record of ``values``, with the checks across parameters (validate-all depth 0);
    raises ParamError or ConfigError naming the parameter."""
    if values[DIRECTORY] == "/":
        raise ParamError("directory", "must not be /")
    if values[MMP] and values[FSTYPE] == "xfs":
        raise ParamError("mmp", "is an ext4 feature: XFS has no multi-mount protection "
                                "(rely on fencing and the RBD exclusive lock)")
    if values[FORCE_UNMOUNT] != "false" and not (values[TERM_SIGNALS] or values[KILL_SIGNALS]):
        raise ConfigError("force_unmount needs at least one of term_signals, kill_signals")
    return FsConfig(
        device=values[DEVICE], directory=values[DIRECTORY], fstype=values[FSTYPE],
        options=values[OPTIONS], fsck=values[FSCK], mmp=values[MMP],
        create_directory=values[CREATE_DIRECTORY], device_wait=values[DEVICE_WAIT],
        unmount=Unmount(values[FORCE_UNMOUNT], values[TERM_SIGNALS], values[KILL_SIGNALS],
                        values[SIGNAL_DELAY]),
    )
