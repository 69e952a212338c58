"""Pure parsers and builders of ocf:hakit:vip, and validate-all fed junk (hypothesis)."""

from __future__ import annotations

import io
import ipaddress
import socket
import struct
from typing import Optional

from hypothesis import given, settings
from hypothesis import strategies as st

from hakit.agents.vip import AGENT
from hakit.ocf.dispatch import run
from hakit.os import announce, netlink
from hakit.steps.vip.config import Lifetime, Netmask, PrefixOrNetmask
from tests.harness.ocf import agent_env, run_agent
from tests.vip.conftest import VIP_AGENT

macs = st.binary(min_size=6, max_size=6)
v4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
v6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))


def _attr(kind: int, data: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + b"\0" * (-len(raw) % 4)


def _message(kind: int, payload: bytes, seq: int = 1) -> bytes:
    raw = struct.pack("=IHHII", 16 + len(payload), kind, 0, seq, 0) + payload
    return raw + b"\0" * (-len(raw) % 4)


@given(st.binary(max_size=200))
def test_netlink_parsers_reject_junk_only_with_value_error(data: bytes) -> None:
    for parse in (netlink.parse_address, netlink.parse_link, netlink.parse_route,
                  netlink.parse_attributes, lambda d: list(netlink.split_messages(d))):
        try:
            parse(data)
        except ValueError:
            pass


@given(v6 | v4, st.integers(0, 128), st.integers(0, 2**31), st.integers(0, 2**32 - 1),
       st.text(alphabet="abcdefgh0123:", max_size=15))
def test_address_message_round_trip(address: netlink.IPAddress, prefixlen: int, index: int,
                                    flags: int, label: str) -> None:
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    payload = struct.pack("=BBBBI", family, prefixlen, flags & 0xFF, 0, index)
    payload += _attr(netlink.IFA_ADDRESS, address.packed)
    payload += _attr(netlink.IFA_LABEL, label.encode() + b"\0")
    payload += _attr(netlink.IFA_FLAGS, struct.pack("=I", flags))
    [(kind, _flags, seq, body)] = list(netlink.split_messages(_message(20, payload)))
    assert (kind, seq) == (20, 1)
    parsed = netlink.parse_address(body)
    assert parsed == netlink.Address(address, prefixlen, index, flags, label)
    assert parsed.tentative == bool(flags & netlink.IFA_F_TENTATIVE)
    assert parsed.dadfailed == bool(flags & netlink.IFA_F_DADFAILED)


@given(v6 | v4, st.tuples(st.integers(0, 128), st.integers(1, 2**31 - 1),
                         st.integers(0, 2**32 - 1)),
       st.text(alphabet="abcdefgh0123:", max_size=15),
       st.none() | st.integers(0, 2**32 - 1))
def test_address_request_reads_back_as_sent(address: netlink.IPAddress,
                                            shape: tuple[int, int, int], label: str,
                                            preferred: Optional[int]) -> None:
    # What add_address/remove_address send is what the kernel reports back in a dump.
    prefixlen, index, flags = shape
    body = netlink.address_message(index, address, prefixlen, label=label, flags=flags,
                                   preferred_lft=preferred)
    assert netlink.parse_address(body) == netlink.Address(address, prefixlen, index, flags,
                                                          label)
    attrs = netlink.parse_attributes(body, 8)
    assert attrs[netlink.IFA_ADDRESS] == address.packed
    # IPv4 carries the interface's own address as IFA_LOCAL, as `ip address add` sends it.
    assert attrs.get(netlink.IFA_LOCAL) == (address.packed if address.version == 4 else None)
    if preferred is None:
        assert netlink.IFA_CACHEINFO not in attrs
    else:  # the valid lifetime is always forever
        assert struct.unpack("=II", attrs[netlink.IFA_CACHEINFO][:8]) == (
            preferred, netlink.INFINITY_LIFE_TIME)


@given(st.integers(1, 2**31 - 1), st.text(alphabet="eth0123.-", min_size=1, max_size=15),
       st.integers(0, 2**32 - 1), macs)
def test_link_message_round_trip(index: int, name: str, flags: int, mac: bytes) -> None:
    payload = struct.pack("=BxHiII", 0, 1, index, flags, 0)
    payload += _attr(netlink.IFLA_IFNAME, name.encode() + b"\0") + _attr(netlink.IFLA_ADDRESS, mac)
    link = netlink.parse_link(payload)
    assert link == netlink.Link(index, name, flags, mac)
    assert link.up == (bool(flags & 1) and bool(flags & 0x10000))


@given(v4, st.integers(0, 32), st.integers(1, 1000))
def test_route_message_round_trip(dst: ipaddress.IPv4Address, length: int, oif: int) -> None:
    payload = struct.pack("=BBBBBBBBI", socket.AF_INET, length, 0, 0, 254, 2, 0, 1, 0)
    payload += _attr(netlink.RTA_DST, dst.packed) + _attr(netlink.RTA_OIF, struct.pack("=i", oif))
    route = netlink.parse_route(payload)
    assert route == netlink.Route(ipaddress.ip_network(f"{dst}/{length}", strict=False), oif)
    local = payload[:4] + bytes([255]) + payload[5:]
    assert netlink.parse_route(local) is None  # the local table is not for choosing a nic


@given(st.sampled_from([1, 2]), macs, v4, macs, v4)
def test_arp_round_trip(op: int, sha: bytes, spa: ipaddress.IPv4Address, tha: bytes,
                        tpa: ipaddress.IPv4Address) -> None:
    frame = announce.arp_frame(op, sha, spa, tha, tpa)
    assert len(frame) == 60
    assert announce.parse_arp(frame) == announce.ArpPacket(op, sha, spa, tha, tpa)


@given(st.binary(max_size=120))
def test_frame_parsers_never_crash(frame: bytes) -> None:
    announce.parse_arp(frame)
    announce.parse_ndp(frame)


@given(macs, macs, v4)
def test_arp_conflict_rules(own: bytes, other: bytes, vip: ipaddress.IPv4Address) -> None:
    answer = announce.ArpPacket(2, other, vip, own, announce.ANY_V4)
    probe = announce.ArpPacket(1, other, announce.ANY_V4, announce.ZERO_MAC, vip)
    mine = announce.ArpPacket(1, own, vip, announce.ZERO_MAC, vip)
    expected = other if other != own else None
    assert announce.arp_conflict(answer, vip, own) == expected
    assert announce.arp_conflict(probe, vip, own) == expected
    assert announce.arp_conflict(mine, vip, own) is None


def _ndp_frame(src_mac: bytes, source: ipaddress.IPv6Address, icmp: bytes) -> bytes:
    ipv6 = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), 58, 255, source.packed,
                       ipaddress.IPv6Address("ff02::1").packed)
    return b"\x33\x33\0\0\0\1" + src_mac + struct.pack("!H", 0x86DD) + ipv6 + icmp


