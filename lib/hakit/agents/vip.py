"""ocf:hakit:vip — a floating IPv4/IPv6 address, added only when no other host holds it.

start refuses an address another host answers for (IPv4: RFC 5227 ARP probes before
adding; IPv6: the kernel's DAD, failing on ``dadfailed``), then announces it (gratuitous
ARP / unsolicited NA) so neighbours switch at once.  monitor is one netlink address dump
and one link lookup.  stop removes exactly the configured address and nothing else.
"""

from __future__ import annotations

# _socket, not socket: the constants are all this module needs, and socket's import
# (enum conversions) costs 6 ms of CPU per action (start-up cost: see BENCHMARKS.md).
import _socket
import ipaddress
import time

from hakit import shown
from hakit.errors import (
    ActionTimeout,
    ArgsError,
    ExitCode,
    GenericError,
    NotRunningError,
    ParamError,
)
from hakit.lean import frozen
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import (
    Address,
    Boolean,
    Duration,
    Integer,
    Name,
    Param,
    ParamType,
    String,
    Values,
)
from hakit.os import netlink, netns

# typing and the announcement code (start only) stay out of monitor's imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Optional

    from hakit.deadline import Deadline
    from hakit.ocf.params import IPAddress
    from hakit.os import announce

#: IFA_CACHEINFO's "forever", what ``preferred_lft=forever`` stands for.
FOREVER = 0xFFFFFFFF
#: IFNAMSIZ - 1: the longest interface name or IPv4 label the kernel accepts.
IFNAME_MAX = 15
#: How long start waits for duplicate-address detection when dad_timeout is not set.
#: IPv4: RFC 5227's own timings (probes 1-2 s apart, then 2 s) add up to several seconds;
#: its section 2.2 allows shorter ones where the network is faster, and on a LAN an ARP
#: reply takes well under a millisecond, so three probes over 200 ms (the window n-acd
#: and systemd's discussion settle on) catch a live holder while keeping failover short.
DEFAULT_DAD_TIMEOUT = {4: 0.2, 6: 5.0}


@frozen
class Netmask:
    """A parsed cidr_netmask: the prefix length, and whether it was written dotted."""

    length: int
    dotted: bool


