"""mon_host: an IPv4 address only as four decimal numbers (getaddrinfo hands 1.5 to
inet_aton, which reads it as 1.0.0.5), every other host a host name; pure, hypothesis."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.errors import ParamError
from hakit.formats import monhost
from hakit.steps.rbd.config import MON_HOST

OCTET = st.integers(min_value=0, max_value=255)
PORT = st.integers(min_value=1, max_value=65535)


def _shorthand() -> st.SearchStrategy[str]:
    """Forms inet_aton accepts that are not a dotted quad: 1 to 3 parts, octal, hex."""
    short = st.lists(st.integers(min_value=0, max_value=2**24 - 1), min_size=1,
                     max_size=3).map(lambda parts: ".".join(map(str, parts)))
    octal = st.lists(OCTET, min_size=4, max_size=4).map(
        lambda parts: ".".join([f"0{parts[0]:o}", *map(str, parts[1:])]))
    hexed = st.lists(OCTET, min_size=1, max_size=4).map(
        lambda parts: ".".join(f"0x{p:x}" for p in parts))
    return st.one_of(short, octal, hexed)


@given(host=_shorthand(), port=st.none() | PORT, v2=st.booleans())
def test_shorthand_ipv4_is_refused(host: str, port: int | None, v2: bool) -> None:
    item = ("v2:" if v2 else "") + host + (f":{port}" if port else "")
    with pytest.raises(ParamError, match="four decimal numbers"):
        MON_HOST.parse(f"198.18.0.1:6789,{item}")


@given(addresses=st.lists(st.tuples(st.ip_addresses(), st.none() | PORT,
                                    st.sampled_from(["", "v1:", "v2:"])), min_size=1,
                          max_size=3),
       separator=st.sampled_from([",", " ", ";", ", "]))
def test_full_addresses_are_accepted(
        addresses: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | None, str]],
        separator: str) -> None:
    items = []
    for address, port, prefix in addresses:
        host = f"[{address}]" if address.version == 6 and port else str(address)
        items.append(prefix + host + (f":{port}" if port else ""))
    text = separator.join(items)
    assert MON_HOST.parse(text) == text


@pytest.mark.parametrize("good", ["mon1.example.org", "mon-a:6789 mon-b:6789",
                                  "[v2:198.18.0.1:3300,v1:198.18.0.1:6789]",
                                  "v2:198.18.0.1:3300/0", "fe80::1%eth0"])
def test_examples_accepted(good: str) -> None:
    assert monhost.parse(good) == good


@pytest.mark.parametrize("bad", ["1.5", "127.1", "0x7f000001", "mon.123", "x;rm -rf /",
                                 "198.18.0.1:0", "[fd00::1", "[198.18.0.1]:6789",
                                 "fe80::1%$(reboot)", "host_:99999", ""])
def test_examples_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        monhost.parse(bad)


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        monhost.parse(text)
    except ValueError as exc:
        assert str(exc)
