"""ocf:hakit:lvs's actions on its configuration record.

Every instance holds the whole IPVS table and a sync daemon: the backup when unpromoted
(it learns the connections the other director forwards), the master when promoted.  Stop
removes exactly what this resource created, as recorded in its runtime directory.
"""

from __future__ import annotations

from hakit.errors import ArgsError, ExitCode, GenericError, NotRunningError, ParamError
from hakit.os import ipvs, netlink, netns
from hakit.steps.lvs import checkround, healthcheck, role, runtime, sync, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.agent import Context
    from hakit.steps.lvs.config import LvsConfig


def _enter(cfg: LvsConfig) -> None:
    if cfg.network_namespace:
        netns.enter(cfg.network_namespace)


def _state_dir(cfg: LvsConfig, ctx: Context) -> str:
    return runtime.state_dir(ctx.instance, cfg.network_namespace)


def check_environment(cfg: LvsConfig, ctx: Context) -> None:
    """This host: the sync interface exists, forwarding is on where NAT needs it."""
    _enter(cfg)
    name = cfg.sync_interface
    if netlink.link_by_name(name, table.timeout(ctx)) is None:
        raise ParamError("sync_interface", f"names {name!r}, which does not exist on this "
                         "host")
    for svc in cfg.services:
        if svc.forward != "nat":
            continue
        path = ("/proc/sys/net/ipv4/ip_forward" if svc.family == 2
                else "/proc/sys/net/ipv6/conf/all/forwarding")
        try:
            with open(path) as handle:
                on = handle.read().strip() == "1"
        except OSError:
            on = True  # cannot tell; the kernel will show it
        if not on:
            raise ArgsError(f"parameter 'services' (line {svc.line}): forward=nat needs "
                            f"{path} set to 1 on the director (replies pass through it)")


