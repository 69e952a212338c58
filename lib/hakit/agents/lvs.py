"""ocf:hakit:lvs — an LVS (IPVS) director as a promotable clone that keeps connections.

Every instance holds the whole IPVS table (virtual services and their healthy real servers)
and a sync daemon: the promoted one the master, which multicasts each connection it
forwards, the unpromoted one the backup, which learns them.  So whichever director the
virtual IP (ocf:hakit:vip, colocated with the promoted instance) lands on already knows the
established connections, after a failover and after the failback too: a recovered director
becomes promotable (its promotion score is set) only once its backup has listened for
``sync_warmup``, and a promote that comes sooner waits that long, saying so.

Real servers are health-checked by each instance's recurring monitor (TCP, HTTP(S),
command; interval, timeout, rise, fall), in parallel and bounded by the monitor's deadline.

The library does the work: ``hakit.steps.lvs.definition`` (the service definition, pure),
``hakit.os.ipvs`` (the kernel's table and sync daemons over generic netlink),
``hakit.steps.lvs.healthcheck`` (probes and rise/fall state) and ``hakit.steps.lvs.sync``
(daemon roles).
"""

from __future__ import annotations

import os

from hakit.agents.vip import InterfaceName
from hakit.errors import (
    ArgsError,
    ExitCode,
    GenericError,
    NotInstalledError,
    NotRunningError,
    ParamError,
)
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import AbsolutePath, Duration, Integer, Name, Param, ParamType, Select, Values
from hakit.os import ipvs, netlink, netns
from hakit.steps.lvs import healthcheck
from hakit.steps.lvs import sync as lvssync
from hakit.steps.lvs.definition import ConfigSyntaxError, Virtual, endpoint, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Optional

    from hakit.ocf.params import IPAddress
    from hakit.steps.lvs.healthcheck import Health

#: Where each resource keeps what it created and what it learned (/run: gone at reboot,
#: as is the kernel's IPVS table).
RUNTIME_DIR = "/run/hakit/lvs"
#: The promotion score of a director that has learned the connections (crm_master's usual).
PROMOTION_SCORE = 100


class ServicesText(ParamType[tuple[Virtual, ...]]):
    """The service definition (hakit.steps.lvs.definition), lines separated by newlines or ``;``."""

    def parse(self, raw: str) -> tuple[Virtual, ...]:
        try:
            return parse(raw)
        except ConfigSyntaxError as exc:
            raise ValueError(str(exc)) from None

    def hint(self) -> str:
        return "Directives virtual, real, sorry and check, as in docs/agents/lvs.md."


SERVICES = Param(
    "services", ServicesText(), "Virtual services",
    "The virtual services with their real servers, sorry server and health check, e.g. "
    "'virtual 198.51.100.10:80 scheduler=wlc forward=dr; real 10.0.0.11:80; "
    "real 10.0.0.12:80 weight=2; check http path=/health'. For many services use "
    "config_file instead (same syntax, one directive per line).", reloadable=True)
CONFIG_FILE = Param(
    "config_file", AbsolutePath(), "Service definition file",
    "A file with the virtual services in the syntax of 'services'. Keep it identical on "
    "both directors. After editing it, run a reload of the resource.", reloadable=True)
SYNC_INTERFACE = Param(
    "sync_interface", InterfaceName(), "Sync interface",
    "The interface the IPVS sync daemons multicast connection state on (the link between "
    "the directors).", required=True)
SYNCID = Param(
    "syncid", Integer(0, 255), "Sync id",
    "Tells this director pair's sync messages from another pair's on the same link; the "
    "same on both directors (0 makes a backup accept every id).", default="1")
SYNC_REFRESH = Param(
    "sync_refresh", Duration(0, 3600), "Connection re-sync period",
    "Each connection with traffic is sent to the other director again at most this often "
    "(net.ipv4.vs.sync_refresh_period, with sync_threshold's packet period off), so a "
    "recovered director learns every active connection within this time. 0 leaves the "
    "kernel's packet-count scheme (every 50 packets) untouched.", default="2s")
