"""Mapping an RBD image to a block device on this node: krbd, nbd or rbd-fuse + loop.

Nothing here talks to librados: krbd and nbd go through ``rbd device map/unmap/list``,
the fuse path runs ``rbd-fuse`` (a daemon tracked by a pidfile) and ``losetup``.  Whatever
the device type, the device is exposed as ``/dev/hakit/POOL[/NAMESPACE]/IMAGE``, a symlink
the fs agent mounts.  Per-image state (the pidfile, the fuse mount point, the lock-holding
client's address) lives in ``/run/hakit/rbd/KEY/``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, GenericError
from hakit.lean import frozen
from hakit.ocf.agent import Context
from hakit.os import mountinfo
from hakit.os.ceph import Access, ImageSpec
from hakit.os.runner import CommandFailed

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

#: How much of a device monitor reads to prove it answers.
PROBE_BYTES = 4096


@frozen
class Layout:
    """Where the stable device links and the runtime state live (tests use temporary ones)."""

    dev_root: Path = Path("/dev/hakit")
    run_root: Path = Path("/run/hakit/rbd")
    sys_block: Path = Path("/sys/block")
    mountinfo: Path = Path("/proc/self/mountinfo")
    # systemd-udevd (and eudev) listen here while they run.
    udev_control: Path = Path("/run/udev/control")
    # One directory per krbd mapping (Documentation/ABI/testing/sysfs-bus-rbd).
    sys_rbd: Path = Path("/sys/bus/rbd/devices")

    def link(self, spec: ImageSpec) -> Path:
        """``/dev/hakit/POOL/IMAGE`` or ``/dev/hakit/POOL/NAMESPACE/IMAGE``."""
        parts = [spec.pool, spec.namespace, spec.image]
        return self.dev_root.joinpath(*[p for p in parts if p])

    def state(self, spec: ImageSpec) -> Path:
        # '@' cannot occur in pool, namespace or image names, so the key is unambiguous.
        return self.run_root / "@".join([spec.pool, spec.namespace, spec.image])


@frozen
class Mapped:
    """A mapping found on this node."""

    device: str  # /dev/rbd0, /dev/nbd0, /dev/loop3
    pid: Optional[int] = None  # rbd-fuse's PID on the fuse path


# ----- pure parsers ---------------------------------------------------------------------
def parse_device_list(text: str) -> list[dict[str, str]]:
    """Entries of ``rbd device list --format json`` (krbd and nbd), with string values.

    ``snap`` is "-" for the image head with krbd, "" with nbd; ``namespace`` may be missing.
    """
    text = text.strip()
    if not text:
        return []
    try:
        import json

        doc = json.loads(text)
    except ValueError as exc:
        raise GenericError(f"cannot parse 'rbd device list' output: {exc}") from exc
    if not isinstance(doc, list):
        raise GenericError("cannot parse 'rbd device list' output: not a list")
    return [{str(k): str(v) for k, v in item.items()} for item in doc if isinstance(item, dict)]


def find_device(entries: list[dict[str, str]], spec: ImageSpec) -> Optional[str]:
    """The device mapping ``spec`` (same pool, namespace, image and snapshot), if any."""
    for entry in entries:
        snap = entry.get("snap", "-")
        # krbd's list says "name", rbd-nbd's says "image".
        if (entry.get("pool") == spec.pool and entry.get("namespace", "") == spec.namespace
                and entry.get("name", entry.get("image")) == spec.image
                and (snap in ("-", "") if spec.snap is None else snap == spec.snap)):
            return entry.get("device") or None
    return None


def krbd_devices(sys_rbd: Path) -> list[dict[str, str]]:
    """krbd's mappings from sysfs, as ``rbd device list`` entries (none without the module)."""
    entries = []
    try:
        ids = sorted(os.listdir(sys_rbd))
    except OSError:
        return []
    for dev_id in ids:
        values = {}
        for name in ("pool", "pool_ns", "name", "current_snap"):
            try:
                values[name] = (sys_rbd / dev_id / name).read_text().strip()
            except OSError:
                values[name] = ""  # pool_ns: kernels before 4.19; a mapping going away
        if dev_id.isdigit() and values["pool"] and values["name"]:
            entries.append({"pool": values["pool"], "namespace": values["pool_ns"],
                            "name": values["name"], "snap": values["current_snap"] or "-",
                            "device": f"/dev/rbd{dev_id}"})
    return entries


