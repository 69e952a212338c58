"""ocf:hakit:rbd's actions on a configured mapping: start, stop, monitor, and the checks of
this host before start.

start checks the image's exclusive lock (hakit.steps.rbd.lock), maps the image (krbd or
nbd: hakit.steps.rbd.kernel; rbd-fuse + loop: hakit.steps.rbd.fuse) and exposes it at its
stable link (hakit.steps.rbd.layout).  ``layout`` is where links and state live; tests pass
temporary ones.
"""

from __future__ import annotations

import os

from hakit.errors import ArgsError, GenericError, NotRunningError
from hakit.os import ceph
from hakit.steps.rbd.config import option_names
from hakit.steps.rbd.fuse import FuseMapper
from hakit.steps.rbd.kernel import KernelMapper
from hakit.steps.rbd.layout import Layout, expose, linked_device, readable, remove, unexpose
from hakit.steps.rbd.lock import check_lock, record_owner, require_lock_feature, take_over_locks

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional, Union

    from hakit.ocf.agent import Context
    from hakit.steps.rbd.config import RbdConfig
    from hakit.steps.rbd.layout import Mapped

    Mapper = Union[FuseMapper, KernelMapper]


def check_host(cfg: RbdConfig, ctx: Context) -> None:
    """What start needs on this host: readable key files, a configuration or monitors,
    and the programs of the device type; ArgsError (or NotInstalledError) naming it."""
    access = cfg.access
    for name, path in (("keyring", access.keyring), ("secret_file", access.secret_file)):
        if path and not os.access(path, os.R_OK):
            raise ArgsError(f"parameter '{name}': {path} is not a readable file here")
    conf = access.cephconf
    if conf and not os.path.exists(conf) and not access.mon_host:
        raise ArgsError(f"parameter 'cephconf': {conf} does not exist here and mon_host "
                        "is not set")
    if cfg.device_type == "fuse":
        for program in ("rbd-fuse", "losetup", "umount"):
            ctx.runner.require(program)
        if not os.path.exists("/dev/fuse"):
            raise ArgsError("parameter 'device_type': fuse needs /dev/fuse on this host")
    else:
        ctx.runner.require("rbd")


def _mapper(cfg: RbdConfig, ctx: Context, layout: Layout) -> Mapper:
    if cfg.device_type == "fuse":
        return FuseMapper(ctx, layout, cfg.access)
    return KernelMapper(ctx, layout, cfg.device_type, cfg.access)


def kernel_ms_mode(cfg: RbdConfig, cluster: ceph.Cluster) -> Optional[str]:
    """The ms_mode for krbd: the parameter, or (auto) prefer-crc for msgr2-only monitors."""
    chosen = cfg.ms_mode
    if chosen != "auto" or cfg.device_type != "krbd":
        return None if chosen == "auto" else str(chosen)
    if "ms_mode" in option_names(cfg.map_options):
        return None
    return "prefer-crc" if cluster.msgr2_only() else None


def start(cfg: RbdConfig, ctx: Context, layout: Optional[Layout] = None) -> None:
    layout = layout or Layout()
    spec = cfg.spec
    mapper = _mapper(cfg, ctx, layout)
    try:
        current = mapper.find(spec)
    except GenericError as exc:
        ctx.log.warning("cleaning up a broken mapping of %s: %s", spec, exc.reason)
        stop(cfg, ctx, layout)
        current = None
    if current is not None:
        expose(layout, spec, current.device)  # already mapped: start is idempotent
        return
    read_only = cfg.read_only
    with ceph.connect(cfg.access, ctx.deadline) as cluster:
        with cluster.image(spec, read_only=True):
            pass  # ConfigError (rc 6) naming the pool, image or snapshot when missing
        locked = not read_only and require_lock_feature(cfg, ctx, cluster)
        if locked:
            take_over_locks(cfg, ctx, cluster)
        ms_mode = None if isinstance(mapper, FuseMapper) else kernel_ms_mode(cfg, cluster)
    try:
        if isinstance(mapper, FuseMapper):
            mapped = mapper.map(spec, read_only=read_only)
        else:
            mapped = mapper.map(spec, read_only=read_only, options=cfg.map_options,
                                ms_mode=ms_mode, exclusive=locked)
        if locked:
            record_owner(cfg, ctx, layout)
        expose(layout, spec, mapped.device)
    except BaseException:
        ctx.log.warning("start of %s failed; undoing the partial mapping", spec)
        stop(cfg, ctx, layout)
        raise


def stop(cfg: RbdConfig, ctx: Context, layout: Optional[Layout] = None) -> None:
    """Unmap whatever is mapped (0 when nothing is); never contacts Ceph.

    The link goes only once the device is unmapped: a stop that fails (a filesystem still
    mounted on it) leaves the mapping as monitor and a retried stop expect to find it.
    """
    layout = layout or Layout()
    spec = cfg.spec
    mapper = _mapper(cfg, ctx, layout)
    if isinstance(mapper, FuseMapper):
        mapper.unmap(spec)
        unexpose(layout, spec)
        return
    if ctx.runner.which("rbd") is None:
        # Without the rbd CLI nothing can have been mapped through it: stopped (OCF: stop
        # succeeds when the resource is not running).
        ctx.log.info("rbd is not installed: %s cannot be mapped here", spec)
        unexpose(layout, spec)
        return
    found = mapper.find(spec)
    if found is not None:
        mapper.unmap(spec, found)
    unexpose(layout, spec)
    state = layout.state(spec)
    remove(os.path.join(state, "client"))
    try:
        os.rmdir(state)
    except OSError:
        pass  # not empty: something else lives there; left alone


def monitor(cfg: RbdConfig, ctx: Context, layout: Optional[Layout] = None) -> None:
    layout = layout or Layout()
    spec = cfg.spec
    mapped: Optional[Mapped] = _mapper(cfg, ctx, layout).find(spec)
    link = linked_device(layout, spec)
    if mapped is None:
        if link is not None and not ctx.is_probe:
            # start made the link and stop removes it: the mapping went away under us
            # (unmapped by hand, or its device vanished).
            raise GenericError(f"{spec} was mapped here ({layout.link(spec)} -> {link}) but "
                               "the mapping is gone")
        raise NotRunningError(f"{spec} is not mapped on this node")
    if link != mapped.device:
        raise GenericError(f"{layout.link(spec)} points to {link}, not to {mapped.device}")
    if ctx.check_level >= 10 and not cfg.read_only:
        # First, so that a blocklisted client is named as such rather than by the I/O
        # error its device then returns.
        check_lock(cfg, ctx, layout)
    readable(mapped.device, ctx.deadline)
