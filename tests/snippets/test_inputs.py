"""The generator's input checks: pure parsers, examples and properties (hypothesis)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.snippets import inputs

PARSERS = [inputs.name, inputs.node, inputs.node_list, inputs.name_list, inputs.image,
           inputs.interface, inputs.node_address, inputs.name_image, inputs.name_node,
           inputs.nic, inputs.absolute_path, inputs.command_line, inputs.ceph_user]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
@given(raw=st.text(max_size=80))
def test_parsers_raise_only_value_error(parse: object, raw: str) -> None:
    """Any text either parses or raises ValueError with a message (never another error)."""
    try:
        parse(raw)  # type: ignore[operator]
    except ValueError as exc:
        assert str(exc)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,47}", fullmatch=True))
def test_valid_names_round_trip(raw: str) -> None:
    assert inputs.name(raw) == raw


@pytest.mark.parametrize("raw", ["", "9web", "web app", "a" * 49, "web/x", "wéb", "-web",
                                 "web\n"])
def test_bad_names(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid name"):
        inputs.name(raw)


def test_node_list() -> None:
    assert inputs.node_list("n1,n2, n3") == ("n1", "n2", "n3")
    assert inputs.node_list("a.example.org") == ("a.example.org",)
    with pytest.raises(ValueError, match="listed twice"):
        inputs.node_list("n1,n2,n1")
    for bad in ("", "n1,", "n_1", "-n1", "n1..x"):
        with pytest.raises(ValueError, match="not a valid node name"):
            inputs.node_list(bad)


def test_image() -> None:
    assert inputs.image("rbd/web") == inputs.Image("rbd", "web")
    assert str(inputs.image("rbd/web")) == "rbd/web"
    for bad in ("web", "rbd/", "/web", "rbd/ns/web", "rbd/web@snap", "rbd/we b"):
        with pytest.raises(ValueError, match="POOL/IMAGE"):
            inputs.image(bad)


@pytest.mark.parametrize("raw", ["198.18.0.10/24", "fd00::10/64", "198.18.0.1/32",
                                 "198.18.0.1/31"])
def test_good_interfaces(raw: str) -> None:
    assert inputs.interface(raw) == ipaddress.ip_interface(raw)


@pytest.mark.parametrize(("raw", "why"), [
    ("198.18.0.10", "no prefix length"),
    ("198.18.0.300/24", "not an IPv4 or IPv6"),
    ("198.18.0.10/33", "not an IPv4 or IPv6"),
    ("web/24", "not an IPv4 or IPv6"),
    ("198.18.0.0/24", "network or broadcast"),
    ("198.18.0.255/24", "network or broadcast"),
    ("127.0.0.2/8", "cannot be a floating"),
    ("224.0.0.5/24", "cannot be a floating"),
    ("0.0.0.0/0", "cannot be a floating"),
    ("fe80::1/64", "cannot be a floating"),
])
def test_bad_interfaces(raw: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        inputs.interface(raw)


@given(st.ip_addresses(v=4), st.integers(min_value=8, max_value=30))
def test_interface_keeps_address_and_prefix(address: ipaddress.IPv4Address,
                                            prefix: int) -> None:
    raw = f"{address}/{prefix}"
    try:
        value = inputs.interface(raw)
    except ValueError:
        return
    assert value.ip == address
    assert value.network.prefixlen == prefix


def test_pairs() -> None:
    assert inputs.node_address("n1=198.18.1.1") == ("n1", ipaddress.ip_address("198.18.1.1"))
    assert inputs.name_image("lb1=rbd/lb1") == ("lb1", inputs.Image("rbd", "lb1"))
    assert inputs.name_node("web=n1") == ("web", "n1")
    with pytest.raises(ValueError, match="NODE=ADDRESS"):
        inputs.node_address("n1")
    with pytest.raises(ValueError, match="not an IP address"):
        inputs.node_address("n1=bmc1")
    with pytest.raises(ValueError, match="NAME=NODE"):
        inputs.name_node("web")


def test_command_line_and_paths() -> None:
    assert inputs.command_line("/usr/bin/curl -fsS http://127.0.0.1/").startswith("/usr")
    for bad in ("", "   ", "a\nb", 'echo "x"', "a\\b"):
        with pytest.raises(ValueError):
            inputs.command_line(bad)
    assert inputs.absolute_path("/etc/hakit/pw") == "/etc/hakit/pw"
    for bad in ("etc/x", "/a b", ""):
        with pytest.raises(ValueError, match="absolute path"):
            inputs.absolute_path(bad)
