"""The rtnetlink boundary: reading links, addresses and routes, adding and removing addresses.

Every request, read or change, is one small message on a stdlib ``AF_NETLINK`` socket,
built and parsed here with ``struct``; ``hakit.os.ipvs`` speaks generic netlink through the
same ``request``.  pyroute2 is not used: importing any of it runs its package
``__init__``, which loads every plugin (about 110 ms of CPU, twice an IPaddr2 start), for
two messages (RTM_NEWADDR, RTM_DELADDR) of a few attributes each (BENCHMARKS.md, vip).
This module turns the kernel's errno into ``hakit.errors``.
"""

from __future__ import annotations

# _socket, not socket: socket's import (enum conversions) costs 6 ms of CPU per action,
# more than a monitor's netlink work (start-up cost: see BENCHMARKS.md).
import _socket
import errno
import ipaddress
import os
import struct

from hakit.errors import GenericError
from hakit.lean import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Optional, Union

    IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
    IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_GETROUTE = 26

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_CACHEINFO = 6
IFA_FLAGS = 8
RTA_DST = 1
RTA_OIF = 4
RTA_TABLE = 15

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFA_F_NOPREFIXROUTE = 0x200
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
#: IFA_CACHEINFO's "forever".
INFINITY_LIFE_TIME = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")
_RTATTR = struct.Struct("=HH")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NLMSGERR = struct.Struct("=i")
_IFA_CACHEINFO = struct.Struct("=IIII")  # preferred, valid, cstamp, tstamp
_U32 = struct.Struct("=I")
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER


@frozen
class Link:
    """A network interface."""

    ifindex: int
    name: str
    flags: int  # IFF_*
    mac: bytes  # IFLA_ADDRESS; empty for links without one

    @property
    def up(self) -> bool:
        """Administratively up and with carrier (IFF_UP and IFF_LOWER_UP)."""
        return bool(self.flags & IFF_UP) and bool(self.flags & IFF_LOWER_UP)


@frozen
class Address:
    """An address configured on an interface."""

    address: IPAddress
    prefixlen: int
    ifindex: int
    flags: int  # IFA_F_*, from IFA_FLAGS when present (the header has only 8 bits)
    label: str  # IFA_LABEL (IPv4 only)

    @property
    def tentative(self) -> bool:
        return bool(self.flags & IFA_F_TENTATIVE)

    @property
    def dadfailed(self) -> bool:
        return bool(self.flags & IFA_F_DADFAILED)


@frozen
class Route:
    """A unicast route of the main table."""

    destination: IPNetwork
    oif: Optional[int]  # output interface; None for multipath routes


# -- pure parsers (tested with hypothesis) -----------------------------------------------


def parse_attributes(buf: bytes, offset: int = 0) -> dict[int, bytes]:
    """The rtattrs in ``buf[offset:]`` by type (the first of each type wins).

    Raises ValueError on a truncated or malformed attribute.
    """
    attrs: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(buf):
        length, kind = _RTATTR.unpack_from(buf, offset)
        if length < _RTATTR.size or offset + length > len(buf):
            raise ValueError(f"malformed netlink attribute at offset {offset}")
        attrs.setdefault(kind & _NLA_TYPE_MASK, bytes(buf[offset + _RTATTR.size:offset + length]))
        offset += (length + 3) & ~3
    return attrs


