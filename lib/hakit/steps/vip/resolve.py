"""Where ocf:hakit:vip puts its address: the interface and prefix, as configured or from
the routing table (as IPaddr2 finds them), inside the configured network namespace."""

from __future__ import annotations

# _socket, not socket: the constants are all this needs, and socket's import (enum
# conversions) costs 6 ms of CPU per action (start-up cost: see BENCHMARKS.md).
import _socket

from hakit import shown
from hakit.errors import ArgsError, GenericError
from hakit.lean import frozen
from hakit.os import netlink, netns
from hakit.steps.vip.config import full_label

TYPE_CHECKING = False  # typing stays out of monitor's imports
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.ocf.agent import Context
    from hakit.ocf.params import IPAddress
    from hakit.steps.vip.config import VipConfig


@frozen
class Target:
    """Where start puts the address."""

    link: netlink.Link
    prefixlen: int


def family(address: IPAddress) -> int:
    return _socket.AF_INET if address.version == 4 else _socket.AF_INET6


def timeout(deadline: Deadline) -> float:
    """One netlink request's share of the action's time."""
    return deadline.timeout(5.0)


def enter_namespace(cfg: VipConfig) -> None:
    """This process's network namespace becomes the configured one (NamespaceMissing when
    it does not exist)."""
    if cfg.namespace:
        netns.enter(cfg.namespace)


def resolve(cfg: VipConfig, deadline: Deadline) -> Target:
    """The interface and prefix for the address: as configured, or from the routing table."""
    address = cfg.address
    nic = cfg.nic
    netmask = cfg.netmask
    link: Optional[netlink.Link] = None
    if nic:
        link = netlink.link_by_name(nic, timeout(deadline))
        if link is None:
            raise ArgsError(f"parameter 'nic': there is no interface {shown.value(nic)} "
                            "on this host")
        if netmask is not None:
            return Target(link, netmask.length)
    covering = [r for r in netlink.routes(family(address), timeout(deadline))
                if r.oif is not None and r.destination.prefixlen > 0
                and address in r.destination and (link is None or r.oif == link.ifindex)]
    if not covering:
        if link is not None:
            raise ArgsError(f"parameter 'cidr_netmask' is not set and no route on {nic} "
                            f"covers {address}; set cidr_netmask")
        raise ArgsError(f"parameter 'nic' is not set and no route covers {address}; "
                        f"set nic (and cidr_netmask)")
    best = max(r.destination.prefixlen for r in covering)
    if link is None:
        oifs = sorted({r.oif for r in covering if r.destination.prefixlen == best and r.oif})
        if len(oifs) > 1:
            names = [(netlink.link(i, timeout(deadline)) or netlink.Link(i, str(i), 0, b"")).name
                     for i in oifs]
            raise ArgsError(f"parameter 'nic' is not set and {address} is covered by routes on "
                            f"several interfaces ({', '.join(names)}); set nic")
        link = netlink.link(oifs[0], timeout(deadline))
        if link is None:
            raise GenericError(f"interface {oifs[0]} vanished while starting")
    return Target(link, netmask.length if netmask is not None else best)


def check_environment(cfg: VipConfig, ctx: Context) -> None:
    """Checks of this host (validate-all depth 10, and before start)."""
    enter_namespace(cfg)
    target = resolve(cfg, ctx.deadline)
    full_label(cfg.label, target.link.name)