def start(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Unpromoted: the table in place with healthy real servers, the backup daemon learning."""
    _enter(cfg)
    directory = _state_dir(cfg, ctx)
    interface, syncid = cfg.sync_interface, cfg.syncid
    with table.connect(ctx, load=True) as conn:
        role.tune_sync(cfg)
        owned = set(runtime.owned(directory) or ())
        # The record exists before anything is created and grows with it, so a start that
        # fails half-way (a service someone else holds) leaves a stop that removes exactly
        # what this start added.
        runtime.save_owned(directory, owned)
        states = checkround.run(ctx, cfg.services, directory, force=True)
        try:
            table.apply(ctx.log, conn, cfg, states, owned, adopt=False)
        finally:
            runtime.save_owned(directory, owned)
        roles = sync.running_roles(conn, interface, syncid)
        if ipvs.STATE_MASTER in roles:
            ctx.log.info("already running, promoted")
            return None
        if sync.switch(conn, ipvs.STATE_BACKUP, interface, syncid):
            sync.mark_backup_since(directory)
            ctx.log.info("backup sync daemon started on %s (syncid %d)", interface, syncid)
    return None


def stop(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Remove exactly what this resource created: its services and its sync daemons."""
    try:
        _enter(cfg)
    except netns.NamespaceMissing:
        ctx.log.info("network namespace is gone, and IPVS state with it")
        return None
    directory = _state_dir(cfg, ctx)
    owned = runtime.owned(directory)
    if not ipvs.module_loaded():
        runtime.forget(directory)
        return None
    with table.connect(ctx, load=False) as conn:
        # Without a record (a runtime directory lost), what is configured is taken as ours:
        # start refuses to adopt a configured service someone else created.
        targets = owned if owned is not None else {s.key for s in cfg.services}
        present = {s.key for s in conn.services()}
        for key in sorted(targets & present, key=runtime.key_text):
            if conn.remove_service(key):
                ctx.log.info("virtual service %s removed", key)
        for stopped in sync.stop(conn, cfg.sync_interface, cfg.syncid):
            ctx.log.info("%s sync daemon stopped", stopped)
    role.set_score(ctx, directory, None)
    runtime.forget(directory)
    return None


def _running(cfg: LvsConfig, conn: ipvs.Connection, directory: str) -> set[int]:
    """The sync roles running; NotRunningError when cleanly stopped, GenericError when
    something this resource set up was removed behind its back."""
    interface, syncid = cfg.sync_interface, cfg.syncid
    services = cfg.services
    present = {s.key for s in conn.services()}
    roles = sync.running_roles(conn, interface, syncid)
    configured = [s for s in services if s.key in present]
    started = runtime.owned(directory) is not None
    if not started and not configured and not roles:
        raise NotRunningError("no virtual service of this resource is configured")
    missing = [s.name for s in services if s.key not in present]
    if missing:
        raise GenericError(f"virtual service {', '.join(missing)} is missing from the IPVS "
                           "table (removed by hand?)")
    if not roles:
        raise GenericError(f"the IPVS sync daemon (syncid {syncid} on {interface}) is not "
                           "running (stopped by hand?)")
    return roles


def monitor(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Running (8 when promoted); a recurring monitor also runs the due health checks,
    applies them, and sets the promotion score once the warm-up is over."""
    try:
        _enter(cfg)
    except netns.NamespaceMissing as exc:
        raise NotRunningError(exc.reason) from exc
    if not ipvs.module_loaded():
        raise NotRunningError("IPVS (ip_vs) is not loaded")
    directory = _state_dir(cfg, ctx)
    with table.connect(ctx, load=False) as conn:
        roles = _running(cfg, conn, directory)
        if not ctx.is_probe:
            role.check_sync_link(cfg, ctx)
            states = checkround.run(ctx, cfg.services, directory)
            owned = runtime.owned(directory) or set()
            table.apply(ctx.log, conn, cfg, states, owned, adopt=True)
    if ipvs.STATE_MASTER in roles:
        if not ctx.is_probe:  # a promoted instance keeps a score, or Pacemaker demotes it
            role.set_score(ctx, directory, role.PROMOTION_SCORE)
        return ExitCode.RUNNING_PROMOTED
    if not ctx.is_probe:
        left = role.learning_left(cfg, directory)
        if left > 0:
            ctx.log.info("not promotable yet: learning connections for %.1f s more", left)
        else:
            role.set_score(ctx, directory, role.PROMOTION_SCORE)
    return None


def promote(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Master sync daemon, after the backup has listened for sync_warmup (bounded wait)."""
    _enter(cfg)
    directory = _state_dir(cfg, ctx)
    interface, syncid = cfg.sync_interface, cfg.syncid
    with table.connect(ctx, load=False) as conn:
        roles = _running(cfg, conn, directory)
        if ipvs.STATE_MASTER in roles:
            return None
        left = role.learning_left(cfg, directory)
        if left > 0:
            wait = min(left, max(0.0, ctx.deadline.remaining() - 2.0))
            ctx.log.warning("holding promotion %.1f s: the backup sync daemon has not yet "
                            "listened for sync_warmup=%gs, so connections the other director "
                            "holds may be unknown here", wait, cfg.sync_warmup)
            ctx.deadline.sleep(wait)
        conn.settimeout(table.timeout(ctx))
        sync.switch(conn, ipvs.STATE_MASTER, interface, syncid)
        ctx.log.info("promoted: master sync daemon on %s (syncid %d)", interface, syncid)
    return None


def demote(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Back to the backup daemon.  A demoted director knows every connection it forwarded,
    so it counts as having learned them (it is promotable again at once)."""
    _enter(cfg)
    directory = _state_dir(cfg, ctx)
    interface, syncid = cfg.sync_interface, cfg.syncid
    with table.connect(ctx, load=False) as conn:
        _running(cfg, conn, directory)
        if sync.switch(conn, ipvs.STATE_BACKUP, interface, syncid):
            sync.mark_backup_since(directory, healthcheck.now() - cfg.sync_warmup)
            ctx.log.info("demoted: backup sync daemon on %s (syncid %d)", interface, syncid)
    return None


def reload(cfg: LvsConfig, ctx: Context) -> Optional[ExitCode]:
    """Apply a changed service definition without touching connections: services and real
    servers are added, changed or removed one by one (the sync daemons stay)."""
    _enter(cfg)
    directory = _state_dir(cfg, ctx)
    with table.connect(ctx, load=False) as conn:
        owned = runtime.owned(directory) or set()
        states = checkround.run(ctx, cfg.services, directory, force=True)
        keys = set(owned)
        try:
            table.apply(ctx.log, conn, cfg, states, keys, adopt=False, prune=True)
        finally:
            runtime.save_owned(directory, keys)
        wanted = {s.key for s in cfg.services}
        for key in sorted(keys - wanted, key=runtime.key_text):
            if conn.remove_service(key):
                ctx.log.info("virtual service %s removed (no longer configured)", key)
        runtime.save_owned(directory, keys & wanted)
    return None
