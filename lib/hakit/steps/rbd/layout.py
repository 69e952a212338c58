"""Where a mapping shows, and what it leaves on this node.

Whatever the device type, the device is exposed as ``/dev/hakit/POOL[/NAMESPACE]/IMAGE``, a
symlink the fs agent mounts.  Per-image state (the lock-holding client's address; the fuse
path's pidfile and mount point) lives in ``/run/hakit/rbd/KEY/``.  Also the read that
proves a device answers, and the check that no filesystem still holds one being unmapped.
"""

from __future__ import annotations

import os

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError
from hakit.lean import frozen
from hakit.os import mountinfo
from hakit.os.ceph import ImageSpec

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context

#: How much of a device monitor reads to prove it answers.
PROBE_BYTES = 4096


@frozen
class Layout:
    """Where the stable device links and the runtime state live (tests use temporary ones).

    Paths are strings (``os.path``): ``pathlib`` would bring ``re``, ``fnmatch`` and
    ``urllib`` onto every monitor (start-up cost: docs/developing.md)."""

    dev_root: str = "/dev/hakit"
    run_root: str = "/run/hakit/rbd"
    sys_block: str = "/sys/block"
    mountinfo: str = "/proc/self/mountinfo"
    # systemd-udevd (and eudev) listen here while they run.
    udev_control: str = "/run/udev/control"
    # One directory per krbd mapping (Documentation/ABI/testing/sysfs-bus-rbd).
    sys_rbd: str = "/sys/bus/rbd/devices"

    def link(self, spec: ImageSpec) -> str:
        """``/dev/hakit/POOL/IMAGE`` or ``/dev/hakit/POOL/NAMESPACE/IMAGE``."""
        parts = [spec.pool, spec.namespace, spec.image]
        return os.path.join(self.dev_root, *[p for p in parts if p])

    def state(self, spec: ImageSpec) -> str:
        # '@' cannot occur in pool, namespace or image names, so the key is unambiguous.
        return os.path.join(self.run_root, "@".join([spec.pool, spec.namespace, spec.image]))


def read_text(path: str) -> str:
    """The whole text of a small file (state, sysfs and procfs files); OSError as raised."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def remove(path: str) -> None:
    """Remove a file; one already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@frozen
class Mapped:
    """A mapping found on this node."""

    device: str  # /dev/rbd0, /dev/nbd0, /dev/loop3
    pid: Optional[int] = None  # rbd-fuse's PID on the fuse path


def readable(path: str, deadline: Deadline) -> None:
    """Read the first block of ``path`` from the device itself; GenericError when it cannot.

    O_DIRECT, so the answer comes from the device and not from the page cache (a krbd
    client that was blocklisted still has its first block cached).  A read that hangs in
    the kernel is bounded by the action's guard (hakit.ocf.guard), not here: no thread can
    bound it, since a thread stuck in the kernel keeps the whole process from exiting.
    """
    import mmap

    deadline.check(f"reading {path}")
    try:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECT)
        except OSError:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # no O_DIRECT here
        try:
            buf = mmap.mmap(-1, PROBE_BYTES)  # page-aligned, as O_DIRECT needs
            try:
                os.preadv(fd, [buf], 0)
            finally:
                buf.close()
        finally:
            os.close(fd)
    except OSError as exc:
        raise GenericError(f"device {path} is not readable: {exc.strerror}") from exc


def expose(layout: Layout, spec: ImageSpec, device: str) -> str:
    """Point the stable link at ``device`` (atomically replacing any old link)."""
    link = layout.link(spec)
    directory, name = os.path.split(link)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.tmp{os.getpid()}")
    remove(tmp)
    os.symlink(device, tmp)
    os.replace(tmp, link)
    return link


def unexpose(layout: Layout, spec: ImageSpec) -> None:
    link = layout.link(spec)
    remove(link)
    # Drop now-empty parents up to (not including) /dev/hakit.
    root = os.path.normpath(layout.dev_root)
    parent = os.path.dirname(link)
    while parent != root and parent.startswith(root + os.sep):
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)


def linked_device(layout: Layout, spec: ImageSpec) -> Optional[str]:
    try:
        return os.readlink(layout.link(spec))
    except OSError:
        return None


def save_client(layout: Layout, spec: ImageSpec, address: str) -> None:
    """Remember the address of the client that holds the lock for this mapping."""
    state = layout.state(spec)
    os.makedirs(state, exist_ok=True)
    write_text(os.path.join(state, "client"), address + "\n")


def saved_client(layout: Layout, spec: ImageSpec) -> Optional[str]:
    try:
        return read_text(os.path.join(layout.state(spec), "client")).strip() or None
    except OSError:
        return None


def flush_mounts_or_refuse(ctx: Context, spec: ImageSpec, device: str) -> None:
    """Before an unmap is forced: make sure no filesystem on ``device`` loses data.

    A filesystem still holding the device (the kernel's exclusive claim tells a mount from
    a mere opener; opening is no I/O) is usually a copy of the mount in another mount
    namespace, made while it was mounted here: our umount left it alive with data not yet
    written.  Each copy is synced (``sync -f`` through ``/proc/PID/root``, within the
    deadline) so everything written until now is on the image; forcing then drops only
    what comes later, which no fsync will acknowledge.  GenericError, leaving the mapping
    alone, when it is held but cannot be synced.
    """
    from hakit.os import blockdev  # only a stuck unmap asks

    try:
        if not blockdev.open_exclusive_busy(device):
            return
        dev = os.stat(device).st_rdev
    except (GenericError, OSError):
        return  # gone meanwhile
    where = mountinfo.mounts_in_any_namespace((os.major(dev), os.minor(dev)))
    shown = "; ".join(f"{mnt} (mount namespace of pid {pid} {comm})"
                      for pid, comm, mnt in where[:3])
    if not where:
        raise GenericError(f"cannot unmap {spec}: {device} is held by something in the "
                           "kernel that is not a mount (a stacked device?)")
    for pid, _comm, mnt in where:
        try:
            done = ctx.runner.run(["sync", "-f", f"/proc/{pid}/root{mnt}"], ctx.deadline,
                                  timeout=max(1.0, ctx.deadline.remaining() / 2),
                                  check=False)
            why = done.stderr.strip() or f"exit status {done.returncode}"
            synced = done.ok
        except ActionTimeout:
            why, synced = "timed out", False
        if not synced and os.path.exists(f"/proc/{pid}"):
            raise GenericError(f"cannot unmap {spec}: a filesystem on {device} is still "
                               f"mounted at {shown} and could not be synced ({why}): "
                               "forcing the unmap would lose its unwritten data")
    ctx.log.warning("a filesystem on %s is still mounted at %s: synced it, forcing the "
                    "unmap (what it writes from now on is lost)", device, shown)
