"""Adding ocf:hakit:vip's address only when no other host holds it: RFC 5227 ARP probes
before adding an IPv4 address (possibly begun early, ``EarlyProbe``), the kernel's DAD
(RFC 4862) after adding an IPv6 one, failing on ``dadfailed``."""

from __future__ import annotations

import _socket
import ipaddress
import time

from hakit.errors import ActionTimeout, GenericError
from hakit.os import netlink, netns
from hakit.steps.vip.config import full_label
from hakit.steps.vip.resolve import resolve, timeout

# typing and the announcement code (start only) stay out of monitor's imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.ocf.agent import Context
    from hakit.os import announce
    from hakit.steps.vip.config import VipConfig
    from hakit.steps.vip.resolve import Target

#: How old an early probe's verdict may be when the address is added; older, it is redone
#: (a host may have taken the address since).
EARLY_PROBE_MAX_AGE = 1.0


def add_ipv4(cfg: VipConfig, ctx: Context, target: Target, address: ipaddress.IPv4Address,
             early: Optional[EarlyProbe] = None) -> None:
    """ARP-probe (or use the early probe's verdict), then add the address."""
    from hakit.os import announce

    link = target.link
    if cfg.dad and len(link.mac) != 6:
        ctx.log.warning("%s has no Ethernet address: no ARP probing for %s", link.name, address)
    elif cfg.dad:
        known = early.verdict(link.ifindex, ctx.deadline) if early is not None else None
        if known is not None:
            culprit = known[0]
            ctx.log.debug("using the ARP probe begun before the lower layers")
        else:
            culprit = arp_probe(cfg, ctx.deadline, link, address)
        if culprit is not None:
            raise GenericError(f"{address} is already in use by {announce.mac_text(culprit)} "
                               f"(detected by ARP probes on {link.name}); not adding it")
    add(cfg, ctx.deadline, target, label=full_label(cfg.label, link.name))


def arp_probe(cfg: VipConfig, deadline: Deadline, link: netlink.Link,
              address: ipaddress.IPv4Address) -> Optional[bytes]:
    """ARP-probe for ``address`` on ``link``: the MAC of a host that has it, or None."""
    from hakit.os import announce

    return announce.arp_probe(link.name, link.mac, address, cfg.dad_timeout, deadline)


def add(cfg: VipConfig, deadline: Deadline, target: Target, *, label: str = "",
        nodad: bool = False) -> None:
    netlink.add_address(target.link.ifindex, cfg.address, target.prefixlen, label=label,
                        preferred_lft=cfg.preferred_lft, noprefixroute=cfg.noprefixroute,
                        nodad=nodad, timeout=timeout(deadline))


def add_ipv6(cfg: VipConfig, ctx: Context, target: Target,
             address: ipaddress.IPv6Address) -> None:
    """Add the address and wait for the kernel's DAD; removed again when it fails."""
    from hakit.os import announce

    link = target.link
    if not cfg.dad:
        add(cfg, ctx.deadline, target, nodad=True)
        return
    with announce.NdpWatch(link.name, address, link.mac) as watch:
        add(cfg, ctx.deadline, target)
        outcome = _wait_for_dad(cfg, ctx.deadline, link, watch)
        # The defender's NA is queued on the packet socket before the kernel marks the
        # address dadfailed, but may land between a poll's drain and its address read.
        culprit = watch.drain() if outcome == "failed" else None
    if outcome == "ok":
        return
    netlink.remove_address(link.ifindex, address, target.prefixlen, timeout(ctx.deadline))
    if outcome == "timeout":
        raise GenericError(f"duplicate-address detection for {address} on {link.name} did not "
                           f"finish within {cfg.dad_timeout:g}s; address removed")
    who = announce.mac_text(culprit) if culprit else "another host"
    raise GenericError(f"{address} is already in use by {who} (duplicate-address detection "
                       f"failed on {link.name}); address removed")


def _wait_for_dad(cfg: VipConfig, deadline: Deadline, link: netlink.Link,
                  watch: announce.NdpWatch) -> str:
    """"ok" once the kernel's DAD passed, "failed" on dadfailed, or "timeout"."""
    address = cfg.address

    def settled() -> Optional[str]:
        watch.drain()
        for entry in netlink.addresses(_socket.AF_INET6, timeout(deadline)):
            if entry.address == address and entry.ifindex == link.ifindex:
                if entry.dadfailed:
                    return "failed"
                return None if entry.tentative else "ok"
        return "failed"  # the kernel drops a dadfailed address when accept_dad allows
    try:
        return deadline.within(cfg.dad_timeout).poll(
            settled, "waiting for duplicate-address detection", interval=0.05,
            max_interval=0.2)
    except ActionTimeout:
        return "timeout"


class EarlyProbe:
    """IPv4 conflict probing begun before start, on a thread (ocf:hakit:container starts it
    before its lower layers, so the probe window overlaps the map, mount and container
    steps instead of adding to them).  start uses its verdict when it is recent and for
    the interface start resolved; otherwise start probes itself, as without it.
    """

    def __init__(self, cfg: VipConfig, ctx: Context) -> None:
        import threading  # only the composite's start

        self._verdict: Optional[tuple[int, Optional[bytes], float]] = None
        self._thread = threading.Thread(target=self._run, args=(cfg, ctx),
                                        name="hakit-early-probe", daemon=True)

    @classmethod
    def begin(cls, cfg: VipConfig, ctx: Context) -> Optional[EarlyProbe]:
        """Start probing for ``cfg``'s address (in its namespace); None when start would
        not probe."""
        if cfg.address.version != 4 or not cfg.dad:
            return None
        probe = cls(cfg, ctx)
        probe._thread.start()
        return probe

    def _run(self, cfg: VipConfig, ctx: Context) -> None:
        try:
            address = cfg.address
            with netns.inside(cfg.namespace):  # this thread only (setns(2) is per thread)
                link = resolve(cfg, ctx.deadline).link
                if len(link.mac) != 6 or not isinstance(address, ipaddress.IPv4Address):
                    return
                culprit = arp_probe(cfg, ctx.deadline, link, address)
            self._verdict = (link.ifindex, culprit, time.monotonic())
        except Exception as exc:  # start then probes itself, and reports what fails
            ctx.log.debug("early ARP probe failed (%s); start will probe", exc)

    def verdict(self, ifindex: int, deadline: Deadline) -> Optional[tuple[Optional[bytes]]]:
        """(culprit MAC or None,) from the early probe, or None when start must probe."""
        self._thread.join(deadline.timeout(5.0))
        found = self._verdict
        if found is None or found[0] != ifindex:
            return None
        if time.monotonic() - found[2] > EARLY_PROBE_MAX_AGE:
            return None
        return (found[1],)
