"""ocf:hakit:vip's parameters and the typed record they parse into.

The parameters live here, not in the agent module, because ocf:hakit:container declares
the same ones (cidr_netmask, nic, network_namespace) and agents never import each other.
"""

from __future__ import annotations

import ipaddress

from hakit import shown
from hakit.errors import ParamError
from hakit.lean import frozen
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

TYPE_CHECKING = False  # typing stays out of monitor's imports (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.params import IPAddress

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
class VipConfig:
    """One floating address, as configured (parsed and checked once by ``from_values``)."""

    address: IPAddress
    netmask: Optional[Netmask]  # None: the covering route's prefix
    nic: Optional[str]  # None: the covering route's interface
    label: Optional[str]  # the part after "NIC:" (IPv4 only)
    arp_count: int  # announcements at start
    arp_interval: float  # seconds between announcements
    arp_count_refresh: int  # announcements per recurring monitor
    dad: bool
    dad_timeout: float  # seconds; dad_timeout, or the family's default
    preferred_lft: Optional[int]  # seconds; None for forever
    noprefixroute: bool
    check_link: bool
    namespace: Optional[str]  # the network namespace, None for the agent's own


def full_label(label: Optional[str], nic: str) -> str:
    """The IPv4 label ``NIC:LABEL`` the kernel gets ("" without a label)."""
    if not label:
        return ""
    full = f"{nic}:{label}"
    if len(full) > IFNAME_MAX:
        raise ParamError("label", f"makes {shown.value(full)} longer than {IFNAME_MAX} characters")
    return full


def from_values(values: Values) -> VipConfig:
    """The record, after the cross-parameter checks (validate-all depth 0)."""
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
    label = values.get(LABEL)
    nic = values.get(NIC)
    if label:
        if address.version == 6:
            raise ParamError("label", "is for IPv4 addresses only")
        if nic:
            full_label(label, nic)
    dad_timeout = values.get(DAD_TIMEOUT)
    lft = values[PREFERRED_LFT]
    return VipConfig(
        address=address, netmask=netmask, nic=nic or None, label=label or None,
        arp_count=values[ARP_COUNT], arp_interval=values[ARP_INTERVAL] / 1000.0,
        arp_count_refresh=values[ARP_COUNT_REFRESH], dad=values[DAD],
        dad_timeout=(dad_timeout if dad_timeout is not None
                     else DEFAULT_DAD_TIMEOUT[address.version]),
        preferred_lft=None if lft == FOREVER else lft, noprefixroute=values[NOPREFIXROUTE],
        check_link=values[CHECK_LINK], namespace=values.get(NETWORK_NAMESPACE) or None)
