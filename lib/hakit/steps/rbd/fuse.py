"""rbd-fuse + loop: the image as a file of an ``rbd-fuse`` mount (a daemon tracked by a
pidfile in the image's state directory), attached to a loop device with ``losetup``.
"""

from __future__ import annotations

import os

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError
from hakit.ocf.agent import Context
from hakit.os import mountinfo
from hakit.os.ceph import Access, ImageSpec
from hakit.steps.rbd.layout import (
    Layout,
    Mapped,
    flush_mounts_or_refuse,
    read_text,
    remove,
    write_text,
)

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional


def mounted_at(text: str, path: str) -> Optional[str]:
    """The filesystem type mounted at ``path`` per ``/proc/self/mountinfo``, or None."""
    found = mountinfo.mounted_at(mountinfo.parse_known(text), path)
    return found[0].fstype if found else None


# ----- small host helpers ---------------------------------------------------------------
def read_pid(pidfile: str) -> Optional[int]:
    try:
        text = read_text(pidfile).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def process_is(pid: int, comm: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and runs the program named ``comm``."""
    try:
        stat = read_text(f"/proc/{pid}/stat")
    except OSError:
        return False
    name, _, rest = stat.partition("(")[2].rpartition(")")
    return name[:15] == comm[:15] and not rest.strip().startswith(("Z", "X"))


def loop_devices_for(layout: Layout, backing: str) -> list[str]:
    """Loop devices whose backing file is ``backing`` (from sysfs, no subprocess)."""
    found: list[str] = []
    try:
        entries = sorted(os.listdir(layout.sys_block))
    except OSError:
        return found
    for entry in entries:
        if not entry.startswith("loop"):
            continue
        try:
            text = read_text(os.path.join(layout.sys_block, entry, "loop", "backing_file"))
        except OSError:
            continue
        if text.strip() == backing:
            found.append(f"/dev/{entry}")
    return found


#: ioctl returning ``struct loop_info64``, whose first field is the backing file's st_dev.
LOOP_GET_STATUS64 = 0x4C05
LOOP_INFO64_SIZE = 232


def loop_backing_dev(device: str) -> Optional[tuple[int, int]]:
    """(major, minor) of the filesystem holding ``device``'s backing file, or None."""
    import fcntl  # only the fuse path asks
    import struct

    try:
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = fcntl.ioctl(fd, LOOP_GET_STATUS64, bytes(LOOP_INFO64_SIZE))
    except OSError:
        return None
    finally:
        os.close(fd)
    dev = int(struct.unpack_from("=Q", info, 0)[0])
    return os.major(dev), os.minor(dev)


def mount_dev(text: str, path: str) -> Optional[tuple[int, int]]:
    """(major, minor) of the filesystem mounted at ``path`` per mountinfo, or None."""
    found = mountinfo.mounted_at(mountinfo.parse_known(text), path)
    return found[0].dev if found else None


# ----- rbd-fuse + loop ------------------------------------------------------------------
#: librbd's cache off for rbd-fuse's client, whatever ceph.conf says.  With it on (Ceph's
#: default, ``rbd_cache_policy=writearound``) librbd acknowledges a write before an OSD has
#: it and reports a failure only at the next flush; rbd-fuse's fsync calls ``rbd_flush()``
#: and returns 0 whatever it returned.  A write an OSD then refused (the client
#: blocklisted by a fence) was acknowledged all the same: ext4's fsync over the loop device
#: returned 0 for data that is not on the image.  Without the cache every write returns
#: only once the OSD has it, or fails (EIO through the loop device).
FUSE_CLIENT_OPTIONS = ("--rbd_cache=false",)


class FuseMapper:
    """``rbd-fuse`` (a daemon with a pidfile) exposing the image as a file, plus ``losetup``."""

    def __init__(self, ctx: Context, layout: Layout, access: Access) -> None:
        self._ctx = ctx
        self._layout = layout
        self._access = access

    def _paths(self, spec: ImageSpec) -> tuple[str, str, str]:
        state = self._layout.state(spec)
        mnt = os.path.join(state, "mnt")
        return os.path.join(state, "rbd-fuse.pid"), mnt, os.path.join(mnt, spec.image)

    def _mounted(self, mnt: str) -> bool:
        try:
            text = read_text(self._layout.mountinfo)
        except OSError:
            return False
        return mounted_at(text, mnt) is not None

    def _own_loops(self, mnt: str, image_file: str) -> list[str]:
        """Loop devices over this mount namespace's rbd-fuse file for the image.

        The path alone is not enough: loop devices belong to the whole kernel, and another
        mount namespace (a container host, or another node of the lab, which shares this
        kernel) can have its own rbd-fuse mount at the same path.  A loop device is this
        node's only when its back file lives on the filesystem mounted here at ``mnt``
        (still listed after rbd-fuse died, until unmounted).
        """
        loops = loop_devices_for(self._layout, image_file)
        if not loops:
            return loops
        recorded = self._recorded_loop(image_file)
        if recorded is not None:
            # No ioctl: LOOP_GET_STATUS64 asks the backing file's filesystem, so on a loop
            # device over another namespace's rbd-fuse whose daemon is frozen (a hung lab
            # node, fenced through Ceph rather than powered off) it blocks for good.
            return [recorded] if recorded in loops else []
        try:
            here = mount_dev(read_text(self._layout.mountinfo), mnt)
        except OSError:
            return loops
        if here is None:
            return []
        return [loop for loop in loops if loop_backing_dev(loop) in (here, None)]

    @staticmethod
    def _loop_record(image_file: str) -> str:
        """Where ``map`` notes the loop device it attached (the node's private /run)."""
        return os.path.join(os.path.dirname(os.path.dirname(image_file)), "loop")

    def _recorded_loop(self, image_file: str) -> Optional[str]:
        try:
            text = read_text(self._loop_record(image_file)).strip()
        except OSError:
            return None
        return text if text.startswith("/dev/loop") else None

    def find(self, spec: ImageSpec) -> Optional[Mapped]:
        """The loop device over this image's rbd-fuse file; GenericError when half there."""
        pidfile, mnt, image_file = self._paths(spec)
        pid = read_pid(pidfile)
        loops = self._own_loops(mnt, image_file)
        if pid is None and not loops:
            return None
        if pid is None or not process_is(pid, "rbd-fuse"):
            raise GenericError(f"rbd-fuse for {spec} (pid {pid}) is no longer running")
        if not self._mounted(mnt):
            raise GenericError(f"rbd-fuse for {spec} (pid {pid}) is not mounted at {mnt}")
        if not loops:
            raise GenericError(f"no loop device is attached to {image_file}")
        return Mapped(loops[0], pid)

    def map(self, spec: ImageSpec, *, read_only: bool) -> Mapped:
        ctx = self._ctx
        pidfile, mnt, image_file = self._paths(spec)
        os.makedirs(mnt, exist_ok=True)
        argv = ["rbd-fuse", "-f", "-p", spec.pool]
        if spec.namespace:
            argv += ["-s", spec.namespace]
        argv += ["-r", spec.image, mnt]
        # Credentials as file paths in CEPH_ARGS: nothing secret on the command line, and
        # unknown argv options would be handed to libfuse.
        ceph_args = [*self._access.cli_args(), *FUSE_CLIENT_OPTIONS]
        pid = ctx.runner.spawn(argv, env={"CEPH_ARGS": " ".join(ceph_args)},
                               output=_log_file(pidfile))
        write_text(pidfile, f"{pid}\n")

        def ready() -> Optional[bool]:
            if not process_is(pid, "rbd-fuse"):
                raise GenericError(f"rbd-fuse exited while mapping {spec}: "
                                   f"{self._log_tail(pidfile)}")
            return True if self._mounted(mnt) and os.path.exists(image_file) else None

        ctx.deadline.poll(ready, f"waiting for rbd-fuse to mount {spec}", interval=0.05)
        if not read_only:
            claim_lock(image_file)
        argv = ["losetup", "--find", "--show"]
        if read_only:
            argv.append("--read-only")
        device = ctx.runner.run([*argv, image_file], ctx.deadline).stdout.strip()
        if not device.startswith("/dev/"):
            raise GenericError(f"losetup printed no device for {image_file}: {device!r}")
        write_text(self._loop_record(image_file), f"{device}\n")
        return Mapped(device, pid)

    def unmap(self, spec: ImageSpec) -> None:
        """Detach the loop device, unmount, and stop rbd-fuse by its PID; escalate when busy."""
        ctx = self._ctx
        pidfile, mnt, image_file = self._paths(spec)
        self._detach(spec, self._own_loops(mnt, image_file), image_file)
        pid = read_pid(pidfile)
        if self._mounted(mnt):
            done = ctx.runner.run(["umount", mnt], ctx.deadline, timeout=10, check=False)
            if not done.ok:
                # Still open (a filesystem on the loop device): stopping rbd-fuse aborts
                # the fuse connection, then a lazy unmount detaches the mount point.
                ctx.log.warning("%s is busy (%s); stopping rbd-fuse to force the unmap",
                                mnt, done.stderr.strip())
                if pid is not None:
                    self._stop_pid(pid, ctx.deadline.within(ctx.deadline.remaining() / 3))
                ctx.runner.run(["umount", "-l", mnt], ctx.deadline, check=False)
        if pid is not None:
            # After a clean unmount rbd-fuse closes the image, which flushes librbd's cache
            # to the OSDs: killing it then loses acknowledged writes. So it gets half the
            # time left to exit by itself (seconds on a loaded host), and a signal only
            # when it still has not.
            self._stop_pid(pid, ctx.deadline, patient=True)
        state = os.path.dirname(pidfile)
        for name in ("rbd-fuse.pid", "rbd-fuse.log", "client", "loop"):
            remove(os.path.join(state, name))
        for directory in (mnt, state):
            try:
                os.rmdir(directory)
            except OSError:
                pass  # not empty: something else lives there; left alone

    def _detach(self, spec: ImageSpec, loops: list[str], backing: str) -> None:
        """Detach ``loops`` and wait until the kernel really has: up to half the time left.

        On a busy loop device the kernel only marks the detach and does it at the last
        close.  A short opener (udev's blkid after an umount) lets go in a moment, but a
        filesystem still mounted on the device does not: typically a copy of the mount in
        another mount namespace made while it was mounted here (``unshare --mount``, a
        daemon's private namespace), which our umount does not remove.  Its dirty data
        goes to the loop device only later, so stopping rbd-fuse then lost writes ext4 had
        acknowledged; now the copy is synced first, or stop fails with rbd-fuse running.
        """
        if not loops:
            return
        ctx = self._ctx
        for loop in loops:
            ctx.runner.run(["losetup", "--detach", loop], ctx.deadline, check=False)

        def attached() -> list[str]:
            return [loop for loop in loops
                    if loop in loop_devices_for(self._layout, backing)]

        def detached() -> Optional[bool]:
            return None if attached() else True

        try:
            ctx.deadline.within(ctx.deadline.remaining() / 2).poll(
                detached, f"waiting for the kernel to detach {', '.join(loops)}",
                interval=0.05)
            return
        except ActionTimeout:
            pass  # still attached: a filesystem holds it (below)
        pid = read_pid(self._paths(spec)[0])
        if pid is None or not process_is(pid, "rbd-fuse"):
            return  # nothing left to write through: unmap escalates
        for loop in attached():
            flush_mounts_or_refuse(ctx, spec, loop)  # a reader alone: unmap escalates

    @staticmethod
    def _stop_pid(pid: int, deadline: Deadline, patient: bool = False) -> None:
        """Wait for rbd-fuse to exit by itself (it does after an unmount): up to half the
        time left, and no more than 2 s unless ``patient``; then TERM, then KILL."""

        def gone() -> Optional[bool]:
            return None if process_is(pid, "rbd-fuse") else True

        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            wait = max(0.5, deadline.remaining() / 2)
            try:
                deadline.within(wait if patient else min(2.0, wait)).poll(
                    gone, "waiting for rbd-fuse to exit", interval=0.02)
                return
            except ActionTimeout:
                pass  # still there: the next signal
            patient = False
            try:
                if process_is(pid, "rbd-fuse"):
                    os.kill(pid, sig)
            except ProcessLookupError:
                pass  # it exited meanwhile
        try:
            deadline.within(2.0).poll(gone, "waiting for rbd-fuse to die", interval=0.02)
        except ActionTimeout:
            pass  # it outlived SIGKILL (stuck in the kernel): nothing more to send

    @staticmethod
    def _log_tail(pidfile: str) -> str:
        try:
            lines = read_text(_log_file(pidfile)).strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1] if lines else "no output"


def _log_file(pidfile: str) -> str:
    return os.path.join(os.path.dirname(pidfile), "rbd-fuse.log")


def claim_lock(image_file: str) -> None:
    """Make rbd-fuse's client take the image's exclusive lock now, not at the first write.

    librbd acquires the lock on a client's first write, so rewriting the first sector with
    its own contents makes this mapping the owner at once: the agent can then record and
    check the owner, and a stale holder cannot slip in before the first real write.
    """
    fd = os.open(image_file, os.O_RDWR | os.O_CLOEXEC)
    try:
        head = os.pread(fd, 512, 0)
        os.pwrite(fd, head, 0)
        os.fsync(fd)
    except OSError as exc:
        raise GenericError(f"cannot write to {image_file} to take the lock: "
                           f"{exc.strerror}") from exc
    finally:
        os.close(fd)
