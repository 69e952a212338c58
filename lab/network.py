"""The lab's network: namespaces, the hub bridge, veth links, partitions (via ``ip``).

Every link is created inside a lab namespace (a veth is made in the hub and its peer moved
straight into the node), so nothing ever appears in the host's own namespace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab.layout import BRIDGE, BRIDGE_MAC, NODE_IF, LabLayout, LabNode

NETNS_DIR = Path("/run/netns")


def link_mac(link_json: str) -> Optional[str]:
    """The address in ``ip -json link show DEV`` output, lower case (pure)."""
    try:
        links = json.loads(link_json) if link_json.strip() else []
    except ValueError:
        return None
    if isinstance(links, list) and links and isinstance(links[0], dict):
        addr = links[0].get("address")
        return str(addr).lower() if isinstance(addr, str) else None
    return None


def bridge_mac(runner: Runner, deadline: Deadline, layout: LabLayout) -> Optional[str]:
    """The hub bridge's MAC address."""
    return link_mac(runner.run(["ip", "-n", layout.hub_netns, "-json", "link", "show",
                                BRIDGE], deadline).stdout)


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def add_netns(runner: Runner, deadline: Deadline, name: str) -> None:
    """Create namespace ``name`` with its loopback up."""
    runner.run(["ip", "netns", "add", name], deadline)
    runner.run(["ip", "-n", name, "link", "set", "lo", "up"], deadline)


def delete_netns(runner: Runner, deadline: Deadline, name: str) -> None:
    """Delete namespace ``name`` (and the links in it) if it exists."""
    if netns_exists(name):
        runner.run(["ip", "netns", "delete", name], deadline)


def netns_pids(runner: Runner, deadline: Deadline, name: str) -> list[int]:
    """PIDs of the live processes in namespace ``name`` (none when it does not exist)."""
    if not netns_exists(name):
        return []
    out = runner.run(["ip", "netns", "pids", name], deadline, check=False).stdout
    return [int(p) for p in out.split()]


def build_hub(runner: Runner, deadline: Deadline, layout: LabLayout) -> None:
    """The hub namespace with the bridge every node plugs into, and the hub's address."""
    hub = layout.hub_netns
    add_netns(runner, deadline, hub)
    runner.run(["ip", "-n", hub, "link", "add", BRIDGE, "type", "bridge"], deadline)
    runner.run(["ip", "-n", hub, "link", "set", BRIDGE, "address", BRIDGE_MAC], deadline)
    runner.run(["ip", "-n", hub, "addr", "add", str(layout.hub_address), "dev", BRIDGE],
               deadline)
    # nodad: the address is usable at once instead of after duplicate detection.
    runner.run(["ip", "-n", hub, "addr", "add", str(layout.hub_address6), "dev", BRIDGE,
                "nodad"], deadline)
    runner.run(["ip", "-n", hub, "link", "set", BRIDGE, "up"], deadline)


def attach_node(runner: Runner, deadline: Deadline, layout: LabLayout, node: LabNode) -> None:
    """The node's namespace, linked to the hub bridge by a veth, with its address."""
    hub = layout.hub_netns
    add_netns(runner, deadline, node.netns)
    runner.run(["ip", "-n", hub, "link", "add", node.port, "type", "veth",
                "peer", "name", NODE_IF, "netns", node.netns], deadline)
    runner.run(["ip", "-n", hub, "link", "set", node.port, "master", BRIDGE], deadline)
    runner.run(["ip", "-n", hub, "link", "set", node.port, "up"], deadline)
    runner.run(["ip", "-n", node.netns, "addr", "add", str(node.address), "dev", NODE_IF],
               deadline)
    runner.run(["ip", "-n", node.netns, "addr", "add", str(node.address6), "dev", NODE_IF,
                "nodad"], deadline)
    runner.run(["ip", "-n", node.netns, "link", "set", NODE_IF, "up"], deadline)


def unplug(runner: Runner, deadline: Deadline, node: LabNode) -> None:
    """A powered-off machine answers nothing: eth0 down and without addresses (its kernel
    would otherwise keep answering ARP for a VIP the node held when it died)."""
    if not netns_exists(node.netns):
        return
    runner.run(["ip", "-n", node.netns, "link", "set", NODE_IF, "down"], deadline, check=False)
    runner.run(["ip", "-n", node.netns, "addr", "flush", "dev", NODE_IF], deadline, check=False)


def plug(runner: Runner, deadline: Deadline, node: LabNode) -> None:
    """The node's eth0 configured again at power-on (after ``unplug``); idempotent."""
    have = runner.run(["ip", "-n", node.netns, "-o", "addr", "show", "dev", NODE_IF],
                      deadline).stdout
    if f" {node.address} " not in have:
        runner.run(["ip", "-n", node.netns, "addr", "add", str(node.address), "dev", NODE_IF],
                   deadline)
    if f" {node.address6} " not in have:
        runner.run(["ip", "-n", node.netns, "addr", "add", str(node.address6), "dev", NODE_IF,
                    "nodad"], deadline)
    runner.run(["ip", "-n", node.netns, "link", "set", NODE_IF, "up"], deadline)


def partition(runner: Runner, deadline: Deadline, layout: LabLayout, node: LabNode) -> None:
    """Cut the node off the bridge, as a failed switch port would.

    The port is detached from the bridge rather than set down, so the node keeps carrier
    and its address: corosync sees only silence, as on a real partition.
    """
    runner.run(["ip", "-n", layout.hub_netns, "link", "set", node.port, "nomaster"], deadline)


def heal(runner: Runner, deadline: Deadline, layout: LabLayout, node: LabNode) -> None:
    """Plug the node's port back into the bridge."""
    runner.run(["ip", "-n", layout.hub_netns, "link", "set", node.port, "master", BRIDGE],
               deadline)


def is_partitioned(runner: Runner, deadline: Deadline, layout: LabLayout,
                   node: LabNode) -> bool:
    """True when the node's port is not on the bridge."""
    out = runner.run(["ip", "-n", layout.hub_netns, "-o", "link", "show", node.port],
                     deadline).stdout
    return f"master {BRIDGE} " not in out