SYNC_WARMUP = Param(
    "sync_warmup", Duration(0, 3600), "Learning time before promotion",
    "How long a director's backup sync daemon must have listened before it may be "
    "promoted: its promotion score is set only then, and an earlier promote waits. At "
    "least sync_refresh.", default="5s")
FAILURE_ACTION = Param(
    "failure_action", Select("quiesce", "remove"), "Failed real server",
    "quiesce: a real server failing its check keeps its entry with weight 0 (no new "
    "connections; established ones finish). remove: its entry is deleted.",
    default="quiesce", reloadable=True)
NETWORK_NAMESPACE = Param(
    "network_namespace", Name("a network namespace name"), "Network namespace",
    "Manage IPVS inside this named network namespace (/run/netns/NAME).")

PARAMS = (SERVICES, CONFIG_FILE, SYNC_INTERFACE, SYNCID, SYNC_REFRESH, SYNC_WARMUP,
          FAILURE_ACTION, NETWORK_NAMESPACE)


# -- configuration ---------------------------------------------------------------------------


def services_of(values: Values) -> tuple[Virtual, ...]:
    """The configured services, from ``services`` or ``config_file``."""
    inline = values.get(SERVICES)
    path = values.get(CONFIG_FILE)
    if (inline is None) == (path is None):
        raise ParamError("services", "or 'config_file' must be set (exactly one of them)")
    if inline is not None or path is None:
        return inline or ()
    try:
        with open(path) as handle:
            text = handle.read(1 << 22)
    except OSError as exc:
        raise ArgsError(f"parameter 'config_file': cannot read {path}: {exc.strerror}") from exc
    try:
        return parse(text)
    except ConfigSyntaxError as exc:
        raise ParamError("config_file", f"({path}) {exc}") from None


def validate(values: Values) -> None:
    """Cross-parameter checks (validate-all depth 0, and every action)."""
    services_of(values)
    refresh = values[SYNC_REFRESH]
    if refresh and values[SYNC_WARMUP] < refresh:
        raise ParamError("sync_warmup", f"({values[SYNC_WARMUP]:g}s) must be at least "
                         f"sync_refresh ({refresh:g}s): a shorter wait cannot have heard "
                         "every active connection")


def _enter(ctx: Context) -> None:
    name = ctx.params.get(NETWORK_NAMESPACE)
    if name:
        netns.enter(name)


def _timeout(ctx: Context) -> float:
    return ctx.deadline.timeout(5.0)


def check_environment(ctx: Context) -> None:
    """This host: the sync interface exists, forwarding is on where NAT needs it."""
    _enter(ctx)
    name = ctx.params[SYNC_INTERFACE]
    if netlink.link_by_name(name, _timeout(ctx)) is None:
        raise ParamError("sync_interface", f"names {name!r}, which does not exist on this "
                         "host")
    for svc in services_of(ctx.params):
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


# -- runtime directory -----------------------------------------------------------------------


def _state_dir(ctx: Context) -> str:
    """One directory per resource (not per clone instance: ``lvs:0`` may be ``lvs:1`` after
    a restart) and namespace."""
    rid = ctx.instance.split(":", 1)[0]
    namespace = ctx.params.get(NETWORK_NAMESPACE) or ""
    name = f"{rid}@{namespace}" if namespace else rid
    return os.path.join(RUNTIME_DIR, name.replace("/", "%2F"))


def _key_text(key: ipvs.ServiceKey) -> str:
    return f"{key.family} {key.protocol} {key.address or '-'} {key.port} {key.fwmark}"