def mounted_at(text: str, path: str) -> Optional[str]:
    """The filesystem type mounted at ``path`` per ``/proc/self/mountinfo``, or None."""
    found = mountinfo.mounted_at(mountinfo.parse_known(text), path)
    return found[0].fstype if found else None


#: krbd's ms_mode values (rbd-map(8)); "auto" lets the agent choose from the monitor map.
MS_MODES = ("legacy", "crc", "secure", "prefer-crc", "prefer-secure")


def option_names(options: Optional[str]) -> set[str]:
    """The option names in a ``-o`` list ("a=1,noudev" -> {"a", "noudev"})."""
    return {o.split("=", 1)[0] for o in (options or "").split(",") if o}


def kernel_map_options(device_type: str, user: Optional[str], *, ms_mode: Optional[str],
                       udev: bool) -> Optional[str]:
    """The ``rbd device map -o`` list: the admin's options, plus what this host and this
    cluster need that the admin did not set.

    - ``ms_mode`` (krbd only; rbd-nbd is librbd, which negotiates msgr2 itself): a cluster
      whose monitors speak only msgr2 cannot be reached by krbd without it ("failed to get
      mon address (possible ms_mode mismatch)");
    - ``noudev`` (krbd) when no udev daemon runs (minimal hosts, containers): rbd would
      otherwise wait for a udev event that never comes, until its own timeout.
    """
    options = [o for o in (user or "").split(",") if o]
    names = option_names(user)
    if device_type == "krbd" and ms_mode and ms_mode != "legacy" and "ms_mode" not in names:
        options.append(f"ms_mode={ms_mode}")
    if device_type == "krbd" and not udev and "noudev" not in names and "udev" not in names:
        options.append("noudev")  # (rbd-nbd does not wait for udev, nor take the option)
    return ",".join(options) or None


def udev_running(control: Path) -> bool:
    """Whether a udev daemon listens on its control socket."""
    import stat  # only krbd/nbd map and unmap ask

    try:
        return stat.S_ISSOCK(os.stat(control).st_mode)
    except OSError:
        return False


def mounts_of_device(text: str, device: str) -> list[str]:
    """Mount points (per mountinfo ``text``) of the filesystem on block device ``device``."""
    try:
        rdev = os.stat(device).st_rdev
    except OSError:
        return []
    dev = (os.major(rdev), os.minor(rdev))
    return [e.mount_point for e in mountinfo.parse_known(text) if e.dev == dev]


