"""mount(2) and umount2(2) through ctypes, with a pure parser of mount options.

Why system calls rather than /usr/bin/mount and /usr/bin/umount: the error is an errno, not
a localised sentence to parse (EBUSY is exactly "busy", which stop acts on); stop retries
the unmount many times while holders exit, and a system call costs microseconds where a
fork+exec of umount(8) costs milliseconds of CPU (monitor/stop cost is benchmarked against
ocf:heartbeat:Filesystem); and hakit already resolves UUID=/LABEL= and checks the device
itself, which is most of what mount(8) adds.  What mount(8) does that is not wanted here:
/run/mount/utab bookkeeping for user-space options (none are passed to the kernel).
"""

from __future__ import annotations

import errno
import os
from types import MappingProxyType

from hakit import shown
from hakit.errors import GenericError
from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    import ctypes
    from collections.abc import Mapping

# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_SILENT = 32768
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
UMOUNT_NOFOLLOW = 8

#: mount(8)'s flag options: name -> (flag, set it?)
FLAG_OPTIONS: Mapping[str, tuple[int, bool]] = MappingProxyType({
    "ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True), "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False),
    "dirsync": (MS_DIRSYNC, True),
    "mand": (MS_MANDLOCK, True), "nomand": (MS_MANDLOCK, False),
    "noatime": (MS_NOATIME, True), "atime": (MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True), "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True), "nostrictatime": (MS_STRICTATIME, False),
    "lazytime": (MS_LAZYTIME, True), "nolazytime": (MS_LAZYTIME, False),
    "silent": (MS_SILENT, True), "loud": (MS_SILENT, False),
})
#: fstab words that mean something to mount(8) or systemd but nothing to the kernel.
USERSPACE_OPTIONS = frozenset({"defaults", "auto", "noauto", "nofail", "_netdev", "user",
                               "nouser", "users", "owner", "group", "comment"})
#: Options that change what mount(2) does; the agent only makes new mounts.
REFUSED_OPTIONS = frozenset({"remount", "bind", "rbind", "move", "loop", "offset",
                             "sizelimit", "encryption"})
_DATA_OPTION = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*(=[^,\s]*)?"


@frozen
class MountOptions:
    """Options split into mount(2)'s flags and the filesystem's data string."""

    flags: int
    data: str  # comma-separated, for the filesystem (ext4: errors=, data=, commit=...)

    @property
    def read_only(self) -> bool:
        return bool(self.flags & MS_RDONLY)


def parse_options(text: str) -> MountOptions:
    """Parse a comma-separated option list; ValueError names the bad option (pure)."""
    flags = 0
    data: list[str] = []
    for option in (o.strip() for o in text.split(",")):
        if not option:
            continue
        name = option.split("=", 1)[0]
        if name in REFUSED_OPTIONS:
            raise ValueError(f"must not contain '{name}' (the agent makes a plain mount)")
        if name in USERSPACE_OPTIONS or name.startswith("x-"):
            continue
        if option in FLAG_OPTIONS:
            flag, on = FLAG_OPTIONS[option]
            flags = flags | flag if on else flags & ~flag
            continue
        import re  # only options for the filesystem need it

        if not re.fullmatch(_DATA_OPTION, option):
            raise ValueError(f"has an option that cannot be parsed: {shown.value(option)}")
        data.append(option)
    return MountOptions(flags, ",".join(data))


def _libc() -> ctypes.CDLL:
    # Imported here, not at the top: ctypes costs ~3 ms of CPU that monitor never needs.
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _errno_text(code: int) -> str:
    return f"{errno.errorcode.get(code, str(code))}: {os.strerror(code)}"


class MountBusy(GenericError):
    """umount2 said EBUSY: something still uses the mount."""


class MountFailed(GenericError):
    """mount(2) failed; ``errno`` says why."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.errno = code


def mount(source: str, target: str, fstype: str, options: MountOptions) -> None:
    """mount(2); MountFailed with the errno's meaning on failure."""
    import ctypes

    libc = _libc()
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                           ctypes.c_ulong, ctypes.c_char_p]
    result = libc.mount(os.fsencode(source), os.fsencode(target), fstype.encode(),
                        options.flags, options.data.encode() if options.data else None)
    if result != 0:
        code = ctypes.get_errno()
        hint = {
            errno.EINVAL: " (bad option, wrong filesystem type or damaged superblock; "
                          "see the kernel log)",
            errno.EBUSY: " (device already in use)",
            errno.EUCLEAN: " (filesystem structure needs cleaning: run e2fsck)",
            errno.EROFS: " (device is read-only)",
            errno.EBADMSG: " (a metadata checksum does not match: run e2fsck)",
        }.get(code, "")
        raise MountFailed(f"mount {source} on {target} ({fstype}) failed: "
                          f"{_errno_text(code)}{hint}", code)


def umount(target: str) -> None:
    """umount2(2) without following symlinks; MountBusy on EBUSY, nothing if not mounted."""
    import ctypes

    libc = _libc()
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    if libc.umount2(os.fsencode(target), UMOUNT_NOFOLLOW) == 0:
        return
    code = ctypes.get_errno()
    if code == errno.EBUSY:
        raise MountBusy(f"{target} is busy")
    if code == errno.EINVAL:  # not a mount point (any more)
        return
    raise GenericError(f"unmount of {target} failed: {_errno_text(code)}")
