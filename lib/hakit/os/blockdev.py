"""Block devices: finding one by path, UUID= or LABEL=, and reading blocks from it directly.

Reads use ``O_DIRECT`` so they reach the device, not the page cache: a superblock another
node just wrote, or a device that stopped answering, is seen as it is.  Devices are
compared by ``st_rdev``, so ``/dev/hakit/POOL/IMAGE`` symlinks and ``/dev/loop0`` are the same.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat

from hakit import shown
from hakit.errors import ArgsError, GenericError
from hakit.formats.ext4sb import (
    SUPERBLOCK_OFFSET,
    SUPERBLOCK_SIZE,
    MmpBlock,
    Superblock,
    parse_mmp,
    parse_superblock,
)
from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.formats.xfssb import XfsSuperblock
    from hakit.os.runner import Runner

_ALIGN = 4096  # O_DIRECT needs buffers, offsets and sizes aligned to the logical block size


@frozen
class DeviceSpec:
    """The admin's ``device``: a path, or a filesystem UUID or label to look up."""

    kind: str  # "path", "UUID" or "LABEL"
    value: str

    def __str__(self) -> str:
        return self.value if self.kind == "path" else f"{self.kind}={self.value}"


def parse_spec(text: str) -> DeviceSpec:
    """``/dev/x``, ``UUID=...`` or ``LABEL=...``; ValueError otherwise (pure)."""
    for kind in ("UUID", "LABEL"):
        if text.startswith(kind + "="):
            value = text[len(kind) + 1:]
            if not value or "/" in value or "\0" in value or "\n" in value:
                raise ValueError(f"must have a non-empty {kind} without '/', "
                                 f"got {shown.value(text)}")
            if kind == "UUID":
                value = value.lower()
            return DeviceSpec(kind, value)
    if not text.startswith("/") or "\0" in text or "\n" in text:
        raise ValueError("must be an absolute device path, UUID=... or LABEL=..., "
                         f"got {shown.value(text)}")
    return DeviceSpec("path", text)


@frozen
class Device:
    """A block device found on this host."""

    path: str  # as given or found (may be a symlink)
    rdev: int  # st_rdev, what mountinfo's MAJ:MIN and st_dev of its files show

    @property
    def major(self) -> int:
        return os.major(self.rdev)

    @property
    def minor(self) -> int:
        return os.minor(self.rdev)

    @property
    def kernel_name(self) -> str:
        """The kernel's name (``loop0``, ``rbd0``): ``/sys/fs/ext4/<name>`` exists while mounted."""
        return kernel_name(self.major, self.minor)