def _parse_key(line: str) -> Optional[ipvs.ServiceKey]:
    import ipaddress  # already loaded by the parameters

    parts = line.split()
    if len(parts) != 5 or not all(p.isdigit() for p in (parts[0], parts[1], parts[3], parts[4])):
        return None
    try:
        address = None if parts[2] == "-" else ipaddress.ip_address(parts[2])
    except ValueError:
        return None
    return ipvs.ServiceKey(int(parts[0]), int(parts[1]), address, int(parts[3]), int(parts[4]))


def _owned(directory: str) -> Optional[set[ipvs.ServiceKey]]:
    """The services this resource created, or None when it has no record (never started)."""
    try:
        with open(os.path.join(directory, "owned")) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GenericError(f"cannot read {directory}/owned: {exc.strerror}") from exc
    return {key for key in map(_parse_key, lines) if key is not None}


def _save_owned(directory: str, keys: Iterable[ipvs.ServiceKey]) -> None:
    path = os.path.join(directory, "owned")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(f"{path}.tmp", "w") as handle:
            handle.write("".join(_key_text(k) + "\n" for k in sorted(keys, key=_key_text)))
        os.replace(f"{path}.tmp", path)
    except OSError as exc:
        raise GenericError(f"cannot write {path}: {exc.strerror}") from exc


def _forget(directory: str) -> None:
    for name in ("owned", "health", lvssync.BACKUP_SINCE, "score"):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


# -- IPVS ------------------------------------------------------------------------------------


def _connect(ctx: Context, *, load: bool) -> ipvs.Connection:
    """A connection to the kernel's IPVS; with ``load``, ip_vs is loaded first."""
    if load and not ipvs.module_loaded():
        result = ctx.runner.run(["modprobe", "ip_vs"], ctx.deadline, timeout=10, check=False)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise NotInstalledError("the kernel has no ip_vs module (modprobe ip_vs: "
                                    f"{lines[-1] if lines else 'failed'})")
    return ipvs.Connection(_timeout(ctx))


def _probe_key(svc: Virtual, address: IPAddress, port: int) -> str:
    return healthcheck.Probe(address, svc.check.port or port, svc.check).key


def desired_dests(svc: Virtual, states: Mapping[str, Health], failure_action: str
                  ) -> dict[tuple[IPAddress, int], int]:
    """(address, port) -> weight of the real servers ``svc`` should have now (pure).

    A server without a result yet counts as healthy (it was configured to serve); a failed
    one is kept at weight 0 or left out; the sorry server serves only when no real server
    is healthy."""
    want: dict[tuple[IPAddress, int], int] = {}
    healthy = 0
    for real in svc.reals:
        state = None if svc.check.kind == "none" else states.get(
            _probe_key(svc, real.address, real.port))
        if state is None or state.up:
            want[(real.address, real.port)] = real.weight
            healthy += 1 if real.weight > 0 else 0
        elif failure_action == "quiesce":
            want[(real.address, real.port)] = 0
    if svc.sorry is not None and healthy == 0:
        want[(svc.sorry.address, svc.sorry.port)] = max(1, svc.sorry.weight)
    return want


def _apply_dests(ctx: Context, conn: ipvs.Connection, svc: Virtual,
                 states: Mapping[str, Health], *, prune: bool = False) -> None:
    """Make the service's real servers match the definition and the health state.  Entries
    the definition does not name are left alone (an admin's temporary one), unless
    ``prune`` (a reload: the service is this resource's, and its definition changed)."""
    want = desired_dests(svc, states, ctx.params[FAILURE_ACTION])
    have = {(d.address, d.port): d for d in conn.dests(svc.key)}
    managed = {(r.address, r.port) for r in svc.reals}
    if svc.sorry is not None:
        managed.add((svc.sorry.address, svc.sorry.port))
    for (address, port), weight in want.items():
        dest = ipvs.Dest(address, port, svc.forward_code, weight, 0, 0)
        current = have.get((address, port))
        if current is None:
            conn.add_dest(svc.key, dest)
            ctx.log.info("%s: real server %s added (weight %d)", svc.name,
                         endpoint(address, port), weight)
        elif (current.weight, current.forward) != (weight, svc.forward_code):
            conn.edit_dest(svc.key, dest)
            ctx.log.info("%s: real server %s weight %d -> %d", svc.name,
                         endpoint(address, port), current.weight, weight)
    for (address, port) in have:
        if (prune or (address, port) in managed) and (address, port) not in want:
            conn.remove_dest(svc.key, address, port)
            ctx.log.info("%s: real server %s removed", svc.name,
                         endpoint(address, port))


