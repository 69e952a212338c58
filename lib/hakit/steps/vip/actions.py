"""ocf:hakit:vip's start, monitor and stop: one netlink address dump and one link lookup
for a monitor; stop removes exactly the configured address and nothing else."""

from __future__ import annotations

import ipaddress

from hakit.errors import GenericError, NotRunningError
from hakit.os import netlink, netns
from hakit.steps.vip.resolve import enter_namespace, family, resolve, timeout

# typing and the announcement code (start only) stay out of monitor's imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Optional

    from hakit.errors import ExitCode
    from hakit.ocf.agent import Context
    from hakit.steps.vip.config import VipConfig
    from hakit.steps.vip.dad import EarlyProbe


def _ours(cfg: VipConfig, index: int) -> Callable[[], bool]:
    address = cfg.address

    def still_ours() -> bool:
        return any(a.address == address and a.ifindex == index
                   for a in netlink.addresses(family(address)))
    return still_ours


def _announce(cfg: VipConfig, ctx: Context, link: netlink.Link, count: int) -> None:
    address = cfg.address
    if count <= 0 or len(link.mac) != 6:
        return  # no Ethernet address: no ARP/NDP neighbours to tell
    from hakit.os import announce

    def send() -> None:
        # Best effort, as IPaddr2's send_arp: the address is configured either way, and
        # neighbours still learn it the slow way.
        try:
            if isinstance(address, ipaddress.IPv4Address):
                announce.send_arp_announcement(link.name, link.mac, address)
            else:
                announce.send_unsolicited_na(link.ifindex, link.mac, address)
        except GenericError as exc:
            ctx.log.warning("announcing %s failed: %s", address, exc.reason)
    ctx.log.debug("announcing %s on %s %d time(s)", address, link.name, count)
    announce.announce(send, count, cfg.arp_interval, _ours(cfg, link.ifindex))


def start(cfg: VipConfig, ctx: Context, early: Optional[EarlyProbe] = None
          ) -> Optional[ExitCode]:
    """Add the address unless another host holds it, then announce it (``early``: the
    conflict probe ocf:hakit:container began before its lower layers)."""
    enter_namespace(cfg)
    address = cfg.address
    target = resolve(cfg, ctx.deadline)
    link = target.link
    present = [a for a in netlink.addresses(family(address), timeout(ctx.deadline))
               if a.address == address]
    mine = [a for a in present if a.ifindex == link.ifindex and a.prefixlen == target.prefixlen]
    if len(mine) < len(present):
        other = next(a for a in present if a not in mine)
        name = (netlink.link(other.ifindex, timeout(ctx.deadline)) or link).name
        raise GenericError(f"{address} is already configured as {address}/{other.prefixlen} "
                           f"on {name}; not taking it over")
    if mine and not mine[0].dadfailed and not mine[0].tentative:
        ctx.log.info("%s/%d is already on %s", address, target.prefixlen, link.name)
        return None
    if mine:  # a leftover of an interrupted start: start DAD afresh
        netlink.remove_address(link.ifindex, address, target.prefixlen, timeout(ctx.deadline))
    if cfg.check_link and not link.up:
        raise GenericError(f"interface {link.name} is down or has no carrier")
    # Duplicate-address detection is start's alone: the monitor path does not import it.
    from hakit.steps.vip.dad import add_ipv4, add_ipv6
    if isinstance(address, ipaddress.IPv4Address):
        add_ipv4(cfg, ctx, target, address, early)
    else:
        add_ipv6(cfg, ctx, target, address)
    ctx.log.info("added %s/%d to %s", address, target.prefixlen, link.name)
    _announce(cfg, ctx, link, cfg.arp_count)
    return None


def _configured(cfg: VipConfig, ctx: Context) -> list[netlink.Address]:
    """The entries for the configured address (with the configured prefix, when set)."""
    address = cfg.address
    netmask = cfg.netmask
    found = [a for a in netlink.addresses(family(address), timeout(ctx.deadline))
             if a.address == address and (netmask is None or a.prefixlen == netmask.length)]
    return found


def monitor(cfg: VipConfig, ctx: Context) -> Optional[ExitCode]:
    """Present, past DAD, and (check_link) on a link that is up; recurring monitors
    re-announce it arp_count_refresh times."""
    address = cfg.address
    try:
        enter_namespace(cfg)
    except netns.NamespaceMissing as exc:
        raise NotRunningError(exc.reason) from exc
    found = _configured(cfg, ctx)
    if not found:
        raise NotRunningError(f"{address} is not configured")
    nic = cfg.nic
    if nic:
        link = netlink.link_by_name(nic, timeout(ctx.deadline))
        found = [a for a in found if link is not None and a.ifindex == link.ifindex]
        if link is None or not found:
            raise NotRunningError(f"{address} is not configured on {nic}")
    else:
        link = netlink.link(found[0].ifindex, timeout(ctx.deadline))
        if link is None:
            raise NotRunningError(f"{address} is not configured")
    entry = found[0]
    if entry.dadfailed:
        raise GenericError(f"{address} on {link.name} failed duplicate-address detection")
    if entry.tentative:
        raise GenericError(f"{address} on {link.name} is still tentative (DAD unfinished)")
    if cfg.check_link and not link.up:
        raise GenericError(f"interface {link.name} is down or has no carrier")
    if not ctx.is_probe:
        _announce(cfg, ctx, link, cfg.arp_count_refresh)
    return None


def stop(cfg: VipConfig, ctx: Context) -> Optional[ExitCode]:
    """Remove exactly the configured address; a namespace that is gone took it along."""
    address = cfg.address
    try:
        enter_namespace(cfg)
    except netns.NamespaceMissing:
        ctx.log.info("network namespace is gone, and %s with it", address)
        return None
    found = _configured(cfg, ctx)
    nic = cfg.nic
    if nic and found:
        link = netlink.link_by_name(nic, timeout(ctx.deadline))
        found = [a for a in found if link is not None and a.ifindex == link.ifindex]
    for entry in found:
        if netlink.remove_address(entry.ifindex, address, entry.prefixlen,
                                  timeout(ctx.deadline)):
            ctx.log.info("removed %s/%d", address, entry.prefixlen)
    return None