# ----- small host helpers ---------------------------------------------------------------
def read_pid(pidfile: Path) -> Optional[int]:
    try:
        text = pidfile.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def process_is(pid: int, comm: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and runs the program named ``comm``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat.partition("(")[2].rpartition(")")
    return name[:15] == comm[:15] and not rest.strip().startswith(("Z", "X"))


def loop_devices_for(layout: Layout, backing: str) -> list[str]:
    """Loop devices whose backing file is ``backing`` (from sysfs, no subprocess)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(layout.sys_block)):
            if not entry.startswith("loop"):
                continue
            with contextlib.suppress(OSError):
                text = (layout.sys_block / entry / "loop" / "backing_file").read_text()
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


def expose(layout: Layout, spec: ImageSpec, device: str) -> Path:
    """Point the stable link at ``device`` (atomically replacing any old link)."""
    link = layout.link(spec)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(device)
    os.replace(tmp, link)
    return link


def unexpose(layout: Layout, spec: ImageSpec) -> None:
    link = layout.link(spec)
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    # Drop now-empty parents up to (not including) /dev/hakit.
    parent = link.parent
    while parent != layout.dev_root and layout.dev_root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def linked_device(layout: Layout, spec: ImageSpec) -> Optional[str]:
    try:
        return os.readlink(layout.link(spec))
    except OSError:
        return None


def save_client(layout: Layout, spec: ImageSpec, address: str) -> None:
    """Remember the address of the client that holds the lock for this mapping."""
    state = layout.state(spec)
    state.mkdir(parents=True, exist_ok=True)
    (state / "client").write_text(address + "\n")


def saved_client(layout: Layout, spec: ImageSpec) -> Optional[str]:
    try:
        return (layout.state(spec) / "client").read_text().strip() or None
    except OSError:
        return None


# ----- krbd and nbd ---------------------------------------------------------------------
class KernelMapper:
    """``rbd device map/unmap/list -t krbd|nbd``."""

    def __init__(self, ctx: Context, layout: Layout, device_type: str, access: Access) -> None:
        self._ctx = ctx
        self._layout = layout
        self._type = device_type
        self._access = access

    def find(self, spec: ImageSpec) -> Optional[Mapped]:
        if self._type == "krbd":
            # The kernel's own list, which `rbd device list` reads too: no process to start
            # on every monitor (the rbd CLI costs more than the rest of a monitor).
            device = find_device(krbd_devices(self._layout.sys_rbd), spec)
            return Mapped(device) if device else None
        result = self._ctx.runner.run(
            ["rbd", "device", "list", "-t", self._type, "--format", "json"],
            self._ctx.deadline, timeout=30)
        device = find_device(parse_device_list(result.stdout), spec)
        return Mapped(device) if device else None

    def map(self, spec: ImageSpec, *, read_only: bool, options: Optional[str],
            ms_mode: Optional[str] = None, exclusive: bool = True) -> Mapped:
        """Map ``spec`` (``ms_mode``: krbd's messenger mode, None for the default;
        ``exclusive`` False for an image without the exclusive-lock feature)."""
        argv = ["rbd", "device", "map", "-t", self._type, *self._access.cli_args()]
        if read_only:
            argv.append("--read-only")
        elif exclusive:
            # Hold the exclusive lock for as long as the device is mapped, refusing
            # cooperative hand-over to other clients (krbd "exclusive", rbd-nbd --exclusive).
            argv.append("--exclusive")
        options = kernel_map_options(self._type, options, ms_mode=ms_mode,
                                     udev=udev_running(self._layout.udev_control))
        if options:
            argv += ["-o", options]
        argv += ["--pool", spec.pool]
        if spec.namespace:
            argv += ["--namespace", spec.namespace]
        argv += ["--image", spec.image]
        if spec.snap:
            argv += ["--snap", spec.snap]
        try:
            self._ctx.runner.run(argv, self._ctx.deadline)
        except CommandFailed as exc:
            if self._type == "krbd" and "ms_mode" not in option_names(options) and \
                    "(2) No such file" in exc.reason:
                # What krbd says when it cannot speak to msgr2-only monitors. The hint
                # comes first: exit reasons are clipped (hakit.shown), and the command
                # line before the error would push it out.
                raise GenericError("monitors that speak only msgr2 need ms_mode "
                                   f"(ms_mode=auto chooses it): {exc.reason}") from exc
            raise
        found = self.find(spec)
        if found is None:
            raise GenericError(f"'rbd device map' succeeded but {spec} is not in "
                               f"'rbd device list -t {self._type}'")
        return found

    def unmap(self, spec: ImageSpec, mapped: Mapped) -> None:
        """Unmap; while the device is busy retry until half the time left, then force,
        unless a filesystem is still mounted on it (forcing would drop its unwritten data
        behind the mount's back): that is an error naming the mount point."""
        ctx = self._ctx
        # A mounted filesystem does not go away by waiting: say so at once.
        try:
            mounts = mounts_of_device(self._layout.mountinfo.read_text(), mapped.device)
        except OSError:
            mounts = []
        if mounts:
            raise GenericError(f"cannot unmap {spec}: {mapped.device} is still mounted at "
                               f"{', '.join(mounts)} (stop the filesystem resource first)")
        polite = ctx.deadline.within(ctx.deadline.remaining() / 2)
        noudev = [] if self._type != "krbd" or udev_running(self._layout.udev_control) \
            else ["-o", "noudev"]
        argv = ["rbd", "device", "unmap", "-t", self._type, *noudev, mapped.device]

        def attempt() -> Optional[bool]:
            try:
                ctx.runner.run(argv, polite)
                return True
            except CommandFailed as exc:
                ctx.log.info("unmap of %s failed (%s), retrying", mapped.device, exc.reason)
                return None
            except ActionTimeout:
                return None

        try:
            polite.poll(attempt, f"unmapping {mapped.device}", interval=0.5)
            return
        except ActionTimeout:
            pass
        # Last resort before the stop deadline: the device is still open somewhere.
        ctx.log.warning("forcing unmap of %s (%s), it is still in use", mapped.device, spec)
        force = "force" if not noudev else "force,noudev"
        ctx.runner.run(["rbd", "device", "unmap", "-t", self._type, "-o", force,
                        mapped.device], ctx.deadline)


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

    def _paths(self, spec: ImageSpec) -> tuple[Path, Path, Path]:
        state = self._layout.state(spec)
        return state / "rbd-fuse.pid", state / "mnt", state / "mnt" / spec.image

    def _mounted(self, mnt: Path) -> bool:
        try:
            text = self._layout.mountinfo.read_text()
        except OSError:
            return False
        return mounted_at(text, str(mnt)) is not None

    def _own_loops(self, mnt: Path, image_file: Path) -> list[str]:
        """Loop devices over this mount namespace's rbd-fuse file for the image.

        The path alone is not enough: loop devices belong to the whole kernel, and another
        mount namespace (a container host, or another node of the lab, which shares this
        kernel) can have its own rbd-fuse mount at the same path.  A loop device is this
        node's only when its back file lives on the filesystem mounted here at ``mnt``
        (still listed after rbd-fuse died, until unmounted).
        """
        loops = loop_devices_for(self._layout, str(image_file))
        if not loops:
            return loops
        recorded = self._recorded_loop(image_file)
        if recorded is not None:
            # No ioctl: LOOP_GET_STATUS64 asks the backing file's filesystem, so on a loop
            # device over another namespace's rbd-fuse whose daemon is frozen (a hung lab
            # node, fenced through Ceph rather than powered off) it blocks for good.
            return [recorded] if recorded in loops else []
        try:
            here = mount_dev(self._layout.mountinfo.read_text(), str(mnt))
        except OSError:
            return loops
        if here is None:
            return []
        return [loop for loop in loops if loop_backing_dev(loop) in (here, None)]

    @staticmethod
    def _loop_record(image_file: Path) -> Path:
        """Where ``map`` notes the loop device it attached (the node's private /run)."""
        return image_file.parent.parent / "loop"

    def _recorded_loop(self, image_file: Path) -> Optional[str]:
        try:
            text = self._loop_record(image_file).read_text().strip()
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
        mnt.mkdir(parents=True, exist_ok=True)
        argv = ["rbd-fuse", "-f", "-p", spec.pool]
        if spec.namespace:
            argv += ["-s", spec.namespace]
        argv += ["-r", spec.image, str(mnt)]
        # Credentials as file paths in CEPH_ARGS: nothing secret on the command line, and
        # unknown argv options would be handed to libfuse.
        ceph_args = [*self._access.cli_args(), *FUSE_CLIENT_OPTIONS]
        pid = ctx.runner.spawn(argv, env={"CEPH_ARGS": " ".join(ceph_args)},
                               output=str(pidfile.with_name("rbd-fuse.log")))
        pidfile.write_text(f"{pid}\n")

        def ready() -> Optional[bool]:
            if not process_is(pid, "rbd-fuse"):
                raise GenericError(f"rbd-fuse exited while mapping {spec}: "
                                   f"{self._log_tail(pidfile)}")
            return True if self._mounted(mnt) and image_file.exists() else None

        ctx.deadline.poll(ready, f"waiting for rbd-fuse to mount {spec}", interval=0.05)
        if not read_only:
            claim_lock(image_file)
        argv = ["losetup", "--find", "--show"]
        if read_only:
            argv.append("--read-only")
        device = ctx.runner.run([*argv, str(image_file)], ctx.deadline).stdout.strip()
        if not device.startswith("/dev/"):
            raise GenericError(f"losetup printed no device for {image_file}: {device!r}")
        self._loop_record(image_file).write_text(f"{device}\n")
        return Mapped(device, pid)

    def unmap(self, spec: ImageSpec) -> None:
        """Detach the loop device, unmount, and stop rbd-fuse by its PID; escalate when busy."""
        ctx = self._ctx
        pidfile, mnt, image_file = self._paths(spec)
        for loop in self._own_loops(mnt, image_file):
            # On a busy loop device the kernel defers the detach until the last close.
            ctx.runner.run(["losetup", "--detach", loop], ctx.deadline, check=False)
        pid = read_pid(pidfile)
        if self._mounted(mnt):
            done = ctx.runner.run(["umount", str(mnt)], ctx.deadline, timeout=10, check=False)
            if not done.ok:
                # Still open (a filesystem on the loop device): stopping rbd-fuse aborts
                # the fuse connection, then a lazy unmount detaches the mount point.
                ctx.log.warning("%s is busy (%s); stopping rbd-fuse to force the unmap",
                                mnt, done.stderr.strip())
                if pid is not None:
                    self._stop_pid(pid, ctx.deadline.within(ctx.deadline.remaining() / 3))
                ctx.runner.run(["umount", "-l", str(mnt)], ctx.deadline, check=False)
        if pid is not None:
            # After a clean unmount rbd-fuse closes the image, which flushes librbd's cache
            # to the OSDs: killing it then loses acknowledged writes. So it gets half the
            # time left to exit by itself (seconds on a loaded host), and a signal only
            # when it still has not.
            self._stop_pid(pid, ctx.deadline, patient=True)
        for name in ("rbd-fuse.pid", "rbd-fuse.log", "client", "loop"):
            with contextlib.suppress(FileNotFoundError):
                (pidfile.parent / name).unlink()
        with contextlib.suppress(OSError):
            mnt.rmdir()
        with contextlib.suppress(OSError):
            pidfile.parent.rmdir()

    @staticmethod
    def _stop_pid(pid: int, deadline: Deadline, patient: bool = False) -> None:
        """Wait for rbd-fuse to exit by itself (it does after an unmount): up to half the
        time left, and no more than 2 s unless ``patient``; then TERM, then KILL."""

        def gone() -> Optional[bool]:
            return None if process_is(pid, "rbd-fuse") else True

        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            wait = max(0.5, deadline.remaining() / 2)
            with contextlib.suppress(ActionTimeout):
                deadline.within(wait if patient else min(2.0, wait)).poll(
                    gone, "waiting for rbd-fuse to exit", interval=0.02)
                return
            patient = False
            with contextlib.suppress(ProcessLookupError):
                if process_is(pid, "rbd-fuse"):
                    os.kill(pid, sig)
        with contextlib.suppress(ActionTimeout):
            deadline.within(2.0).poll(gone, "waiting for rbd-fuse to die", interval=0.02)

    @staticmethod
    def _log_tail(pidfile: Path) -> str:
        try:
            lines = pidfile.with_name("rbd-fuse.log").read_text().strip().splitlines()
        except OSError:
            return "no output"
        return lines[-1] if lines else "no output"


def claim_lock(image_file: Path) -> None:
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
