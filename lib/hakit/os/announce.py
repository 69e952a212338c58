"""ARP and NDP on the wire, from raw sockets: conflict probes and address announcements.

- IPv4 duplicate-address detection follows RFC 5227 section 2.1: ARP probes (sender IP
  0.0.0.0) for the address; any ARP packet *from* the address, or another host's probe
  *for* it, is a conflict, and its sender's MAC is the culprit.
- IPv6 DAD is the kernel's (RFC 4862); ``NdpWatch`` only listens while it runs, to name
  the MAC of whoever answered.
- Announcements are RFC 5227 ARP announcements (a request with sender IP = target IP) and
  RFC 4861 unsolicited neighbour advertisements with the Override flag, which make
  neighbours replace a cached MAC at once instead of waiting for the entry to expire.
"""

from __future__ import annotations

# _socket, not socket: socket's import (enum conversions) costs 6 ms of CPU per start.
import _socket
import ipaddress
import os
import struct
import time

from hakit.errors import GenericError
from hakit.lean import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Optional

    from hakit.deadline import Deadline

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
PACKET_OUTGOING = 4  # sockaddr_ll pkttype of frames this host sent
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136
ND_OPT_SOURCE_LINKADDR = 1
ND_OPT_TARGET_LINKADDR = 2
ND_NA_FLAG_OVERRIDE = 0x20000000
ALL_NODES = "ff02::1"
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\0" * 6
ANY_V4 = ipaddress.IPv4Address(0)
#: RFC 5227 PROBE_NUM.
PROBE_COUNT = 3

_ETH = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_NA = struct.Struct("!BBHI16s")


