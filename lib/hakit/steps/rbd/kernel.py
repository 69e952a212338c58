"""krbd and rbd-nbd: ``rbd device map/unmap/list``, and the pure parsers of what they say.

Nothing here talks to librados: the rbd CLI does the mapping, and krbd's mappings are read
from sysfs.
"""

from __future__ import annotations

import os

from hakit.errors import ActionTimeout, GenericError
from hakit.ocf.agent import Context
from hakit.os import mountinfo
from hakit.os.ceph import Access, ImageSpec
from hakit.os.runner import CommandFailed
from hakit.steps.rbd.config import option_names
from hakit.steps.rbd.layout import Layout, Mapped, flush_mounts_or_refuse, read_text

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional


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


def krbd_devices(sys_rbd: str) -> list[dict[str, str]]:
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
                values[name] = read_text(os.path.join(sys_rbd, dev_id, name)).strip()
            except OSError:
                values[name] = ""  # pool_ns: kernels before 4.19; a mapping going away
        if dev_id.isdigit() and values["pool"] and values["name"]:
            entries.append({"pool": values["pool"], "namespace": values["pool_ns"],
                            "name": values["name"], "snap": values["current_snap"] or "-",
                            "device": f"/dev/rbd{dev_id}"})
    return entries


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


def udev_running(control: str) -> bool:
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
            mounts = mounts_of_device(read_text(self._layout.mountinfo), mapped.device)
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
        # Last resort before the stop deadline: the device is still open somewhere.  A
        # filesystem still mounted in another mount namespace (a copy made while it was
        # mounted here) is synced first: forcing would drop the data it has not written.
        flush_mounts_or_refuse(ctx, spec, mapped.device)
        ctx.log.warning("forcing unmap of %s (%s), it is still in use", mapped.device, spec)
        force = "force" if not noudev else "force,noudev"
        ctx.runner.run(["rbd", "device", "unmap", "-t", self._type, "-o", force,
                        mapped.device], ctx.deadline)
