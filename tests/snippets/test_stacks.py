"""The configuration builders, checked on the neutral model (no Pacemaker needed)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from hakit.snippets import stacks
from hakit.snippets.inputs import Image
from hakit.snippets.model import Colocation, FencingLevel, Group, Location, Primitive


def test_stack_group_order_and_device() -> None:
    spec = stacks.StackSpec("web", Image("rbd", "web"), ipaddress.ip_interface("198.18.0.10/24"))
    group = stacks.stack_group(spec)
    assert [m.id for m in group.members] == ["web-rbd", "web-fs", "web-lxc", "web-vip"]
    fs = dict(group.members[1].params)
    assert fs["device"] == "/dev/hakit/rbd/web"
    assert fs["directory"] == "/var/lib/lxc/web"
    assert dict(group.meta)["migration-threshold"] == "3"


def test_monitor_intervals_are_distinct_per_resource() -> None:
    """Pacemaker identifies a recurring operation by name and interval."""
    for ops in (stacks.RBD_OPS, stacks.FS_OPS, stacks.LXC_OPS, stacks.VIP_OPS):
        monitors = [op.interval for op in ops if op.name == "monitor"]
        assert len(monitors) == len(set(monitors))


def test_fencing_levels_only_with_redfish() -> None:
    bmcs = (("n1", ipaddress.ip_address("198.18.1.1")),
            ("n2", ipaddress.ip_address("198.18.1.2")))
    plain = stacks.fencing(bmcs, "hakit", "/etc/pw")
    assert not [i for i in plain.items if isinstance(i, FencingLevel)]
    avoid = {(i.rsc, i.node, i.score) for i in plain.items if isinstance(i, Location)}
    assert avoid == {("fence-n1", "n1", "-INFINITY"), ("fence-n2", "n2", "-INFINITY")}
    both = stacks.fencing(bmcs, "hakit", "/etc/pw",
                          (("n2", ipaddress.ip_address("198.18.2.2")),))
    levels = [(i.node, i.index, i.devices) for i in both.items if isinstance(i, FencingLevel)]
    assert levels == [("n2", 1, ("fence-n2",)), ("n2", 2, ("fence-n2-redfish",))]
    for item in both.items:  # the password never enters the configuration
        if isinstance(item, Primitive):
            assert "password" not in dict(item.params)


@given(st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=12))
def test_spread_is_round_robin(n_nodes: int, n_names: int) -> None:
    nodes = tuple(f"n{i}" for i in range(1, n_nodes + 1))
    names = tuple(f"c{i}" for i in range(n_names))
    config = stacks.placement(nodes, (), (), names)
    prefs = [(i.rsc, i.node) for i in config.items if isinstance(i, Location)]
    assert prefs == [(f"c{i}-stack", nodes[i % n_nodes]) for i in range(n_names)]
    counts = [sum(1 for _, n in prefs if n == node) for node in nodes]
    assert max(counts) - min(counts) <= 1


def test_load_balancer_colocations_outweigh_stickiness() -> None:
    """The VIP must leave a node whose balancer left: each colocation with a balancer scores
    more than the VIP's stickiness."""
    backends = (stacks.StackSpec("lb1", Image("rbd", "lb1")),
                stacks.StackSpec("lb2", Image("rbd", "lb2")))
    config = stacks.load_balancer("lb", ipaddress.ip_interface("198.18.0.20/24"), None,
                                  backends, ("n1", "n2"))
    vip = next(i for i in config.items if isinstance(i, Primitive))
    stickiness = int(dict(vip.meta)["resource-stickiness"])
    withs = [i for i in config.items if isinstance(i, Colocation) and i.rsc == "lb-vip"]
    assert len(withs) == 2 and all(int(c.score) > stickiness for c in withs)
    groups = [i for i in config.items if isinstance(i, Group)]
    assert [m.id for m in groups[0].members] == ["lb1-rbd", "lb1-fs", "lb1-lxc"]