def _add_service(conn: ipvs.Connection, svc: Virtual, want: ipvs.Service) -> None:
    """Add a service; a scheduler this kernel lacks is rc 5 naming the field (the kernel
    answers ENOENT when it cannot load ip_vs_NAME: 'twos' came with Linux 6.2)."""
    import errno  # already loaded by hakit.os.ipvs

    try:
        conn.add_service(want)
    except ipvs.IpvsError as exc:
        if exc.errno != errno.ENOENT:
            raise
        raise NotInstalledError(
            f"parameter 'services' (line {svc.line}): field 'scheduler' is "
            f"{svc.scheduler}, which this kernel does not have (no module "
            f"ip_vs_{svc.scheduler})") from exc


def _apply(ctx: Context, conn: ipvs.Connection, services: tuple[Virtual, ...],
           states: Mapping[str, Health], owned: set[ipvs.ServiceKey], *,
           adopt: bool, prune: bool = False) -> None:
    """Make the kernel's table match ``services``, adding each service created to ``owned``
    as it goes.  A configured service that exists but is not ``owned`` is refused unless
    ``adopt``."""
    present = {s.key: s for s in conn.services()}
    for svc in services:
        want = svc.service()
        have = present.get(svc.key)
        if have is None:
            _add_service(conn, svc, want)
            ctx.log.info("virtual service %s added (%s, %s)", svc.name, svc.scheduler,
                         svc.forward)
        else:
            if svc.key not in owned and not adopt:
                raise GenericError(f"virtual service {svc.name} already exists and was not "
                                   "created by this resource (keepalived, ldirectord or "
                                   "ipvsadm?); not taking it over")
            if (have.scheduler, have.persistent, have.timeout) != (
                    want.scheduler, want.persistent, want.timeout):
                conn.edit_service(want)
                ctx.log.info("virtual service %s changed (%s, persistence %d)", svc.name,
                             svc.scheduler, svc.persistence)
        owned.add(svc.key)
        _apply_dests(ctx, conn, svc, states, prune=prune)


def _health(ctx: Context, services: tuple[Virtual, ...], directory: str, *,
            force: bool = False) -> dict[str, Health]:
    """Run the due health checks; the state of every probe afterwards."""
    path = os.path.join(directory, "health")
    states = healthcheck.load_state(path)
    probes = healthcheck.probes_for((r.address, r.port, svc.check) for svc in services
                                    for r in svc.reals if svc.check.kind != "none")
    moment = healthcheck.now()
    due = [p for p in probes if force or healthcheck.due(states.get(p.key), p.check, moment)]
    if due:
        longest = max(p.check.timeout for p in due)
        # The round may use the checks' timeout and must leave time to apply the result.
        budget = ctx.deadline.within(min(longest + 0.5, max(0.2, ctx.deadline.remaining() - 2)))
        results = healthcheck.run_round(due, budget, ctx.runner)
        finished = healthcheck.now()
        for probe in due:
            if probe.key not in results:
                ctx.log.warning("health check of %s did not finish in time; state kept",
                                probe.key)
                continue
            reason = results[probe.key]
            before = states.get(probe.key)
            after = healthcheck.advance(before, reason is None, probe.check, finished,
                                        reason or "")
            if before is not None and before.up != after.up:
                if after.up:
                    ctx.log.info("real server %s is healthy again", probe.key)
                else:
                    ctx.log.warning("real server %s failed its check: %s", probe.key, reason)
            elif before is None and not after.up:
                ctx.log.warning("real server %s failed its check: %s", probe.key, reason)
            states[probe.key] = after
    keys = {p.key for p in probes}
    states = {k: v for k, v in states.items() if k in keys}
    if due or not os.path.exists(path):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        healthcheck.save_state(path, states)
    return states


