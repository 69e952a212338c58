"""The kernel's IPVS table made to match an lvs resource's definition and health state.

Only what the definition names is touched: a real server an admin added by hand to one of
the services stays (unless a reload prunes the service, which is then this resource's),
and a configured service that exists but was not created by this resource is refused at
start, never taken over (keepalived, ldirectord or ipvsadm may be managing it).
"""

from __future__ import annotations

from hakit.errors import GenericError, NotInstalledError
from hakit.os import ipvs
from hakit.steps.lvs import healthcheck
from hakit.steps.lvs.definition import endpoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from hakit.ocf.agent import Context
    from hakit.ocf.params import IPAddress
    from hakit.steps.lvs.config import LvsConfig
    from hakit.steps.lvs.definition import Virtual
    from hakit.steps.lvs.healthcheck import Health


def timeout(ctx: Context) -> float:
    """The timeout of one netlink request: the time left, at most 5 s."""
    return ctx.deadline.timeout(5.0)


def connect(ctx: Context, *, load: bool) -> ipvs.Connection:
    """A connection to the kernel's IPVS; with ``load``, ip_vs is loaded first."""
    if load and not ipvs.module_loaded():
        result = ctx.runner.run(["modprobe", "ip_vs"], ctx.deadline, timeout=10, check=False)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise NotInstalledError("the kernel has no ip_vs module (modprobe ip_vs: "
                                    f"{lines[-1] if lines else 'failed'})")
    return ipvs.Connection(timeout(ctx))


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


def _apply_dests(log: logging.Logger, conn: ipvs.Connection, svc: Virtual,
                 states: Mapping[str, Health], failure_action: str, *,
                 prune: bool = False) -> None:
    """Make the service's real servers match the definition and the health state.  Entries
    the definition does not name are left alone (an admin's temporary one), unless
    ``prune`` (a reload: the service is this resource's, and its definition changed)."""
    want = desired_dests(svc, states, failure_action)
    have = {(d.address, d.port): d for d in conn.dests(svc.key)}
    managed = {(r.address, r.port) for r in svc.reals}
    if svc.sorry is not None:
        managed.add((svc.sorry.address, svc.sorry.port))
    for (address, port), weight in want.items():
        dest = ipvs.Dest(address, port, svc.forward_code, weight, 0, 0)
        current = have.get((address, port))
        if current is None:
            conn.add_dest(svc.key, dest)
            log.info("%s: real server %s added (weight %d)", svc.name,
                     endpoint(address, port), weight)
        elif (current.weight, current.forward) != (weight, svc.forward_code):
            conn.edit_dest(svc.key, dest)
            log.info("%s: real server %s weight %d -> %d", svc.name,
                     endpoint(address, port), current.weight, weight)
    for (address, port) in have:
        if (prune or (address, port) in managed) and (address, port) not in want:
            conn.remove_dest(svc.key, address, port)
            log.info("%s: real server %s removed", svc.name, endpoint(address, port))


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


def apply(log: logging.Logger, conn: ipvs.Connection, cfg: LvsConfig,
          states: Mapping[str, Health], owned: set[ipvs.ServiceKey], *,
          adopt: bool, prune: bool = False) -> None:
    """Make the kernel's table match the configured services, adding each service created
    to ``owned`` as it goes.  A configured service that exists but is not ``owned`` is
    refused unless ``adopt``."""
    present = {s.key: s for s in conn.services()}
    for svc in cfg.services:
        want = svc.service()
        have = present.get(svc.key)
        if have is None:
            _add_service(conn, svc, want)
            log.info("virtual service %s added (%s, %s)", svc.name, svc.scheduler,
                     svc.forward)
        else:
            if svc.key not in owned and not adopt:
                raise GenericError(f"virtual service {svc.name} already exists and was not "
                                   "created by this resource (keepalived, ldirectord or "
                                   "ipvsadm?); not taking it over")
            if (have.scheduler, have.persistent, have.timeout) != (
                    want.scheduler, want.persistent, want.timeout):
                conn.edit_service(want)
                log.info("virtual service %s changed (%s, persistence %d)", svc.name,
                         svc.scheduler, svc.persistence)
        owned.add(svc.key)
        _apply_dests(log, conn, svc, states, cfg.failure_action, prune=prune)