def attribute(kind: int, value: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    raw = _RTATTR.pack(_RTATTR.size + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def split_messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """``(type, flags, seq, payload)`` for each netlink message in one datagram.

    Raises ValueError on a truncated message.
    """
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise ValueError(f"malformed netlink message at offset {offset}")
        yield kind, flags, seq, bytes(data[offset + _NLMSGHDR.size:offset + length])
        offset += (length + 3) & ~3


def _ip(family: int, raw: bytes) -> IPAddress:
    if family == _socket.AF_INET and len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    if family == _socket.AF_INET6 and len(raw) == 16:
        return ipaddress.IPv6Address(raw)
    raise ValueError(f"address of {len(raw)} bytes for family {family}")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_link(payload: bytes) -> Link:
    """An RTM_NEWLINK payload.  Raises ValueError when malformed."""
    if len(payload) < _IFINFOMSG.size:
        raise ValueError("short ifinfomsg")
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(payload)
    attrs = parse_attributes(payload, _IFINFOMSG.size)
    return Link(index, _text(attrs.get(IFLA_IFNAME, b"")), flags, attrs.get(IFLA_ADDRESS, b""))


def parse_address(payload: bytes) -> Address:
    """An RTM_NEWADDR payload.  Raises ValueError when malformed."""
    if len(payload) < _IFADDRMSG.size:
        raise ValueError("short ifaddrmsg")
    family, prefixlen, flags, _scope, index = _IFADDRMSG.unpack_from(payload)
    attrs = parse_attributes(payload, _IFADDRMSG.size)
    # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
    # links (and the only one for IPv6).
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    if raw is None:
        raise ValueError("ifaddrmsg without an address")
    if len(attrs.get(IFA_FLAGS, b"")) == 4:
        flags = _U32.unpack(attrs[IFA_FLAGS])[0]
    return Address(_ip(family, raw), prefixlen, index, flags, _text(attrs.get(IFA_LABEL, b"")))


def parse_route(payload: bytes) -> Optional[Route]:
    """An RTM_NEWROUTE payload, or None for routes other than main-table unicast ones."""
    if len(payload) < _RTMSG.size:
        raise ValueError("short rtmsg")
    family, dst_len, _src, _tos, table, _proto, _scope, kind, _flags = _RTMSG.unpack_from(payload)
    attrs = parse_attributes(payload, _RTMSG.size)
    if len(attrs.get(RTA_TABLE, b"")) == 4:
        table = _U32.unpack(attrs[RTA_TABLE])[0]
    if table != RT_TABLE_MAIN or kind != RTN_UNICAST:
        return None
    if RTA_DST in attrs:
        dst = _ip(family, attrs[RTA_DST])
    else:
        dst = _ip(family, bytes(4 if family == _socket.AF_INET else 16))
    oif = struct.unpack("=i", attrs[RTA_OIF])[0] if len(attrs.get(RTA_OIF, b"")) == 4 else None
    network = ipaddress.ip_network(f"{dst}/{dst_len}", strict=False)
    return Route(network, oif)


# -- reading: one request on a stdlib netlink socket -------------------------------------


def _request(kind: int, flags: int, body: bytes, timeout: float) -> list[tuple[int, bytes]]:
    """Send one request and collect ``(type, payload)`` replies until it is answered."""
    seq = 1
    try:
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                              NETLINK_ROUTE)
    except OSError as exc:
        raise GenericError(f"cannot open a netlink socket: {exc.strerror}") from exc
    replies: list[tuple[int, bytes]] = []
    try:
        sock.settimeout(max(timeout, 0.001))
        sock.bind((0, 0))
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | flags,
                                 seq, 0) + body)
        while True:
            data = sock.recv(65536)
            for mtype, _mflags, mseq, payload in split_messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return replies
                if mtype == NLMSG_ERROR:
                    code = -_NLMSGERR.unpack_from(payload)[0] if len(payload) >= 4 else 0
                    if code == 0:
                        return replies
                    raise OSError(code, os.strerror(code))
                replies.append((mtype, payload))
                if not flags & NLM_F_DUMP:
                    return replies
    except _socket.timeout as exc:
        raise GenericError("netlink did not answer in time") from exc
    except ValueError as exc:
        raise GenericError(f"unreadable netlink reply: {exc}") from exc
    finally:
        sock.close()


def addresses(family: int, timeout: float = 5.0) -> list[Address]:
    """Every address of ``family`` (AF_INET or AF_INET6) on every interface."""
    body = _IFADDRMSG.pack(family, 0, 0, 0, 0)
    try:
        replies = _request(RTM_GETADDR, NLM_F_DUMP, body, timeout)
    except OSError as exc:
        raise GenericError(f"cannot list addresses: {exc.strerror}") from exc
    found = []
    for mtype, payload in replies:
        if mtype != RTM_NEWADDR:
            continue
        try:
            found.append(parse_address(payload))
        except ValueError:
            continue  # an address of another family or shape is not ours to judge
    return found


def link(index: int, timeout: float = 5.0) -> Optional[Link]:
    """The interface with ``index``, or None when there is none."""
    return _get_link(_IFINFOMSG.pack(_socket.AF_UNSPEC, 0, index, 0, 0), timeout)