def _tune_sync(ctx: Context) -> None:
    """Time-based re-sync (see SYNC_REFRESH): sync_period 0 hands the choice of when to
    send a connection again to sync_refresh_period (Documentation/networking/ipvs-sysctl)."""
    refresh = ctx.params[SYNC_REFRESH]
    if not refresh:
        return
    seconds = str(max(1, round(refresh)))
    threshold = ipvs.read_sysctl("sync_threshold") or "3 50"
    first = threshold.split()[0]
    if threshold.split()[1:] != ["0"]:
        ipvs.write_sysctl("sync_threshold", f"{first} 0")
    if ipvs.read_sysctl("sync_refresh_period") != seconds:
        ipvs.write_sysctl("sync_refresh_period", seconds)


# -- promotion score -------------------------------------------------------------------------


def _promotable_clone(ctx: Context) -> bool:
    """Whether Pacemaker runs this as a promotable clone (it passes promoted-max)."""
    meta = ctx.env.meta
    return "promoted_max" in meta or "master_max" in meta


def _set_score(ctx: Context, directory: str, score: Optional[int]) -> None:
    """Set (or with None delete) this node's promotion score, once per change; outside a
    promotable clone (ocf-tester, tests) there is none to set."""
    if not _promotable_clone(ctx):
        return
    path = os.path.join(directory, "score")
    text = "" if score is None else str(score)
    try:
        with open(path) as handle:
            if handle.read().strip() == text:
                return
    except OSError:
        pass
    argv = ["crm_attribute", f"--promotion={ctx.instance.split(':', 1)[0]}"]
    node = ctx.env.meta.get("on_node")
    if node:
        argv += ["--node", node]
    argv += ["--delete"] if score is None else ["--update", text]
    result = ctx.runner.run(argv, ctx.deadline, timeout=10, check=False)
    if result.returncode != 0:
        ctx.log.warning("cannot set the promotion score: %s", result.stderr.strip()[-200:])
        return
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        ctx.log.warning("cannot record the promotion score: %s", exc.strerror)


def _learning_left(ctx: Context, directory: str) -> float:
    """Seconds until this director's backup has listened for sync_warmup (0: ready).  A
    backup daemon without a record (it outlived /run/hakit, or start found it running)
    counts from now: never promotable would be worse than one warm-up too many."""
    age = lvssync.backup_age(directory)
    if age is None:
        lvssync.mark_backup_since(directory)
        age = 0.0
    return max(0.0, ctx.params[SYNC_WARMUP] - age)


def _check_sync_link(ctx: Context) -> None:
    """Say loudly when the sync link is down: the daemons keep running, but no connection
    state crosses it, and a failover would then reset every connection (keepalived's users
    find this out only then).  An interface that is gone is a failure: its daemon is dead."""
    name = ctx.params[SYNC_INTERFACE]
    link = netlink.link_by_name(name, _timeout(ctx))
    if link is None:
        raise GenericError(f"the sync interface {name} no longer exists: connection state is "
                           "not synced")
    if not link.up:
        ctx.log.warning("the sync interface %s is down (no carrier or not up): connection "
                        "state does not reach the other director, so a failover now would "
                        "reset established connections", name)


# -- actions ---------------------------------------------------------------------------------