def mac_text(mac: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff``."""
    return ":".join(f"{b:02x}" for b in mac)


# -- pure packet builders and parsers (tested with hypothesis) ---------------------------


@frozen
class ArpPacket:
    """An Ethernet/IPv4 ARP packet as received."""

    op: int
    sender_mac: bytes
    sender_ip: ipaddress.IPv4Address
    target_mac: bytes
    target_ip: ipaddress.IPv4Address


def arp_frame(op: int, sender_mac: bytes, sender_ip: ipaddress.IPv4Address,
              target_mac: bytes, target_ip: ipaddress.IPv4Address, *,
              destination: bytes = BROADCAST_MAC) -> bytes:
    """A whole Ethernet frame carrying one ARP packet, padded to the 60-byte minimum."""
    frame = _ETH.pack(destination, sender_mac, ETH_P_ARP) + _ARP.pack(
        ARPHRD_ETHER, ETH_P_IP, 6, 4, op, sender_mac, sender_ip.packed, target_mac,
        target_ip.packed)
    return frame.ljust(60, b"\0")


def parse_arp(frame: bytes) -> Optional[ArpPacket]:
    """The ARP packet in an Ethernet frame, or None for anything else."""
    if len(frame) < _ETH.size + _ARP.size:
        return None
    _dst, _src, ethertype = _ETH.unpack_from(frame)
    if ethertype != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, _ETH.size)
    if (htype, ptype, hlen, plen) != (ARPHRD_ETHER, ETH_P_IP, 6, 4):
        return None
    return ArpPacket(op, sha, ipaddress.IPv4Address(spa), tha, ipaddress.IPv4Address(tpa))


def arp_conflict(packet: ArpPacket, address: ipaddress.IPv4Address,
                 own_mac: bytes) -> Optional[bytes]:
    """The MAC of another host using or probing for ``address`` (RFC 5227 2.1.1)."""
    if packet.sender_mac == own_mac:
        return None
    if packet.sender_ip == address:
        return packet.sender_mac
    if packet.op == ARPOP_REQUEST and packet.sender_ip == ANY_V4 and packet.target_ip == address:
        return packet.sender_mac
    return None


def na_message(target: ipaddress.IPv6Address, mac: bytes) -> bytes:
    """An unsolicited neighbour advertisement (ICMPv6 body; the kernel fills the checksum)."""
    return (_NA.pack(ND_NEIGHBOR_ADVERT, 0, 0, ND_NA_FLAG_OVERRIDE, target.packed)
            + struct.pack("!BB6s", ND_OPT_TARGET_LINKADDR, 1, mac))


@frozen
class NdpPacket:
    """A neighbour solicitation or advertisement as received."""

    kind: int  # ND_NEIGHBOR_SOLICIT or ND_NEIGHBOR_ADVERT
    source_mac: bytes  # Ethernet source
    unspecified_source: bool  # IPv6 source is :: (a DAD probe)
    target: ipaddress.IPv6Address
    link_address: bytes  # the source/target link-layer address option, or b""


def parse_ndp(frame: bytes) -> Optional[NdpPacket]:
    """The NS/NA in an Ethernet frame (no IPv6 extension headers), or None."""
    start = _ETH.size + 40
    if len(frame) < start + _NA.size:
        return None
    _dst, src, ethertype = _ETH.unpack_from(frame)
    if ethertype != ETH_P_IPV6 or frame[_ETH.size] >> 4 != 6:
        return None
    next_header, hop_limit = frame[_ETH.size + 6], frame[_ETH.size + 7]
    kind = frame[start]
    # RFC 4861 7.1.1/7.1.2: valid NDP has hop limit 255 and ICMP code 0.
    if next_header != IPPROTO_ICMPV6 or hop_limit != 255 or frame[start + 1] != 0:
        return None
    if kind not in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT):
        return None
    source = frame[_ETH.size + 8:_ETH.size + 24]
    target = ipaddress.IPv6Address(frame[start + 8:start + 24])
    wanted = ND_OPT_TARGET_LINKADDR if kind == ND_NEIGHBOR_ADVERT else ND_OPT_SOURCE_LINKADDR
    link_address = b""
    offset = start + _NA.size
    while offset + 2 <= len(frame):
        opt_type, opt_len = frame[offset], frame[offset + 1]
        if opt_len == 0 or offset + opt_len * 8 > len(frame):
            break
        if opt_type == wanted and opt_len == 1:
            link_address = frame[offset + 2:offset + 8]
            break
        offset += opt_len * 8
    return NdpPacket(kind, src, source == bytes(16), target, link_address)


def ndp_conflict(packet: NdpPacket, address: ipaddress.IPv6Address,
                 own_mac: bytes) -> Optional[bytes]:
    """The MAC of another host defending, or also probing for, ``address`` (RFC 4862 5.4)."""
    if packet.source_mac == own_mac or packet.target != address:
        return None
    if packet.kind == ND_NEIGHBOR_ADVERT:
        return packet.link_address or packet.source_mac
    if packet.unspecified_source:
        return packet.source_mac
    return None


# -- sockets -------------------------------------------------------------------------------


def _packet_socket(ifname: str, proto: int) -> _socket.socket:
    try:
        sock = _socket.socket(_socket.AF_PACKET, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                              _socket.htons(proto))
    except OSError as exc:
        raise GenericError(f"cannot open a packet socket: {exc.strerror}") from exc
    try:
        sock.bind((ifname, proto))
    except OSError as exc:
        sock.close()
        raise GenericError(f"cannot bind a packet socket to {ifname}: {exc.strerror}") from exc
    return sock


def arp_probe(ifname: str, own_mac: bytes, address: ipaddress.IPv4Address, window: float,
              deadline: Deadline) -> Optional[bytes]:
    """Probe for ``address`` for ``window`` seconds; the MAC of a conflicting host, or None.

    RFC 5227 spaces PROBE_COUNT probes 1-2 s apart and then waits 2 s; a cluster failover
    cannot afford that, so the probes are spread evenly over ``window`` instead (the first
    at once) and answers are awaited until the window closes.
    """
    probe = arp_frame(ARPOP_REQUEST, own_mac, ANY_V4, ZERO_MAC, address)
    window = max(0.0, min(window, deadline.remaining()))
    started = time.monotonic()
    send_at = [started + window * i / PROBE_COUNT for i in range(PROBE_COUNT)]
    end = started + window
    sock = _packet_socket(ifname, ETH_P_ARP)
    try:
        while True:
            now = time.monotonic()
            while send_at and send_at[0] <= now:
                send_at.pop(0)
                sock.send(probe)
            if now >= end:
                return None
            sock.settimeout(max(0.001, min([end, *send_at[:1]]) - now))
            try:
                frame, where = sock.recvfrom(2048)
            except _socket.timeout:
                continue
            if where[2] == PACKET_OUTGOING:
                continue
            packet = parse_arp(frame)
            culprit = arp_conflict(packet, address, own_mac) if packet else None
            if culprit is not None:
                return culprit
    except OSError as exc:
        raise GenericError(f"ARP probe on {ifname} failed: {exc.strerror}") from exc
    finally:
        sock.close()


class NdpWatch:
    """Listens for NS/NA about one address on one interface while the kernel runs DAD.

    Open it before adding the address, so the defending host's answer is not missed.
    """

    def __init__(self, ifname: str, address: ipaddress.IPv6Address, own_mac: bytes) -> None:
        self._address = address
        self._own_mac = own_mac
        self._sock = _packet_socket(ifname, ETH_P_IPV6)
        self._sock.setblocking(False)
        self.culprit: Optional[bytes] = None

    def drain(self) -> Optional[bytes]:
        """Read what has arrived; the first conflicting MAC seen so far, or None."""
        while self.culprit is None:
            try:
                frame, where = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                raise GenericError(f"listening for NDP failed: {exc.strerror}") from exc
            if where[2] == PACKET_OUTGOING:
                continue
            packet = parse_ndp(frame)
            if packet is not None:
                self.culprit = ndp_conflict(packet, self._address, self._own_mac)
        return self.culprit

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NdpWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_arp_announcement(ifname: str, own_mac: bytes, address: ipaddress.IPv4Address) -> None:
    """One gratuitous ARP (RFC 5227 ARP announcement) to the broadcast address."""
    sock = _packet_socket(ifname, ETH_P_ARP)
    try:
        sock.send(arp_frame(ARPOP_REQUEST, own_mac, address, ZERO_MAC, address))
    except OSError as exc:
        raise GenericError(f"cannot send gratuitous ARP on {ifname}: {exc.strerror}") from exc
    finally:
        sock.close()


def send_unsolicited_na(ifindex: int, own_mac: bytes, address: ipaddress.IPv6Address) -> None:
    """One unsolicited neighbour advertisement (Override set) to all nodes."""
    try:
        sock = _socket.socket(_socket.AF_INET6, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                              IPPROTO_ICMPV6)
    except OSError as exc:
        raise GenericError(f"cannot open an ICMPv6 socket: {exc.strerror}") from exc
    try:
        sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_MULTICAST_IF, ifindex)
        # RFC 4861 7.1.2: receivers drop NDP whose hop limit is not 255.
        sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_MULTICAST_HOPS, 255)
        sock.sendto(na_message(address, own_mac), (ALL_NODES, 0, 0, ifindex))
    except OSError as exc:
        raise GenericError(f"cannot send a neighbour advertisement: {exc.strerror}") from exc
    finally:
        sock.close()


def announce(send: Callable[[], None], count: int, interval: float,
             still_ours: Callable[[], bool]) -> None:
    """Send ``count`` announcements ``interval`` seconds apart without waiting for them.

    The first goes out now, so neighbours have switched by the time start returns; the rest
    come from a detached grandchild (as IPaddr2 backgrounds send_arp), which stops early
    when ``still_ours()`` turns false, e.g. because stop removed the address meanwhile.
    """
    if count <= 0:
        return
    send()
    if count == 1:
        return
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:  # the first child: detach and leave at once, so the agent never waits for the burst
        os.setsid()
        if os.fork():
            os._exit(0)
        _detach_stdio()
        for _ in range(count - 1):
            time.sleep(interval)
            if not still_ours():
                break
            send()
    except BaseException:  # noqa: S110 - a background announcer has no one to report to
        pass
    os._exit(0)


def _detach_stdio() -> None:
    """Point stdin/stdout/stderr at /dev/null: Pacemaker (and tests) wait for the agent's
    pipes to close, which must not take as long as the burst."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