def link_by_name(name: str, timeout: float = 5.0) -> Optional[Link]:
    """The interface called ``name``, or None when there is none."""
    return _get_link(_IFINFOMSG.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)
                     + attribute(IFLA_IFNAME, name.encode() + b"\0"), timeout)


def _get_link(body: bytes, timeout: float) -> Optional[Link]:
    try:
        replies = _request(RTM_GETLINK, 0, body, timeout)
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENOENT, errno.EINVAL):
            return None
        raise GenericError(f"cannot read interface: {exc.strerror}") from exc
    for mtype, payload in replies:
        if mtype == RTM_NEWLINK:
            try:
                return parse_link(payload)
            except ValueError as exc:
                raise GenericError(f"unreadable interface from netlink: {exc}") from exc
    return None


def routes(family: int, timeout: float = 5.0) -> list[Route]:
    """The unicast routes of the main table for ``family``."""
    body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    try:
        replies = _request(RTM_GETROUTE, NLM_F_DUMP, body, timeout)
    except OSError as exc:
        raise GenericError(f"cannot list routes: {exc.strerror}") from exc
    found = []
    for mtype, payload in replies:
        if mtype != RTM_NEWROUTE:
            continue
        try:
            route = parse_route(payload)
        except ValueError:
            continue
        if route is not None:
            found.append(route)
    return found


# -- changing: RTM_NEWADDR / RTM_DELADDR, acknowledged ------------------------------------


def address_message(index: int, address: IPAddress, prefixlen: int, *, label: str = "",
                    flags: int = 0, preferred_lft: Optional[int] = None) -> bytes:
    """The body of an RTM_NEWADDR/RTM_DELADDR request for ``address/prefixlen`` on ``index``.

    What ``ip address add`` sends: IFA_LOCAL and IFA_ADDRESS both the address for IPv4
    (IFA_LOCAL is the interface's own address), IFA_ADDRESS alone for IPv6; IFA_FLAGS for
    the flags that do not fit the header's 8 bits; IFA_CACHEINFO only with a preferred
    lifetime, whose valid lifetime stays forever.
    """
    family = _socket.AF_INET if address.version == 4 else _socket.AF_INET6
    body = _IFADDRMSG.pack(family, prefixlen, flags & 0xFF, 0, index)
    if family == _socket.AF_INET:
        body += attribute(IFA_LOCAL, address.packed)
    body += attribute(IFA_ADDRESS, address.packed)
    if label:
        body += attribute(IFA_LABEL, label.encode() + b"\0")
    if flags:
        body += attribute(IFA_FLAGS, _U32.pack(flags))
    if preferred_lft is not None:
        body += attribute(IFA_CACHEINFO,
                          _IFA_CACHEINFO.pack(preferred_lft, INFINITY_LIFE_TIME, 0, 0))
    return body


def add_address(index: int, address: IPAddress, prefixlen: int, *, label: str = "",
                preferred_lft: Optional[int] = None, noprefixroute: bool = False,
                nodad: bool = False, timeout: float = 5.0) -> None:
    """Add ``address/prefixlen`` to interface ``index``; fails if it is there already.

    ``preferred_lft`` in seconds (None: forever); the valid lifetime stays forever so the
    address is never removed behind Pacemaker's back.
    """
    flags = (IFA_F_NOPREFIXROUTE if noprefixroute else 0) | (IFA_F_NODAD if nodad else 0)
    body = address_message(index, address, prefixlen, label=label, flags=flags,
                           preferred_lft=preferred_lft)
    try:
        _request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body, timeout)
    except OSError as exc:
        raise GenericError(f"cannot add {address}/{prefixlen}: {exc.strerror}") from exc


def remove_address(index: int, address: IPAddress, prefixlen: int,
                   timeout: float = 5.0) -> bool:
    """Remove exactly ``address/prefixlen`` from interface ``index``; False if it was absent."""
    body = address_message(index, address, prefixlen)
    try:
        _request(RTM_DELADDR, NLM_F_ACK, body, timeout)
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.ENODEV):
            return False
        raise GenericError(f"cannot remove {address}/{prefixlen}: {exc.strerror}") from exc
    return True