def start(ctx: Context) -> Optional[ExitCode]:
    """Unpromoted: the table in place with healthy real servers, the backup daemon learning."""
    _enter(ctx)
    services = services_of(ctx.params)
    directory = _state_dir(ctx)
    interface, syncid = ctx.params[SYNC_INTERFACE], ctx.params[SYNCID]
    with _connect(ctx, load=True) as conn:
        _tune_sync(ctx)
        owned = set(_owned(directory) or ())
        # The record exists before anything is created and grows with it, so a start that
        # fails half-way (a service someone else holds) leaves a stop that removes exactly
        # what this start added.
        _save_owned(directory, owned)
        states = _health(ctx, services, directory, force=True)
        try:
            _apply(ctx, conn, services, states, owned, adopt=False)
        finally:
            _save_owned(directory, owned)
        roles = lvssync.running_roles(conn, interface, syncid)
        if ipvs.STATE_MASTER in roles:
            ctx.log.info("already running, promoted")
            return None
        if lvssync.switch(conn, ipvs.STATE_BACKUP, interface, syncid):
            lvssync.mark_backup_since(directory)
            ctx.log.info("backup sync daemon started on %s (syncid %d)", interface, syncid)
    return None


def stop(ctx: Context) -> Optional[ExitCode]:
    """Remove exactly what this resource created: its services and its sync daemons."""
    try:
        _enter(ctx)
    except netns.NamespaceMissing:
        ctx.log.info("network namespace is gone, and IPVS state with it")
        return None
    directory = _state_dir(ctx)
    owned = _owned(directory)
    if not ipvs.module_loaded():
        _forget(directory)
        return None
    services = services_of(ctx.params)
    interface, syncid = ctx.params[SYNC_INTERFACE], ctx.params[SYNCID]
    with _connect(ctx, load=False) as conn:
        # Without a record (a runtime directory lost), what is configured is taken as ours:
        # start refuses to adopt a configured service someone else created.
        targets = owned if owned is not None else {s.key for s in services}
        present = {s.key for s in conn.services()}
        for key in sorted(targets & present, key=_key_text):
            if conn.remove_service(key):
                ctx.log.info("virtual service %s removed", key)
        for role in lvssync.stop(conn, interface, syncid):
            ctx.log.info("%s sync daemon stopped", role)
    _set_score(ctx, directory, None)
    _forget(directory)
    return None


def _running(ctx: Context, conn: ipvs.Connection, services: tuple[Virtual, ...],
             directory: str) -> set[int]:
    """The sync roles running; NotRunningError when cleanly stopped, GenericError when
    something this resource set up was removed behind its back."""
    interface, syncid = ctx.params[SYNC_INTERFACE], ctx.params[SYNCID]
    present = {s.key for s in conn.services()}
    roles = lvssync.running_roles(conn, interface, syncid)
    configured = [s for s in services if s.key in present]
    started = _owned(directory) is not None
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


def monitor(ctx: Context) -> Optional[ExitCode]:
    try:
        _enter(ctx)
    except netns.NamespaceMissing as exc:
        raise NotRunningError(exc.reason) from exc
    if not ipvs.module_loaded():
        raise NotRunningError("IPVS (ip_vs) is not loaded")
    services = services_of(ctx.params)
    directory = _state_dir(ctx)
    with _connect(ctx, load=False) as conn:
        roles = _running(ctx, conn, services, directory)
        if not ctx.is_probe:
            _check_sync_link(ctx)
            states = _health(ctx, services, directory)
            owned = _owned(directory) or set()
            _apply(ctx, conn, services, states, owned, adopt=True)
    if ipvs.STATE_MASTER in roles:
        if not ctx.is_probe:  # a promoted instance keeps a score, or Pacemaker demotes it
            _set_score(ctx, directory, PROMOTION_SCORE)
        return ExitCode.RUNNING_PROMOTED
    if not ctx.is_probe:
        left = _learning_left(ctx, directory)
        if left > 0:
            ctx.log.info("not promotable yet: learning connections for %.1f s more", left)
        else:
            _set_score(ctx, directory, PROMOTION_SCORE)
    return None