def kernel_name(major: int, minor: int) -> str:
    """The kernel name of a block device number, from sysfs ('' when unknown)."""
    try:
        with open(f"/sys/dev/block/{major}:{minor}/uevent", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("DEVNAME="):
                    return line.strip().split("=", 1)[1]
    except OSError:
        pass
    return ""


def node_for(major: int, minor: int) -> Optional[str]:
    """A /dev path for a device number, or None."""
    name = kernel_name(major, minor)
    if name:
        path = f"/dev/{name}"
        try:
            if os.stat(path).st_rdev == os.makedev(major, minor):
                return path
        except OSError:
            pass
    return None


def stat_device(path: str) -> Optional[Device]:
    """The block device at ``path`` (symlinks followed); None when absent.

    ArgsError when the path exists but is not a block device.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ArgsError(f"parameter 'device': cannot stat {path}: {exc.strerror}") from exc
    if not stat.S_ISBLK(info.st_mode):
        raise ArgsError(f"parameter 'device': {path} is not a block device")
    return Device(path, info.st_rdev)


def _by_disk_link(spec: DeviceSpec) -> Optional[Device]:
    link = f"/dev/disk/by-{spec.kind.lower()}/{spec.value}"
    return stat_device(link) if os.path.lexists(link) else None


def parse_blkid_export(text: str) -> list[dict[str, str]]:
    """``blkid -o export`` output: one dict per device, blocks separated by blank lines."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _by_blkid(spec: DeviceSpec, runner: Runner, deadline: Deadline) -> Optional[Device]:
    # Without udev there is no /dev/disk; blkid probes devices itself.  "-c /dev/null"
    # skips its cache, which may name a device that has since gone.
    result = runner.run(["blkid", "-c", "/dev/null", "-o", "export", "-t",
                         f"{spec.kind}={spec.value}"], deadline, timeout=10, check=False)
    if result.returncode not in (0, 2):  # 2: nothing matched
        raise GenericError(f"blkid failed looking up {spec}: {result.stderr.strip()}")
    found = [b["DEVNAME"] for b in parse_blkid_export(result.stdout) if "DEVNAME" in b]
    if len(found) > 1:
        raise ArgsError(f"parameter 'device': {spec} matches several devices: "
                        f"{', '.join(sorted(found))}")
    return stat_device(found[0]) if found else None


def find(spec: DeviceSpec, runner: Runner, deadline: Deadline) -> Optional[Device]:
    """The device ``spec`` names now, or None when it is not (yet) there."""
    if spec.kind == "path":
        return stat_device(spec.value)
    return _by_disk_link(spec) or _by_blkid(spec, runner, deadline)


def wait_for(spec: DeviceSpec, runner: Runner, deadline: Deadline, seconds: float) -> Device:
    """The device, polling up to ``seconds`` (never past the deadline) for it to appear."""
    bounded = deadline.within(seconds)
    try:
        return bounded.poll(lambda: find(spec, runner, bounded), f"waiting for device {spec}",
                            interval=0.2)
    except GenericError as exc:
        if find(spec, runner, deadline) is None:
            raise ArgsError(f"parameter 'device': {spec} did not appear within "
                            f"{seconds:g}s") from exc
        raise


def read_direct(path: str, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset``, read with O_DIRECT (aligned internally)."""
    start = offset - offset % _ALIGN
    length = offset + size - start
    length += (-length) % _ALIGN
    buf = mmap.mmap(-1, length)  # page-aligned, as O_DIRECT requires
    try:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
        except OSError as exc:
            raise GenericError(f"cannot open {path}: {exc.strerror}") from exc
        try:
            got = os.preadv(fd, [buf], start)
        except OSError as exc:
            raise GenericError(f"cannot read {path}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        if got < offset - start + size:
            raise GenericError(f"short read from {path}: device smaller than {offset + size}")
        return bytes(buf[offset - start:offset - start + size])
    finally:
        buf.close()


def read_superblock(path: str) -> Superblock:
    """The ext superblock of ``path``, read from the device; GenericError when unreadable
    or corrupt."""
    raw = read_direct(path, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE)
    try:
        return parse_superblock(raw)
    except ValueError as exc:
        raise GenericError(f"{path} has no intact ext2/3/4 superblock: {exc}") from exc


def read_xfs_superblock(path: str) -> XfsSuperblock:
    """The XFS superblock of ``path``, read from the device; GenericError when unreadable
    or not XFS."""
    from hakit.formats import xfssb  # only XFS needs it

    raw = read_direct(path, 0, xfssb.SUPERBLOCK_SIZE)
    try:
        return xfssb.parse(raw)
    except ValueError as exc:
        raise GenericError(f"{path} has no intact XFS superblock: {exc}") from exc


def read_any_superblock(path: str) -> Superblock | XfsSuperblock:
    """The ext2/3/4 or XFS superblock of ``path`` (for its UUID, label and type)."""
    try:
        return read_superblock(path)
    except GenericError:
        return read_xfs_superblock(path)


def read_mmp(path: str, sb: Superblock) -> MmpBlock:
    """The MMP block of ``path`` (``sb`` must have the mmp feature)."""
    raw = read_direct(path, sb.mmp_block * sb.block_size, 1024)
    try:
        return parse_mmp(raw, sb.checksum_seed)
    except ValueError as exc:
        raise GenericError(f"{path}: corrupt MMP block {sb.mmp_block}: {exc}") from exc


def kernel_has_mounted(device: Device) -> bool:
    """Whether this kernel has an ext4 or XFS filesystem of ``device`` mounted, in any
    namespace.

    ext4 and XFS keep ``/sys/fs/{ext4,xfs}/<device>`` for every mounted superblock;
    mountinfo shows only this namespace's mounts.
    """
    name = device.kernel_name
    return bool(name) and (os.path.isdir(f"/sys/fs/ext4/{name}")
                           or os.path.isdir(f"/sys/fs/xfs/{name}"))


def open_exclusive_busy(path: str) -> bool:
    """Whether the device is held by something in the kernel (a mount, a mapping): EBUSY on
    an O_EXCL open."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return True
        raise GenericError(f"cannot open {path}: {exc.strerror}") from exc
    os.close(fd)
    return False