class PrefixOrNetmask(ParamType[Netmask]):
    """A prefix length (``24``, ``64``), or for IPv4 a dotted netmask (``255.255.255.0``)."""

    def parse(self, raw: str) -> Netmask:
        text = raw.strip().lstrip("/")
        if text.isdigit() and len(text) <= 3:
            length = int(text)
            if not 1 <= length <= 128:
                raise ValueError(f"must be a prefix length from 1 to 128, got {shown.value(raw)}")
            return Netmask(length, dotted=False)
        try:
            mask = ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("must be a prefix length or a dotted netmask, got "
                             f"{shown.value(raw)}") from None
        bits = int(mask)
        length = bin(bits).count("1")
        if length == 0 or bits != (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF:
            raise ValueError(f"must be a contiguous netmask, got {shown.value(raw)}")
        return Netmask(length, dotted=True)

    def hint(self) -> str:
        return "A prefix length, or for IPv4 also a dotted netmask."


class Lifetime(ParamType[int]):
    """Seconds, or ``forever`` (RFC 4862 5.5.4 lifetimes)."""

    def parse(self, raw: str) -> int:
        text = raw.strip().lower()
        if text in ("forever", "infinity"):
            return FOREVER
        if not text.isdigit() or len(text) > 10 or int(text) >= FOREVER:
            raise ValueError(f"must be a number of seconds or 'forever', got {shown.value(raw)}")
        return int(text)

    def hint(self) -> str:
        return "Seconds, or forever."


IFNAME_PATTERN = r"(?!\.{1,2}$)[A-Za-z0-9_.+-]{1,15}"
_IFNAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-"


class InterfaceName(String):
    """IFNAME_PATTERN, accepted without re: every monitor parses ``nic``, and importing
    re costs more than the monitor's work (start-up cost: see BENCHMARKS.md)."""

    def __init__(self) -> None:
        super().__init__(IFNAME_PATTERN, "an interface name (up to 15 letters, digits, _ . + -)")

    def parse(self, raw: str) -> str:
        if 1 <= len(raw) <= IFNAME_MAX and raw not in (".", "..") and not raw.strip(_IFNAME_CHARS):
            return raw
        return super().parse(raw)  # rejects it, with String's reason

IP = Param("ip", Address(), "Virtual IP address",
           "The IPv4 or IPv6 address to float between nodes.", required=True,
           unique_group="address")
CIDR_NETMASK = Param(
    "cidr_netmask", PrefixOrNetmask(), "Prefix length",
    "The address's prefix length (e.g. 24 or 64). When unset, the prefix of the route that "
    "covers the address is used, as IPaddr2 does.")
NIC = Param(
    "nic", InterfaceName(), "Network interface",
    "The interface to put the address on. When unset, the interface whose route covers the "
    "address is used; start fails with a clear reason when there is none or several.")
LABEL = Param(
    "label", String(r"[A-Za-z0-9_.+-]{1,14}", "letters, digits, _ . + or -"), "IPv4 label",
    "A label appended to the interface name (NIC:LABEL), shown by ifconfig. IPv4 only.")
ARP_COUNT = Param(
    "arp_count", Integer(0, 100), "Announcements at start",
    "How many gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) start "
    "sends. The first is sent before start returns, the rest in the background.",
    default="5", reloadable=True)
ARP_INTERVAL = Param(
    "arp_interval", Integer(10, 10000), "Announcement interval (ms)",
    "Milliseconds between announcements, as in IPaddr2.", default="200", reloadable=True)
ARP_COUNT_REFRESH = Param(
    "arp_count_refresh", Integer(0, 100), "Announcements per monitor",
    "How many announcements each recurring monitor sends (0: none).", default="0",
    reloadable=True)
DAD = Param(
    "dad", Boolean(), "Duplicate-address detection",
    "Refuse to start when another host already uses the address: ARP probes (RFC 5227) "
    "for IPv4, the kernel's DAD (RFC 4862) for IPv6. The exit reason names the other "
    "host's MAC.", default="true")
DAD_TIMEOUT = Param(
    "dad_timeout", Duration(0.05, 60), "Duplicate-address detection time",
    "IPv4: the window over which ARP probes are sent and answers awaited (default 200ms). "
    "IPv6: the longest start waits for the kernel's DAD to finish (default 5s; the kernel "
    "needs dad_transmits x retrans_time_ms plus up to rtr_solicit_delay, 1-2 s by default).")
PREFERRED_LFT = Param(
    "preferred_lft", Lifetime(), "Preferred lifetime",
    "The address's preferred lifetime; 0 keeps it from being chosen as a source address. "
    "The valid lifetime is always forever.", default="forever")
NOPREFIXROUTE = Param(
    "noprefixroute", Boolean(), "No prefix route",
    "Do not add the prefix route for the address (IFA_F_NOPREFIXROUTE).", default="false")
CHECK_LINK = Param(
    "check_link", Boolean(), "Fail monitor on link down",
    "monitor fails when the interface is down or has no carrier, so Pacemaker moves the "
    "address to a node whose link works.", default="true", reloadable=True)
NETWORK_NAMESPACE = Param(
    "network_namespace", Name("a network namespace name"), "Network namespace",
    "Manage the address inside this named network namespace (/run/netns/NAME).",
    unique_group="address")

PARAMS = (IP, CIDR_NETMASK, NIC, LABEL, ARP_COUNT, ARP_INTERVAL, ARP_COUNT_REFRESH, DAD,
          DAD_TIMEOUT, PREFERRED_LFT, NOPREFIXROUTE, CHECK_LINK, NETWORK_NAMESPACE)


@frozen
class Target:
    """Where start puts the address."""

    link: netlink.Link
    prefixlen: int


def _family(address: IPAddress) -> int:
    return _socket.AF_INET if address.version == 4 else _socket.AF_INET6


def _label(values: Values, nic: str) -> str:
    label = values.get(LABEL)
    if not label:
        return ""
    full = f"{nic}:{label}"
    if len(full) > IFNAME_MAX:
        raise ParamError("label", f"makes {shown.value(full)} longer than {IFNAME_MAX} characters")
    return full


def validate(values: Values) -> None:
    """Cross-parameter checks (validate-all depth 0)."""
    address = values[IP]
    if (address.is_multicast or address.is_unspecified or address.is_loopback
            or address.is_link_local or address == ipaddress.IPv4Address("255.255.255.255")):
        raise ParamError("ip", f"must be a unicast address usable as a VIP, got {address}")
    netmask = values.get(CIDR_NETMASK)
    if netmask is not None:
        if address.version == 6 and netmask.dotted:
            raise ParamError("cidr_netmask", "must be a prefix length for an IPv6 address")
        if address.version == 4 and netmask.length > 32:
            raise ParamError("cidr_netmask",
                             f"must be at most 32 for an IPv4 address, got {netmask.length}")
    if values.get(LABEL):
        if address.version == 6:
            raise ParamError("label", "is for IPv4 addresses only")
        nic = values.get(NIC)
        if nic:
            _label(values, nic)


def _enter_namespace(ctx: Context) -> None:
    name = ctx.params.get(NETWORK_NAMESPACE)
    if name:
        netns.enter(name)


def _timeout(ctx: Context) -> float:
    return ctx.deadline.timeout(5.0)


def _resolve(ctx: Context) -> Target:
    """The interface and prefix for the address: as configured, or from the routing table."""
    address = ctx.params[IP]
    nic = ctx.params.get(NIC)
    netmask = ctx.params.get(CIDR_NETMASK)
    link: Optional[netlink.Link] = None
    if nic:
        link = netlink.link_by_name(nic, _timeout(ctx))
        if link is None:
            raise ArgsError(f"parameter 'nic': there is no interface {shown.value(nic)} "
                            "on this host")
        if netmask is not None:
            return Target(link, netmask.length)
    covering = [r for r in netlink.routes(_family(address), _timeout(ctx))
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
            names = [(netlink.link(i, _timeout(ctx)) or netlink.Link(i, str(i), 0, b"")).name
                     for i in oifs]
            raise ArgsError(f"parameter 'nic' is not set and {address} is covered by routes on "
                            f"several interfaces ({', '.join(names)}); set nic")
        link = netlink.link(oifs[0], _timeout(ctx))
        if link is None:
            raise GenericError(f"interface {oifs[0]} vanished while starting")
    return Target(link, netmask.length if netmask is not None else best)


def check_environment(ctx: Context) -> None:
    """Checks of this host (validate-all depth 10, and before start)."""
    _enter_namespace(ctx)
    target = _resolve(ctx)
    _label(ctx.params, target.link.name)


def _ours(ctx: Context, index: int) -> Callable[[], bool]:
    address = ctx.params[IP]

    def still_ours() -> bool:
        return any(a.address == address and a.ifindex == index
                   for a in netlink.addresses(_family(address)))
    return still_ours


def _announce(ctx: Context, link: netlink.Link, count: int) -> None:
    address = ctx.params[IP]
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
    announce.announce(send, count, ctx.params[ARP_INTERVAL] / 1000.0,
                      _ours(ctx, link.ifindex))


def _dad_timeout(ctx: Context) -> float:
    value = ctx.params.get(DAD_TIMEOUT)
    return value if value is not None else DEFAULT_DAD_TIMEOUT[ctx.params[IP].version]


def _add_ipv4(ctx: Context, target: Target, address: ipaddress.IPv4Address,
              early: Optional[EarlyProbe] = None) -> None:
    from hakit.os import announce

    link = target.link
    if ctx.params[DAD] and len(link.mac) != 6:
        ctx.log.warning("%s has no Ethernet address: no ARP probing for %s", link.name, address)
    elif ctx.params[DAD]:
        known = early.verdict(link.ifindex, ctx.deadline) if early is not None else None
        if known is not None:
            culprit = known[0]
            ctx.log.debug("using the ARP probe begun before the lower layers")
        else:
            culprit = _arp_probe(ctx, link, address)
        if culprit is not None:
            raise GenericError(f"{address} is already in use by {announce.mac_text(culprit)} "
                               f"(detected by ARP probes on {link.name}); not adding it")
    _add(ctx, target, label=_label(ctx.params, link.name))


def _arp_probe(ctx: Context, link: netlink.Link, address: ipaddress.IPv4Address
               ) -> Optional[bytes]:
    """ARP-probe for ``address`` on ``link``: the MAC of a host that has it, or None."""
    from hakit.os import announce

    return announce.arp_probe(link.name, link.mac, address, _dad_timeout(ctx), ctx.deadline)


def _add(ctx: Context, target: Target, *, label: str = "", nodad: bool = False) -> None:
    lft = ctx.params[PREFERRED_LFT]
    netlink.add_address(target.link.ifindex, ctx.params[IP], target.prefixlen, label=label,
                        preferred_lft=None if lft == FOREVER else lft,
                        noprefixroute=ctx.params[NOPREFIXROUTE], nodad=nodad,
                        timeout=_timeout(ctx))


def _add_ipv6(ctx: Context, target: Target, address: ipaddress.IPv6Address) -> None:
    from hakit.os import announce

    link = target.link
    if not ctx.params[DAD]:
        _add(ctx, target, nodad=True)
        return
    with announce.NdpWatch(link.name, address, link.mac) as watch:
        _add(ctx, target)
        outcome = _wait_for_dad(ctx, link, watch)
        # The defender's NA is queued on the packet socket before the kernel marks the
        # address dadfailed, but may land between a poll's drain and its address read.
        culprit = watch.drain() if outcome == "failed" else None
    if outcome == "ok":
        return
    netlink.remove_address(link.ifindex, address, target.prefixlen, _timeout(ctx))
    if outcome == "timeout":
        raise GenericError(f"duplicate-address detection for {address} on {link.name} did not "
                           f"finish within {_dad_timeout(ctx):g}s; address removed")
    who = announce.mac_text(culprit) if culprit else "another host"
    raise GenericError(f"{address} is already in use by {who} (duplicate-address detection "
                       f"failed on {link.name}); address removed")


def _wait_for_dad(ctx: Context, link: netlink.Link, watch: announce.NdpWatch) -> str:
    """"ok" once the kernel's DAD passed, "failed" on dadfailed, or "timeout"."""
    address = ctx.params[IP]

    def settled() -> Optional[str]:
        watch.drain()
        for entry in netlink.addresses(_socket.AF_INET6, _timeout(ctx)):
            if entry.address == address and entry.ifindex == link.ifindex:
                if entry.dadfailed:
                    return "failed"
                return None if entry.tentative else "ok"
        return "failed"  # the kernel drops a dadfailed address when accept_dad allows
    try:
        return ctx.deadline.within(_dad_timeout(ctx)).poll(
            settled, "waiting for duplicate-address detection", interval=0.05,
            max_interval=0.2)
    except ActionTimeout:
        return "timeout"


#: How old an early probe's verdict may be when the address is added; older, it is redone
#: (a host may have taken the address since).
EARLY_PROBE_MAX_AGE = 1.0


class EarlyProbe:
    """IPv4 conflict probing begun before start, on a thread (ocf:hakit:container starts it
    before its lower layers, so the probe window overlaps the map, mount and container
    steps instead of adding to them).  start uses its verdict when it is recent and for
    the interface start resolved; otherwise start probes itself, as without it.
    """

    def __init__(self, ctx: Context, namespace: Optional[str]) -> None:
        import threading  # only the composite's start

        self._verdict: Optional[tuple[int, Optional[bytes], float]] = None
        self._thread = threading.Thread(target=self._run, args=(ctx, namespace),
                                        name="hakit-early-probe", daemon=True)

    @classmethod
    def begin(cls, ctx: Context, namespace: Optional[str]) -> Optional[EarlyProbe]:
        """Start probing for ``ctx``'s address; None when start would not probe."""
        if ctx.params[IP].version != 4 or not ctx.params[DAD]:
            return None
        probe = cls(ctx, namespace)
        probe._thread.start()
        return probe

    def _run(self, ctx: Context, namespace: Optional[str]) -> None:
        try:
            address = ctx.params[IP]
            with netns.inside(namespace):  # this thread only (setns(2) is per thread)
                link = _resolve(ctx).link
                if len(link.mac) != 6 or not isinstance(address, ipaddress.IPv4Address):
                    return
                culprit = _arp_probe(ctx, link, address)
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


def start(ctx: Context, early: Optional[EarlyProbe] = None) -> Optional[ExitCode]:
    _enter_namespace(ctx)
    address = ctx.params[IP]
    target = _resolve(ctx)
    link = target.link
    present = [a for a in netlink.addresses(_family(address), _timeout(ctx))
               if a.address == address]
    mine = [a for a in present if a.ifindex == link.ifindex and a.prefixlen == target.prefixlen]
    if len(mine) < len(present):
        other = next(a for a in present if a not in mine)
        name = (netlink.link(other.ifindex, _timeout(ctx)) or link).name
        raise GenericError(f"{address} is already configured as {address}/{other.prefixlen} "
                           f"on {name}; not taking it over")
    if mine and not mine[0].dadfailed and not mine[0].tentative:
        ctx.log.info("%s/%d is already on %s", address, target.prefixlen, link.name)
        return None
    if mine:  # a leftover of an interrupted start: start DAD afresh
        netlink.remove_address(link.ifindex, address, target.prefixlen, _timeout(ctx))
    if ctx.params[CHECK_LINK] and not link.up:
        raise GenericError(f"interface {link.name} is down or has no carrier")
    if isinstance(address, ipaddress.IPv4Address):
        _add_ipv4(ctx, target, address, early)
    else:
        _add_ipv6(ctx, target, address)
    ctx.log.info("added %s/%d to %s", address, target.prefixlen, link.name)
    _announce(ctx, link, ctx.params[ARP_COUNT])
    return None


def _configured(ctx: Context) -> list[netlink.Address]:
    """The entries for the configured address (with the configured prefix, when set)."""
    address = ctx.params[IP]
    netmask = ctx.params.get(CIDR_NETMASK)
    found = [a for a in netlink.addresses(_family(address), _timeout(ctx))
             if a.address == address and (netmask is None or a.prefixlen == netmask.length)]
    return found


def monitor(ctx: Context) -> Optional[ExitCode]:
    address = ctx.params[IP]
    try:
        _enter_namespace(ctx)
    except netns.NamespaceMissing as exc:
        raise NotRunningError(exc.reason) from exc
    found = _configured(ctx)
    if not found:
        raise NotRunningError(f"{address} is not configured")
    nic = ctx.params.get(NIC)
    if nic:
        link = netlink.link_by_name(nic, _timeout(ctx))
        found = [a for a in found if link is not None and a.ifindex == link.ifindex]
        if link is None or not found:
            raise NotRunningError(f"{address} is not configured on {nic}")
    else:
        link = netlink.link(found[0].ifindex, _timeout(ctx))
        if link is None:
            raise NotRunningError(f"{address} is not configured")
    entry = found[0]
    if entry.dadfailed:
        raise GenericError(f"{address} on {link.name} failed duplicate-address detection")
    if entry.tentative:
        raise GenericError(f"{address} on {link.name} is still tentative (DAD unfinished)")
    if ctx.params[CHECK_LINK] and not link.up:
        raise GenericError(f"interface {link.name} is down or has no carrier")
    if not ctx.is_probe:
        _announce(ctx, link, ctx.params[ARP_COUNT_REFRESH])
    return None


def stop(ctx: Context) -> Optional[ExitCode]:
    address = ctx.params[IP]
    try:
        _enter_namespace(ctx)
    except netns.NamespaceMissing:
        ctx.log.info("network namespace is gone, and %s with it", address)
        return None
    found = _configured(ctx)
    nic = ctx.params.get(NIC)
    if nic and found:
        link = netlink.link_by_name(nic, _timeout(ctx))
        found = [a for a in found if link is not None and a.ifindex == link.ifindex]
    for entry in found:
        if netlink.remove_address(entry.ifindex, address, entry.prefixlen, _timeout(ctx)):
            ctx.log.info("removed %s/%d", address, entry.prefixlen)
    return None


AGENT = Agent(
    name="vip",
    version="0.1.0",
    shortdesc="Floating IPv4/IPv6 address with duplicate-address detection",
    longdesc=(
        "Adds a virtual IP address to an interface, after making sure no other host on the "
        "link answers for it (ARP probes for IPv4, the kernel's DAD for IPv6), and announces "
        "it with gratuitous ARP or unsolicited neighbour advertisements so clients follow at "
        "once. Uses netlink, not the ip command. monitor checks the address is present, not "
        "tentative or dadfailed, and (with check_link) that its link is up. stop removes "
        "exactly this address."),
    params=PARAMS,
    actions=(
        Action("start", 20),
        Action("stop", 20),
        Action("monitor", 20, interval=10),
    ),
    start=start,
    stop=stop,
    monitor=monitor,
    validate=validate,
    check_environment=check_environment,
)