def promote(ctx: Context) -> Optional[ExitCode]:
    """Master sync daemon, after the backup has listened for sync_warmup (bounded wait)."""
    _enter(ctx)
    services = services_of(ctx.params)
    directory = _state_dir(ctx)
    interface, syncid = ctx.params[SYNC_INTERFACE], ctx.params[SYNCID]
    with _connect(ctx, load=False) as conn:
        roles = _running(ctx, conn, services, directory)
        if ipvs.STATE_MASTER in roles:
            return None
        left = _learning_left(ctx, directory)
        if left > 0:
            wait = min(left, max(0.0, ctx.deadline.remaining() - 2.0))
            ctx.log.warning("holding promotion %.1f s: the backup sync daemon has not yet "
                            "listened for sync_warmup=%gs, so connections the other director "
                            "holds may be unknown here", wait, ctx.params[SYNC_WARMUP])
            ctx.deadline.sleep(wait)
        conn.settimeout(_timeout(ctx))
        lvssync.switch(conn, ipvs.STATE_MASTER, interface, syncid)
        ctx.log.info("promoted: master sync daemon on %s (syncid %d)", interface, syncid)
    return None


def demote(ctx: Context) -> Optional[ExitCode]:
    """Back to the backup daemon.  A demoted director knows every connection it forwarded,
    so it counts as having learned them (it is promotable again at once)."""
    _enter(ctx)
    services = services_of(ctx.params)
    directory = _state_dir(ctx)
    interface, syncid = ctx.params[SYNC_INTERFACE], ctx.params[SYNCID]
    with _connect(ctx, load=False) as conn:
        _running(ctx, conn, services, directory)
        if lvssync.switch(conn, ipvs.STATE_BACKUP, interface, syncid):
            lvssync.mark_backup_since(directory, healthcheck.now() - ctx.params[SYNC_WARMUP])
            ctx.log.info("demoted: backup sync daemon on %s (syncid %d)", interface, syncid)
    return None


def reload_agent(ctx: Context) -> Optional[ExitCode]:
    """Apply a changed service definition without touching connections: services and real
    servers are added, changed or removed one by one (the sync daemons stay)."""
    _enter(ctx)
    services = services_of(ctx.params)
    directory = _state_dir(ctx)
    with _connect(ctx, load=False) as conn:
        owned = _owned(directory) or set()
        states = _health(ctx, services, directory, force=True)
        keys = set(owned)
        try:
            _apply(ctx, conn, services, states, keys, adopt=False, prune=True)
        finally:
            _save_owned(directory, keys)
        wanted = {s.key for s in services}
        for key in sorted(keys - wanted, key=_key_text):
            if conn.remove_service(key):
                ctx.log.info("virtual service %s removed (no longer configured)", key)
        _save_owned(directory, keys & wanted)
    return None


AGENT = Agent(
    name="lvs",
    version="0.1.0",
    shortdesc="LVS (IPVS) director pair whose connections survive failover and failback",
    longdesc=(
        "Run as a promotable clone on two directors. Every instance holds the IPVS virtual "
        "services and their healthy real servers and runs an IPVS sync daemon: the promoted "
        "one the master, the unpromoted one the backup, so the standby knows every "
        "established connection. Colocate the virtual IP (ocf:hakit:vip) with the promoted "
        "instance. A recovered director becomes promotable only after listening for "
        "sync_warmup, so failing back keeps connections too. Real servers are health-checked "
        "(tcp, http, https, command; interval, timeout, rise, fall) by each recurring "
        "monitor, in parallel; a failed one is quiesced or removed and a sorry server serves "
        "when none is healthy. stop removes only this resource's services and daemons."),
    params=PARAMS,
    actions=(
        Action("start", 30),
        Action("stop", 30),
        Action("promote", 30),
        Action("demote", 20),
        Action("monitor", 20, interval=5, role="Promoted"),
        Action("monitor", 20, interval=6, role="Unpromoted"),
    ),
    start=start,
    stop=stop,
    monitor=monitor,
    validate=validate,
    check_environment=check_environment,
    reload_agent=reload_agent,
    extra=(("promote", promote), ("demote", demote)),
)