@given(v6, macs, macs, v6)
def test_neighbour_advertisement_round_trip(target: ipaddress.IPv6Address, mac: bytes,
                                            own: bytes, source: ipaddress.IPv6Address) -> None:
    frame = _ndp_frame(mac, source, announce.na_message(target, mac))
    packet = announce.parse_ndp(frame)
    assert packet == announce.NdpPacket(136, mac, source == ipaddress.IPv6Address(0), target, mac)
    assert announce.ndp_conflict(packet, target, own) == (mac if mac != own else None)


@given(st.integers(1, 128))
def test_prefix_lengths(length: int) -> None:
    assert PrefixOrNetmask().parse(str(length)) == Netmask(length, dotted=False)


@given(st.integers(1, 32))
def test_dotted_netmasks(length: int) -> None:
    mask = str(ipaddress.IPv4Network(f"0.0.0.0/{length}").netmask)
    assert PrefixOrNetmask().parse(mask) == Netmask(length, dotted=True)


@given(st.integers(0, 2**32 - 2))
def test_lifetimes(seconds: int) -> None:
    assert Lifetime().parse(str(seconds)) == seconds
    assert Lifetime().parse("forever") == 2**32 - 1


junk = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=40)
PARAM_NAMES = [p.name for p in AGENT.params]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(PARAM_NAMES), junk, max_size=6))
def test_validate_all_junk_in_process(raw: dict[str, str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(AGENT, ["vip", "validate-all"], agent_env(raw), out, err)
    assert code in (0, 2, 6), err.getvalue()
    reasons = [line for line in err.getvalue().splitlines() if line.startswith("ocf-exit-reason:")]
    if code:
        assert len(reasons) == 1
        assert any(f"'{name}'" in reasons[0] for name in PARAM_NAMES), reasons
    assert "Traceback" not in err.getvalue() + out.getvalue()


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(st.sampled_from(PARAM_NAMES), junk, min_size=1, max_size=4))
def test_validate_all_junk_through_the_executable(raw: dict[str, str]) -> None:
    result = run_agent(VIP_AGENT, "validate-all", raw)
    assert result.rc in (0, 2, 6), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if result.rc:
        assert any(f"'{name}'" in result.reason for name in PARAM_NAMES)
