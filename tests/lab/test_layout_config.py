"""Lab layout and the files a node boots from (pure; hypothesis)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.config import corosync_conf, seed_cib
from lab.layout import LAB_RANGE, make_layout

EMPTY_CIB = """<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1"
 num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes/><resources/>
 <constraints/></configuration><status/></cib>"""

names = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
subnets = st.builds(
    lambda addr, prefix: IPv4Network(f"{addr}/{prefix}", strict=False),
    st.ip_addresses(v=4, network=LAB_RANGE), st.integers(min_value=16, max_value=26))


@given(name=names, subnet=subnets, count=st.integers(min_value=1, max_value=16))
def test_layout_stays_inside_its_subnet_and_names(name: str, subnet: IPv4Network,
                                                   count: int) -> None:
    lay = make_layout(name, Path("/x"), subnet, count)
    addresses = [n.address.ip for n in lay.nodes] + [lay.hub_address.ip]
    assert len(set(addresses)) == count + 1
    for addr in addresses:
        assert addr in subnet
        assert addr != subnet.network_address
        assert addr != subnet.broadcast_address
    addresses6 = [n.address6.ip for n in lay.nodes] + [lay.hub_address6.ip]
    assert len(set(addresses6)) == count + 1
    assert all(a in IPv6Network("fd00::/8") for a in addresses6)
    for n in lay.nodes:
        assert n.netns.startswith(f"{name}-")
        assert len(n.netns) <= 15 and len(n.port) <= 15  # interface/namespace name limits
        assert n.dir.parent.parent == Path("/x")


@pytest.mark.parametrize("subnet", ["10.0.0.0/24", "198.20.0.0/24", "198.16.0.0/14"])
def test_layout_refuses_addresses_outside_the_lab_range(subnet: str) -> None:
    with pytest.raises(ValueError, match="outside"):
        make_layout("lab", Path("/x"), IPv4Network(subnet))


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab-x", "toolongname", "a/b"])
def test_layout_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="lab name"):
        make_layout(name, Path("/x"))


def test_layout_node_lookup_names_known_nodes() -> None:
    lay = make_layout()
    assert lay.node("n2").nodeid == 2
    with pytest.raises(KeyError, match="n1, n2, n3"):
        lay.node("n9")


LINE = re.compile(r"^ *([a-z_]+ \{|\}|[a-z_0-9]+: \S+)$")


@given(name=names, subnet=subnets, count=st.integers(min_value=1, max_value=16))
def test_corosync_conf_has_one_key_per_line(name: str, subnet: IPv4Network,
                                            count: int) -> None:
    lay = make_layout(name, Path("/x"), subnet, count)
    text = corosync_conf(f"{name}-lab", lay.nodes)
    lines = text.splitlines()
    assert all(LINE.match(line) for line in lines), text
    assert sum(line.count("{") for line in lines) == sum(line.count("}") for line in lines)
    for n in lay.nodes:
        assert f"        ring0_addr: {n.address.ip}" in lines
        assert f"        nodeid: {n.nodeid}" in lines
        assert f"        name: {n.name}" in lines
    assert "    transport: knet" in lines
    assert "    to_syslog: no" in lines


xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@given(props=st.dictionaries(st.from_regex(r"[a-z][a-z-]{0,20}", fullmatch=True), xml_text,
                             max_size=5))
def test_seed_cib_carries_every_property(props: dict[str, str]) -> None:
    root = ET.fromstring(seed_cib(EMPTY_CIB, props))  # noqa: S314 - our own output
    pairs = root.findall("configuration/crm_config/cluster_property_set/nvpair")
    assert {p.get("name"): p.get("value") for p in pairs} == props
    assert len({p.get("id") for p in pairs}) == len(pairs)
    assert root.get("validate-with") == "pacemaker-3.9"


def test_seed_cib_refuses_a_cib_without_crm_config() -> None:
    with pytest.raises(ValueError, match="crm_config"):
        seed_cib("<cib><configuration/></cib>", {"a": "b"})
